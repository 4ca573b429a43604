"""``bear-station export camtrap-dp``, ``export capture-history`` and ``report``."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from bearstation.cli.group import main
from bearstation.cli.options import open_database, station_options
from bearstation.config import StationConfig
from bearstation.exports.camtrap_dp import export_camtrap_dp
from bearstation.exports.capture_history import export_capture_history
from bearstation.report import write_report


@main.group("export")
def export() -> None:
    """Export the station's data for analysis."""


@export.command("camtrap-dp")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
@station_options
def camtrap_dp(cfg: StationConfig, directory: Path) -> None:
    """Write a Camtrap DP 1.0 package (datapackage.json, deployments.csv, media.csv,
    observations.csv) into DIRECTORY. Every camera needs coordinates: see 'locate'."""
    engine = open_database(cfg)
    try:
        summary = export_camtrap_dp(engine, directory, cfg.export)
    finally:
        engine.dispose()
    click.echo(
        f"wrote {directory}: {summary.deployments} deployments, {summary.media} media, "
        f"{summary.observations} observations"
    )


@export.command("capture-history")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--occasion",
    type=click.Choice(["day", "week"]),
    default="day",
    show_default=True,
    help="One column per day, or per ISO week (Monday to Sunday).",
)
@click.option(
    "--from",
    "first",
    type=click.DateTime(["%Y-%m-%d"]),
    help="First occasion (default: the first detection).",
)
@click.option(
    "--to", "last", type=click.DateTime(["%Y-%m-%d"]), help="Last occasion (default: the last)."
)
@click.option("--named-only", is_flag=True, help="Leave out provisional individuals.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "mark"]),
    default="csv",
    show_default=True,
    help="csv: individual,occasion...; mark: MARK's .inp lines ('0101 1;').",
)
@station_options
def capture_history(
    cfg: StationConfig,
    file: Path,
    occasion: str,
    first: date | None,
    last: date | None,
    named_only: bool,
    fmt: str,
) -> None:
    """Write the individual x occasion detection matrix (0/1) to FILE: one row per
    individual across the fleet (links and shared names count), in local camera time."""
    engine = open_database(cfg)
    try:
        history = export_capture_history(
            engine,
            file,
            "week" if occasion == "week" else "day",
            first=first.date() if first else None,  # type: ignore[attr-defined]
            last=last.date() if last else None,  # type: ignore[attr-defined]
            named_only=named_only,
            fmt="mark" if fmt == "mark" else "csv",
        )
    finally:
        engine.dispose()
    click.echo(
        f"wrote {file}: {len(history.rows)} individuals x {len(history.occasions)} occasions"
    )


@main.command("report")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
@station_options
def report(cfg: StationConfig, directory: Path) -> None:
    """Write PNG plots (sightings per individual over time, per camera, new individuals per
    week) and summary.md into DIRECTORY."""
    engine = open_database(cfg)
    try:
        written = write_report(engine, directory)
    finally:
        engine.dispose()
    click.echo(f"wrote {', '.join(p.name for p in written.files)} in {directory}")
