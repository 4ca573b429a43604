"""Options every agent command shares: where the configuration, database and model are."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from bearagent.config import AgentConfig, load_config

F = TypeVar("F", bound=Callable[..., Any])

CONFIG_HELP = (
    "TOML configuration file (e.g. /etc/bearagent/config.toml). Without it, defaults apply."
)
SET_HELP = "Override any configuration key, e.g. --set mqtt.port=8883 (repeatable)."


def toml_string(value: object) -> str:
    """A value as a TOML string literal (paths and names may hold anything)."""
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def config_options(func: F) -> F:
    """--config, --db, --model and --set, resolved into an `AgentConfig` argument ``cfg``."""

    @click.option(
        "--config",
        "config_file",
        type=click.Path(path_type=Path, dir_okay=False),
        envvar="BEARAGENT_CONFIG",
        help=CONFIG_HELP,
    )
    @click.option(
        "--db",
        "database",
        type=click.Path(path_type=Path, dir_okay=False),
        help="agent.database: the agent's SQLite file (gallery, ledger, sightings).",
    )
    @click.option(
        "--model",
        type=click.Path(path_type=Path, dir_okay=False),
        help="runtime.model: the exported ONNX embedder.",
    )
    @click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help=SET_HELP)
    def wrapper(
        *args: Any,
        config_file: Path | None,
        database: Path | None,
        model: Path | None,
        sets: tuple[str, ...],
        **kwargs: Any,
    ) -> Any:
        flags = [f"agent.database={toml_string(database)}"] if database else []
        flags += [f"runtime.model={toml_string(model)}"] if model else []
        cfg = load_config(AgentConfig, config_file, [*flags, *sets])
        return func(*args, cfg=cfg, **kwargs)

    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper  # type: ignore[return-value]
