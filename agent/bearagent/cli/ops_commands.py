"""``bearagent status``, ``embed`` and ``identify``: looking at a running agent, one-off use."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from bearagent.chips import decode_chip, preprocess_batch
from bearagent.cli.group import main
from bearagent.cli.options import config_options
from bearagent.config import AgentConfig
from bearagent.matching.decision import decide, threshold_for
from bearagent.matching.index import GalleryIndex
from bearagent.pipeline.statusfile import read_status, status_path
from bearagent.runtime import RuntimeConfig, open_embedder
from bearagent.runtime.base import Embedder
from bearagent.status import database_status


def _embed_files(embedder: Embedder, files: tuple[Path, ...], max_pixels: int) -> Any:
    images = [decode_chip(f.read_bytes(), source=str(f), max_pixels=max_pixels) for f in files]
    return embedder.embed(preprocess_batch(images, embedder.card.input))


def _one_off_embedder(cfg: AgentConfig) -> Embedder:
    runtime: RuntimeConfig = cfg.runtime.model_copy(update={"warm_up": False})
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
        vectors = _embed_files(embedder, files, cfg.watch.max_pixels)
    for path, vector in zip(files, vectors, strict=True):
        click.echo(
            json.dumps({"file": str(path), "embedding": [round(float(x), 6) for x in vector]})
        )


@main.command("identify")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(path_type=Path, exists=True, dir_okay=False)
)
@click.option("--top-k", default=5, show_default=True, help="Candidates to list per file.")
@config_options
def identify_command(files: tuple[Path, ...], top_k: int, cfg: AgentConfig) -> None:
    """Match each FILE against the gallery; print the decision and top-k as JSON lines."""
    from bearagent.gallery.schema import open_gallery

    with _one_off_embedder(cfg) as embedder:
        vectors = _embed_files(embedder, files, cfg.watch.max_pixels)
        card = embedder.card
    db = open_gallery(cfg.agent.database_path)
    index = GalleryIndex(db, card.model.sha256 or "", card.model.name)
    threshold = threshold_for(card, cfg.encounter.threshold)
    for path, candidates in zip(files, index.search(vectors, top_k), strict=True):
        decision = decide(candidates, threshold)
        click.echo(
            json.dumps(
                {
                    "file": str(path),
                    "outcome": decision.outcome,
                    "individual_id": decision.individual_id,
                    "name": decision.name,
                    "similarity": decision.similarity,
                    "threshold": threshold,
                    "top_k": [
                        {
                            "individual_id": c.individual_id,
                            "name": c.name,
                            "similarity": round(c.similarity, 4),
                        }
                        for c in candidates
                    ],
                }
            )
        )
