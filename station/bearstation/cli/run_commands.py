"""``bear-station run``, ``migrate``, ``check-config``, ``status`` and ``quarantine``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click
from sqlalchemy import func, select

from bearagent.logs import configure_logging
from bearstation.cli.group import main
from bearstation.cli.options import (
    CONFIG_HELP,
    DB_HELP,
    SET_HELP,
    build_config,
    open_database,
    pairs,
    station_options,
)
from bearstation.config import StationConfig
from bearstation.database import open_engine, parse_url, shown
from bearstation.fleet.sequences import StreamStatus, stream_status
from bearstation.migrations import current_revision, upgrade
from bearstation.rollout.status import summary as models_summary
from bearstation.station import Station
from bearstation.tables import boxes, encounters, events, individuals, links, quarantine


@main.command("run")
@click.option(
    "--broker",
    "broker_urls",
    multiple=True,
    metavar="URL",
    help="A broker to collect from: mqtt://host:1883 or mqtts://user@host:8883 (repeatable; "
    "replaces [[brokers]] of the config).",
)
@click.option(
    "--password-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="File holding the password of the --broker user(s); a relative name is looked up "
    "in $CREDENTIALS_DIRECTORY (default there: mqtt-password).",
)
@click.option(
    "--ca-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="PEM certificate authority of mqtts:// --broker(s) (default: the system's).",
)
@click.option(
    "--config", "config_file", type=click.Path(path_type=Path, dir_okay=False), help=CONFIG_HELP
)
@click.option("--db", "database", metavar="URL", help=DB_HELP)
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help=SET_HELP)
def run(
    broker_urls: tuple[str, ...],
    password_file: Path | None,
    ca_file: Path | None,
    config_file: Path | None,
    database: str | None,
    sets: tuple[str, ...],
) -> None:
    """Collect every box's events until stopped (SIGTERM or Ctrl-C).

    Subscribes to bearid/+/# with QoS 1 and a persistent session on each broker, stores
    each event once (by event_id) and acknowledges it only after the database commit.
    """
    brokers: list[dict[str, Any]] = []
    for url in broker_urls:
        entry: dict[str, Any] = {"url": url}
        if password_file is not None:
            entry["password_file"] = str(password_file)
        if ca_file is not None:
            entry["tls"] = {"ca_file": str(ca_file)}
        brokers.append(entry)
    cfg = build_config(config_file, sets, database=database, brokers=brokers)
    configure_logging(cfg.station.log_level)
    if cfg.station.log_level != "DEBUG":  # alembic's INFO lines say nothing to an operator
        logging.getLogger("alembic").setLevel(logging.WARNING)
    Station(cfg).run_until_signal()


@main.command("migrate")
@station_options
def migrate(cfg: StationConfig) -> None:
    """Upgrade the database to this bear-station's schema (back it up first)."""
    engine = open_engine(cfg.station.database)
    try:
        before, after = upgrade(engine)
    finally:
        engine.dispose()
    where = shown(engine.url)
    if before == after:
        click.echo(f"{where}: already at revision {after}")
    else:
        click.echo(f"{where}: revision {before or '(empty)'} -> {after}")


@main.command("check-config")
@click.argument("config_file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help=SET_HELP)
def check_config(config_file: Path, sets: tuple[str, ...]) -> None:
    """Check a configuration file; print every problem with its key."""
    cfg = build_config(config_file, sets)
    database = shown(parse_url(cfg.station.database))
    click.echo(f"{config_file}: OK (database {database}, {len(cfg.brokers)} broker(s))")


@main.command("status")
@station_options
def status(cfg: StationConfig) -> None:
    """What the station holds: boxes, events, encounters, individuals, the quarantine."""
    engine = open_database(cfg)
    with engine.connect() as conn:
        box_rows = conn.execute(select(boxes).order_by(boxes.c.agent_id)).all()
        channels: dict[str, int] = pairs(
            conn.execute(select(events.c.channel, func.count()).group_by(events.c.channel))
        )
        states: dict[str, int] = pairs(
            conn.execute(select(encounters.c.state, func.count()).group_by(encounters.c.state))
        )
        n_individuals = conn.execute(select(func.count()).select_from(individuals)).scalar_one()
        n_links = conn.execute(
            select(func.count()).select_from(links).where(links.c.unlinked_at.is_(None))
        ).scalar_one()
        n_quarantine = conn.execute(select(func.count()).select_from(quarantine)).scalar_one()
        streams = {s.agent_id: s for s in stream_status(conn) if s.current}
    click.echo(f"database: {shown(engine.url)} (revision {current_revision(engine)})")
    click.echo(f"boxes: {len(box_rows)}")
    for b in box_rows:
        click.echo(
            f"  {b.agent_id}: {b.status or 'status unknown'}, last heard "
            f"{b.last_seen_at:%Y-%m-%d %H:%M:%S} UTC"
        )
        if (s := streams.get(b.agent_id)) is not None:
            click.echo(f"    messages: {describe_stream(s)}")
    click.echo("events: " + (", ".join(f"{k} {v}" for k, v in sorted(channels.items())) or "none"))
    click.echo(
        f"encounters: {sum(states.values())} ("
        + ", ".join(f"{k} {v}" for k, v in sorted(states.items()))
        + f"); individuals: {n_individuals}; links in force: {n_links}"
    )
    click.echo(f"quarantine: {n_quarantine} (see 'bear-station quarantine')")
    with engine.connect() as conn:
        click.echo(models_summary(conn))
    engine.dispose()


def describe_stream(s: StreamStatus) -> str:
    """A box stream in one line: held through, the box's latest, the gap, what is lost."""
    text = f"held through #{s.through} of #{s.head}"
    if s.missing:
        text += f"; gap: {s.missing} missing (asked for again)"
    else:
        text += "; no gap"
    if s.lost:
        text += f"; {s.lost} lost (the box dropped them before the station had them)"
    return text


@main.command("quarantine")
@click.option("--limit", default=20, show_default=True, help="Show the newest N.")
@station_options
def list_quarantine(cfg: StationConfig, limit: int) -> None:
    """The newest quarantined messages: when, which topic, and why."""
    engine = open_database(cfg)
    with engine.connect() as conn:
        rows = conn.execute(select(quarantine).order_by(quarantine.c.id.desc()).limit(limit)).all()
    engine.dispose()
    if not rows:
        click.echo("the quarantine is empty")
    for r in rows:
        click.echo(f"#{r.id} {r.received_at:%Y-%m-%d %H:%M:%S} {r.broker} {r.topic}: {r.reason}")
