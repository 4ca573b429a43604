"""``bear-station export camtrap-dp``, ``capture-history``, ``training-set``, ``secr`` and
``report``."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from bearstation.cli.group import main
from bearstation.cli.options import open_database, station_options
from bearstation.config import StationConfig
from bearstation.exports.camtrap_dp import export_camtrap_dp
from bearstation.exports.capture_history import export_capture_history
from bearstation.exports.training_set import describe_left_out, export_training_set
from bearstation.media.store import MediaStore
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


@export.command("training-set")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--min-score",
    type=float,
    help="Also take chips the machine called known with a decision score (the score its "
    "thresholds apply to) of at least this. Default: only chips a person decided.",
)
@station_options
def training_set(cfg: StationConfig, directory: Path, min_score: float | None) -> None:
    """Write the reviewed chips as DIRECTORY/<individual>/<chip> with metadata.csv, for
    'bear-train split DIRECTORY --metadata DIRECTORY/metadata.csv'."""
    store = MediaStore.from_config(cfg.media, cfg.station.database)
    engine = open_database(cfg)
    try:
        summary = export_training_set(engine, store, directory, min_score=min_score)
    finally:
        engine.dispose()
    machine = (
        f", {summary.by_machine} by the machine (score >= {min_score})"
        if min_score is not None
        else ""
    )
    click.echo(
        f"wrote {directory}: {summary.chips} chips of {summary.individuals} individuals in "
        f"{summary.encounters} encounters ({summary.by_person} decided by a person{machine})"
    )
    click.echo(f"left out: {describe_left_out(summary.left_out)}")


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
