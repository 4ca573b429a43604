"""``bear-station media usage``: what the media folder and the database hold."""

from __future__ import annotations

import click
from sqlalchemy import func, select

from bearstation.cli.group import main
from bearstation.cli.options import open_database, station_options
from bearstation.config import StationConfig
from bearstation.media.store import MediaStore
from bearstation.tables import chip_media, media


@main.group("media")
def media_group() -> None:
    """The chips' bytes the station keeps (the media folder)."""


@media_group.command("usage")
@station_options
def usage_command(cfg: StationConfig) -> None:
    """Files and bytes in the media folder, and the chips the database knows there."""
    store = MediaStore.from_config(cfg.media, cfg.station.database)
    engine = open_database(cfg)
    try:
        with engine.connect() as conn:
            rows, size = conn.execute(
                select(func.count(), func.coalesce(func.sum(media.c.size), 0))
            ).one()
            chips = conn.execute(select(func.count()).select_from(chip_media)).scalar_one()
    finally:
        engine.dispose()
    on_disk = store.usage()
    click.echo(f"media folder: {store.root}")
    click.echo(f"files: {on_disk.files} ({_size(on_disk.bytes)})")
    click.echo(f"database: {rows} stored files ({_size(int(size))}) for {chips} box chips")
    if on_disk.files < rows:
        click.echo(
            f"warning: {rows - on_disk.files} files the database lists are missing from the "
            "folder (moved or deleted?)"
        )


def _size(n: int) -> str:
    """``12,345,678 bytes, 11.8 MiB``."""
    return f"{n:,} bytes, {n / 2**20:.1f} MiB"
