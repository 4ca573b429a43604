"""``bear-station export camtrap-dp``, ``capture-history``, ``training-set``, ``secr`` and
``report``."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import click

from bearstation.cli.group import main
from bearstation.cli.options import open_database, station_options
from bearstation.config import StationConfig
from bearstation.exports.camtrap_dp import export_camtrap_dp
from bearstation.exports.capture_history import export_capture_history
from bearstation.exports.operation import USAGE_RULES
from bearstation.exports.secr import SecrOptions
from bearstation.exports.secr_files import export_secr
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


@export.command("secr")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--occasion",
    type=click.Choice(["day", "week"]),
    default="day",
    show_default=True,
    help="One occasion per day, or per ISO week (Monday to Sunday).",
)
@click.option(
    "--from",
    "first",
    type=click.DateTime(["%Y-%m-%d"]),
    help="First occasion (default: the first day a camera operated).",
)
@click.option(
    "--to", "last", type=click.DateTime(["%Y-%m-%d"]), help="Last occasion (default: the last)."
)
@click.option("--named-only", is_flag=True, help="Leave out provisional individuals.")
@click.option(
    "--usage",
    "usage_rule",
    type=click.Choice(USAGE_RULES),
    default="evidence",
    show_default=True,
    help="A camera operated on a day of its span (first to last chip) when it has a chip "
    "that day or its box ran (evidence), or on every day of its span (span).",
)
@click.option("--crs", help="Projected coordinate system in metres, e.g. EPSG:32633.")
@click.option("--utm-zone", help="UTM zone, e.g. 33N (default: the cameras' zone).")
@click.option(
    "--session", default="bearid", show_default=True, help="secr session name (no spaces)."
)
@station_options
def secr(
    cfg: StationConfig,
    directory: Path,
    occasion: str,
    first: datetime | None,
    last: datetime | None,
    named_only: bool,
    usage_rule: str,
    crs: str | None,
    utm_zone: str | None,
    session: str,
) -> None:
    """Write spatial capture-recapture inputs into DIRECTORY: captures.txt and traps.txt for
    secr::read.capthist(..., fmt = "trapID", detector = "count"), oscr_edf.csv and
    oscr_tdf.csv for oSCR::data2oscr, and what maps their ids back (see README.md there)."""
    options = SecrOptions(
        occasion="week" if occasion == "week" else "day",
        first=first.date() if first else None,
        last=last.date() if last else None,
        named_only=named_only,
        usage="span" if usage_rule == "span" else "evidence",
        session=session,
        crs=crs,
        utm_zone=utm_zone,
    )
    engine = open_database(cfg)
    try:
        data = export_secr(engine, directory, options)
    finally:
        engine.dispose()
    click.echo(
        f"wrote {directory}: {len(data.traps)} detectors, {len(data.starts)} occasions, "
        f"{len(data.individuals)} individuals, {len(data.detections)} detections "
        f"({data.projection.description})"
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
