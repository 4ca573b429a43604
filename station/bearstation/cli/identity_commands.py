"""``bear-station link``, ``unlink``, ``links``, ``individuals``, ``locate``, ``cameras``."""

from __future__ import annotations

import getpass
from collections import Counter
from pathlib import Path

import click
from sqlalchemy import func, select

from bearstation.cli.group import main
from bearstation.cli.options import open_database, pairs, station_options
from bearstation.config import StationConfig
from bearstation.errors import StationError
from bearstation.exports.records import all_deployments
from bearstation.identities import all_links, fleet_bears, label_of, link, unlink
from bearstation.locations import Place, locate, locate_from_csv
from bearstation.tables import encounters, individuals

_BY_HELP = "Who decides (recorded in the audit); default: your login name."


def _who(by: str | None) -> str:
    try:
        return by or getpass.getuser()
    except (KeyError, OSError):
        return "?"


@main.command("link")
@click.argument("a")
@click.argument("b")
@click.option("--by", help=_BY_HELP)
@click.option("--note", help="Why (recorded in the audit).")
@station_options
def link_command(cfg: StationConfig, a: str, b: str, by: str | None, note: str | None) -> None:
    """Record that individuals A and B of two boxes are one bear, e.g.
    'link unknown-den-01-0001 den-02:bear-den-02-0004': they merge in the fleet gallery and
    in every box's gallery. Reversible with 'unlink'."""
    engine = open_database(cfg)
    try:
        made = link(engine, a, b, by=_who(by), note=note)
    finally:
        engine.dispose()
    click.echo(f"linked {made.a} and {made.b} (link #{made.id}, by {made.linked_by})")


@main.command("unlink")
@click.argument("a")
@click.argument("b")
@click.option("--by", help=_BY_HELP)
@station_options
def unlink_command(cfg: StationConfig, a: str, b: str, by: str | None) -> None:
    """End the link between A and B and split them again in the fleet gallery and on every
    box (the audit keeps the link, marked as ended)."""
    engine = open_database(cfg)
    try:
        unlink(engine, a, b, by=_who(by))
    finally:
        engine.dispose()
    click.echo(f"unlinked {a} and {b}")


@main.command("links")
@station_options
def links_command(cfg: StationConfig) -> None:
    """Every link made at the station, ended ones included (the audit)."""
    engine = open_database(cfg)
    with engine.connect() as conn:
        made = all_links(conn)
    engine.dispose()
    if not made:
        click.echo("no links")
    for m in made:
        ended = (
            f"; ended {m.unlinked_at:%Y-%m-%d %H:%M} by {m.unlinked_by}" if m.unlinked_at else ""
        )
        note = f" ({m.note})" if m.note else ""
        click.echo(
            f"#{m.id} {m.a} = {m.b}: {m.linked_at:%Y-%m-%d %H:%M} by {m.linked_by}{note}{ended}"
        )


@main.command("individuals")
@station_options
def individuals_command(cfg: StationConfig) -> None:
    """Every individual across the fleet, with the boxes' ids it joins and its encounters."""
    engine = open_database(cfg)
    with engine.connect() as conn:
        bears = fleet_bears(conn)
        rows = {r.id: r for r in conn.execute(select(individuals))}
        counts: dict[int, int] = pairs(
            conn.execute(
                select(encounters.c.individual_ref, func.count())
                .where(encounters.c.state != "merged", encounters.c.status != "rejected")
                .group_by(encounters.c.individual_ref)
            )
        )
    engine.dispose()
    members: dict[str, list[str]] = {}
    seen: Counter[str] = Counter()
    for ref, bear in bears.items():
        members.setdefault(bear.label, []).append(label_of(rows[ref]))
        seen[bear.label] += counts.get(ref, 0)
    for label in sorted(members):
        click.echo(f"{label}: {seen[label]} encounters ({', '.join(sorted(members[label]))})")
    if not members:
        click.echo("no individuals yet")


@main.command("locate")
@click.argument("deployment", required=False)
@click.option("--lat", type=float, help="Latitude (WGS84, decimal degrees).")
@click.option("--lon", type=float, help="Longitude (WGS84, decimal degrees).")
@click.option("--uncertainty", type=int, help="Coordinate uncertainty in metres.")
@click.option("--name", "location_name", help="Name of the place.")
@click.option("--camera-model", help="Make and model of the camera.")
@click.option(
    "--csv",
    "csv_file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Set many at once: columns deploymentID, latitude, longitude (optional "
    "coordinateUncertainty, locationName, cameraModel).",
)
@station_options
def locate_command(
    cfg: StationConfig,
    deployment: str | None,
    lat: float | None,
    lon: float | None,
    uncertainty: int | None,
    location_name: str | None,
    camera_model: str | None,
    csv_file: Path | None,
) -> None:
    """Record where camera DEPLOYMENT (AGENT/SITE/CAMERA, see 'cameras') stands."""
    if (csv_file is None) == (deployment is None):
        raise StationError("give DEPLOYMENT with --lat and --lon, or --csv FILE")
    engine = open_database(cfg)
    try:
        if csv_file is not None:
            click.echo(f"located {locate_from_csv(engine, csv_file)} cameras from {csv_file}")
            return
        if lat is None or lon is None:
            raise StationError(f"locate {deployment}: give both --lat and --lon")
        assert deployment is not None
        locate(engine, deployment, Place(lat, lon, uncertainty, location_name, camera_model))
        click.echo(f"located {deployment} at {lat}, {lon}")
    finally:
        engine.dispose()


@main.command("cameras")
@station_options
def cameras_command(cfg: StationConfig) -> None:
    """Every camera (deployment) the station knows, with its span and coordinates."""
    engine = open_database(cfg)
    with engine.connect() as conn:
        found = all_deployments(conn)
    engine.dispose()
    if not found:
        click.echo("no cameras yet (they appear with a box's first events)")
    for d in found:
        where = f"{d.latitude}, {d.longitude}" if d.latitude is not None else "no coordinates"
        span = f"{d.start:%Y-%m-%d} to {d.end:%Y-%m-%d}" if d.start and d.end else "no captures"
        click.echo(f"{d.deployment_id}: {span}; {where}")
