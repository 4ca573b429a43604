"""``bearagent run``, ``check-config`` and ``config-reference``: the agent and its configuration."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from bearagent.app import Agent
from bearagent.cli.group import main
from bearagent.cli.options import CONFIG_HELP, SET_HELP, toml_string
from bearagent.config import AgentConfig, ConfigError, load_config
from bearagent.config.reference import render_reference
from bearagent.logs import configure_logging
from bearagent.runtime.allocator import compact_allocator


def build_config(
    config: Path | None,
    sets: tuple[str, ...],
    *,
    watch: tuple[Path, ...] = (),
    model: Path | None = None,
    database: Path | None = None,
    state_dir: Path | None = None,
    agent_id: str | None = None,
    mqtt_host: str | None = None,
    mqtt_port: int | None = None,
    detector: Path | None = None,
) -> AgentConfig:
    """Config file, then the dedicated flags, then ``--set`` (the most specific wins)."""
    flags = [f"agent.state_dir={toml_string(state_dir)}"] if state_dir else []
    flags += [f"agent.database={toml_string(database)}"] if database else []
    flags += [f"runtime.model={toml_string(model)}"] if model else []
    flags += [f"agent.id={toml_string(agent_id)}"] if agent_id else []
    flags += [f"mqtt.host={toml_string(mqtt_host)}"] if mqtt_host else []
    flags += [f"mqtt.port={mqtt_port}"] if mqtt_port else []
    flags += [f"detector.model={toml_string(detector)}"] if detector else []
    cfg = load_config(AgentConfig, config, [*flags, *sets])
    if watch:
        roots = [*cfg.watch.roots, *(p for p in watch if p not in cfg.watch.roots)]
        cfg = cfg.model_copy(update={"watch": cfg.watch.model_copy(update={"roots": roots})})
    return cfg


@main.command("run")
@click.option(
    "--config", "config", type=click.Path(path_type=Path, dir_okay=False), help=CONFIG_HELP
)
@click.option(
    "--watch",
    multiple=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="A folder to watch, recursively (repeatable; added to watch.roots).",
)
@click.option("--model", type=click.Path(path_type=Path, dir_okay=False), help="runtime.model")
@click.option(
    "--db", "database", type=click.Path(path_type=Path, dir_okay=False), help="agent.database"
)
@click.option(
    "--state-dir", type=click.Path(path_type=Path, file_okay=False), help="agent.state_dir"
)
@click.option("--agent-id", help="agent.id (the MQTT topic level)")
@click.option("--mqtt-host", help="mqtt.host")
@click.option("--mqtt-port", type=int, help="mqtt.port")
@click.option(
    "--detector",
    type=click.Path(path_type=Path, dir_okay=False),
    help="detector.model: a face detector (ONNX + card); the watch roots then hold "
    "camera-trap frames and clips (docs/detector.md).",
)
@click.option(
    "--no-mqtt", is_flag=True, help="Print events as JSON lines instead (agent.publisher=stdout)."
)
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help=SET_HELP)
def run_command(
    config: Path | None,
    watch: tuple[Path, ...],
    model: Path | None,
    database: Path | None,
    state_dir: Path | None,
    agent_id: str | None,
    mqtt_host: str | None,
    mqtt_port: int | None,
    no_mqtt: bool,
    detector: Path | None,
    sets: tuple[str, ...],
) -> None:
    """Watch camera-trap folders, recognise bears, publish sightings over MQTT.

    Runs until SIGTERM or Ctrl-C, then finishes its batch, sends what it can and
    publishes 'offline'.
    """
    cfg = build_config(
        config,
        ('agent.publisher="stdout"', *sets) if no_mqtt else sets,
        watch=watch,
        model=model,
        database=database,
        state_dir=state_dir,
        agent_id=agent_id,
        mqtt_host=mqtt_host,
        mqtt_port=mqtt_port,
        detector=detector,
    )
    configure_logging(cfg.agent.log_level)
    # Process-wide and before any thread starts: so here, not in Agent.
    if cfg.agent.compact_memory and (applied := compact_allocator()):
        logging.getLogger("bearagent").info("allocator: %s", ", ".join(applied))
    agent = Agent(cfg)
    agent.handle_signals()
    agent.start()
    agent.wait()


@main.command("check-config")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help=SET_HELP)
def check_config_command(file: Path, sets: tuple[str, ...]) -> None:
    """Check a configuration file; print every problem with its key and value."""
    try:
        cfg = load_config(AgentConfig, file, list(sets))
    except ConfigError as e:
        for problem in e.problems:
            click.echo(f"{e.source}: {problem}", err=True)
        raise SystemExit(1) from e
    click.echo(
        f"{file}: ok (agent {cfg.agent.id}, {len(cfg.watch.roots)} watch roots, "
        f"model {cfg.runtime.model}, broker {cfg.mqtt.host}:{cfg.mqtt.port})"
    )


@main.command("config-reference")
def config_reference_command() -> None:
    """Print the configuration reference (Markdown), generated from the schema."""
    click.echo(render_reference(AgentConfig, "bearagent configuration reference"))
