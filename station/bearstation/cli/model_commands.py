"""``bear-station model publish`` and ``model status``: rolling a model out to the boxes."""

from __future__ import annotations

from pathlib import Path

import click

from bearstation.cli.group import main
from bearstation.cli.options import open_database, station_options
from bearstation.config import StationConfig
from bearstation.media.store import MediaStore
from bearstation.rollout.files import ModelFiles
from bearstation.rollout.publish import publish_model
from bearstation.rollout.status import box_models_status, describe, published


@main.group("model")
def model_group() -> None:
    """Publish a model to the boxes, and see which box runs which."""


@model_group.command("publish")
@click.argument("model", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option(
    "--to",
    "to",
    multiple=True,
    metavar="BOX",
    help="A box to offer it to (repeatable; default: every box the station knows).",
)
@station_options
def publish_command(model: Path, to: tuple[str, ...], cfg: StationConfig) -> None:
    """Offer MODEL (an ONNX embedder with its bear-export card) to the boxes.

    Each box fetches it, checks it against its SHA-256 and card, re-embeds its gallery and
    switches; or refuses it and keeps its model. `bear-station run` must be running to
    reach the boxes. Publishing the previous model again rolls back.
    """
    store = MediaStore.from_config(cfg.media, cfg.station.database)
    engine = open_database(cfg)
    try:
        done = publish_model(engine, ModelFiles(store.root), model, to)
    finally:
        engine.dispose()
    click.echo(f"published {done.name} ({done.sha256[:12]}, {done.size:,} bytes) as {done.path}")
    click.echo(f"offered to {', '.join(done.boxes)}")
    if done.running:
        click.echo(f"already running it: {', '.join(done.running)}")


@model_group.command("status")
@station_options
def status_command(cfg: StationConfig) -> None:
    """Which box runs which model; offers in progress and refused (with the reason)."""
    engine = open_database(cfg)
    try:
        with engine.connect() as conn:
            boxes = box_models_status(conn)
            models = published(conn)
    finally:
        engine.dispose()
    click.echo(f"published models: {len(models)}")
    for name, sha, size, at in models:
        click.echo(f"  {name} ({sha[:12]}, {size:,} bytes), published {at:%Y-%m-%d %H:%M:%S} UTC")
    click.echo(f"boxes: {len(boxes)}")
    for box in boxes:
        click.echo(f"  {describe(box)}")
