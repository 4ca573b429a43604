"""``bearagent status``, ``embed`` and ``identify``: looking at a running agent, one-off use."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from bearagent.cli.group import main
from bearagent.cli.options import config_options
from bearagent.config import AgentConfig
from bearagent.identify import embed_paths, identify_files
from bearagent.pipeline.statusfile import read_status, status_path
from bearagent.rollout.switch import model_in_use
from bearagent.runtime import RuntimeConfig, open_embedder
from bearagent.runtime.base import Embedder
from bearagent.status import database_status


def _one_off_embedder(cfg: AgentConfig) -> Embedder:
    in_use = model_in_use(cfg.runtime, cfg.agent.database_path)  # after a rollout: its model
    runtime: RuntimeConfig = in_use.model_copy(update={"warm_up": False})
    return open_embedder(runtime)


@main.command("status")
@config_options
def status_command(cfg: AgentConfig) -> None:
    """What the agent has done: files, sightings, outbox, last events, live counters."""
    report: dict[str, Any] = database_status(cfg.agent.database_path)
    live = read_status(status_path(cfg.agent.database_path))
    report["live"] = live if live is not None else "no status file: is the agent running?"
    click.echo(json.dumps(report, indent=2, default=str))


@main.command("embed")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(path_type=Path, exists=True, dir_okay=False)
)
@config_options
def embed_command(files: tuple[Path, ...], cfg: AgentConfig) -> None:
    """Print the embedding of each FILE as a JSON line."""
    with _one_off_embedder(cfg) as embedder:
        vectors = embed_paths(embedder, list(files), cfg.watch.max_pixels)
    for path, vector in zip(files, vectors, strict=True):
        click.echo(
            json.dumps({"file": str(path), "embedding": [round(float(x), 6) for x in vector]})
        )


@main.command("identify")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(path_type=Path, exists=True, dir_okay=False)
)
@click.option("--top-k", default=5, show_default=True, help="Candidates to list per file.")
@click.option(
    "--encounter",
    is_flag=True,
    help="Decide the files as ONE encounter (the mean of their embeddings), as the agent "
    "decides a track.",
)
@config_options
def identify_command(
    files: tuple[Path, ...], top_k: int, encounter: bool, cfg: AgentConfig
) -> None:
    """Decide each FILE known / review / unknown as the agent would; print JSON lines.

    The rule in force is the agent's: decision.* in the config, else the thresholds
    calibrated on this gallery, else the model card's.
    """
    in_force, results = identify_files(cfg, list(files), top_k=top_k, encounter=encounter)
    click.echo(f"# {in_force.rule.describe()}; {in_force.why}", err=True)
    for result in results:
        click.echo(json.dumps(result.as_json()))
