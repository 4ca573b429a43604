"""``bear-station review`` (the review desk) and ``review passwd``; the desk's actions as
commands: ``encounters list|confirm|assign|create|reject|undo|decisions`` and
``individuals name|create|merge``. Each calls the desk's library function, as the page
does."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy import Connection

from bearagent.cli.options import toml_string
from bearagent.clikit import ErrorReportingGroup
from bearagent.logs import configure_logging
from bearagent.webkit.listen import url_of
from bearagent.webkit.passwords import MIN_PASSWORD_LENGTH, write_hash_file
from bearstation.cli import identity_commands  # noqa: F401 (its 'individuals' listing first)
from bearstation.cli.group import main
from bearstation.cli.options import CONFIG_HELP, DB_HELP, SET_HELP, build_config, station_options
from bearstation.config import StationConfig
from bearstation.desk import actions
from bearstation.desk.commands import recent_commands
from bearstation.desk.queries import queue_page
from bearstation.desk.server import open_station_database, serve
from bearstation.desk.views import DeskUser, QueueFilters

T = TypeVar("T")
_BY_HELP = "Who decides (recorded with the decision); default: your login name."


def _who(by: str | None) -> DeskUser:
    try:
        name = by or getpass.getuser()
    except (KeyError, OSError):
        name = "?"
    return DeskUser(name, "command line")


def _write(cfg: StationConfig, work: Callable[[Connection], T]) -> T:
    engine = open_station_database(cfg)
    try:
        with engine.begin() as conn:
            return work(conn)
    finally:
        engine.dispose()


def _group(name: str, help_text: str) -> click.Group:
    """The command group `name`; a plain command of that name already registered (the
    fleet's ``individuals`` listing) keeps working when no subcommand is given."""
    existing = main.commands.get(name)
    if isinstance(existing, click.Group):
        return existing
    listing = existing.callback if existing is not None else None

    @click.pass_context
    def run(ctx: click.Context, /, **kwargs: Any) -> None:
        if ctx.invoked_subcommand is None:
            if listing is None:
                click.echo(ctx.get_help())
                return
            ctx.invoke(listing, **kwargs)

    group = ErrorReportingGroup(
        name, callback=run, params=list(existing.params) if existing else [],
        help=(existing.help if existing else None) or help_text,
        invoke_without_command=True,
    )  # fmt: skip
    main.add_command(group)
    return group


# --- bear-station review ------------------------------------------------------------------


@main.group("review", cls=ErrorReportingGroup, invoke_without_command=True)
@click.option(
    "--config", "config_file", type=click.Path(path_type=Path, dir_okay=False),
    envvar="BEAR_STATION_CONFIG", help=CONFIG_HELP,
)  # fmt: skip
@click.option("--db", "database", metavar="URL", help=DB_HELP)
@click.option("--listen", metavar="HOST:PORT", help="desk.listen (default 127.0.0.1:8091).")
@click.option(
    "--password-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="desk.password_file: the hash `bear-station review passwd` wrote.",
)
@click.option(
    "--forwarded-allow-ips", "forwarded", multiple=True, metavar="ADDRESS",
    help="A reverse proxy whose X-Forwarded-For/-Proto headers are trusted (repeatable).",
)  # fmt: skip
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help=SET_HELP)
@click.pass_context
def review_group(
    ctx: click.Context,
    config_file: Path | None,
    database: str | None,
    listen: str | None,
    password_file: Path | None,
    forwarded: tuple[str, ...],
    sets: tuple[str, ...],
) -> None:
    """Serve the review desk: every box's encounters in review and its new strangers, with
    their chips beside the candidates' reference chips; decisions go to the box that owns
    the encounter. Runs beside `bear-station run` on the same database; see docs/desk.md."""
    if ctx.invoked_subcommand is not None:
        return
    flags = [f"desk.listen={toml_string(listen)}"] if listen else []
    flags += [f"desk.password_file={toml_string(password_file)}"] if password_file else []
    if forwarded:
        flags.append(f"desk.forwarded_allow_ips=[{', '.join(map(toml_string, forwarded))}]")
    cfg = build_config(config_file, [*flags, *sets], database=database)
    configure_logging(cfg.station.log_level)
    click.echo(f"review desk: {url_of(cfg.desk)} (Ctrl-C stops it)", err=True)
    serve(cfg)


@review_group.command("passwd")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
def passwd_command(file: Path) -> None:
    """Write the argon2 hash of a password (read from standard input) to FILE, mode 0600.

    On an installed station: `sudo bear-station review passwd /etc/bear-station/desk-password`;
    the service reads it through LoadCredential=desk-password:...
    """
    if sys.stdin.isatty():
        password = click.prompt(
            f"New desk password (at least {MIN_PASSWORD_LENGTH} characters)",
            hide_input=True, confirmation_prompt=True,
        )  # fmt: skip
    else:
        password = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    write_hash_file(file, password)
    click.echo(f"wrote the password hash to {file} (mode 0600)")


# --- bear-station encounters ----------------------------------------------------------------

encounters_group = _group("encounters", "Decide boxes' encounters, as at the review desk.")


@encounters_group.command("list")
@click.option("--box", "agent_id", default="", help="Only this box's encounters.")
@click.option("--status", type=click.Choice(["review", "unknown"]), help="Only this outcome.")
@click.option("--page", type=int, default=1, show_default=True)
@station_options
def list_command(cfg: StationConfig, agent_id: str, status: str | None, page: int) -> None:
    """The encounters waiting for a person (the desk's queue), newest first."""
    filters = QueueFilters(status=status or "", agent_id=agent_id, page=page)
    found = _write(cfg, lambda c: queue_page(c, filters, cfg.desk.page_size, 1))
    click.echo(f"{found.total} encounter(s) waiting; page {found.page} of {found.pages}")
    for e in found.encounters:
        best = ", ".join(f"{c.label} {c.similarity:.3f}" for c in e.candidates[:2])
        waiting = f" [{e.waiting.status}]" if e.waiting else ""
        click.echo(f"{e.agent_id} {e.encounter_id} {e.status} {e.site}/{e.camera} "
                   f"{e.started_at:%Y-%m-%d %H:%M} {e.chip_count} chips"
                   f"{'; ' + best if best else ''}{waiting}")  # fmt: skip


def _decided(cfg: StationConfig, work: Callable[[Connection], actions.DeskResult]) -> None:
    result = _write(cfg, work)
    click.echo(result.summary + (f" (decision {result.command.command_id})"
                                 if result.command else ""))  # fmt: skip


@encounters_group.command("confirm")
@click.argument("agent_id")
@click.argument("encounter_id")
@click.option("--by", help=_BY_HELP)
@station_options
def confirm_command(cfg: StationConfig, agent_id: str, encounter_id: str, by: str | None) -> None:
    """Accept the proposal for box AGENT_ID's encounter ENCOUNTER_ID (sent to the box)."""
    _decided(cfg, lambda c: actions.confirm(c, agent_id, encounter_id, _who(by)))


@encounters_group.command("assign")
@click.argument("agent_id")
@click.argument("encounter_id")
@click.argument("individual")
@click.option("--by", help=_BY_HELP)
@station_options
def assign_command(
    cfg: StationConfig, agent_id: str, encounter_id: str, individual: str, by: str | None
) -> None:
    """The encounter is INDIVIDUAL (an id or a name of the fleet gallery; sent to the box)."""
    _decided(cfg, lambda c: actions.assign(c, agent_id, encounter_id, individual, _who(by)))


@encounters_group.command("create")
@click.argument("agent_id")
@click.argument("encounter_id")
@click.argument("name")
@click.option("--by", help=_BY_HELP)
@station_options
def create_command(
    cfg: StationConfig, agent_id: str, encounter_id: str, name: str, by: str | None
) -> None:
    """The encounter is a bear the fleet does not know: a new individual NAME (the box
    makes it and reports it to the fleet gallery)."""
    _decided(cfg, lambda c: actions.create(c, agent_id, encounter_id, name, _who(by)))


@encounters_group.command("reject")
@click.argument("agent_id")
@click.argument("encounter_id")
@click.option("--reason", required=True, type=click.Choice(["not_a_bear", "unusable"]))
@click.option(
    "--chip", "chips", multiple=True, metavar="FILE",
    help="A chip to reject (its file, as listed; repeatable). Default: every chip.",
)  # fmt: skip
@click.option("--by", help=_BY_HELP)
@station_options
def reject_command(
    cfg: StationConfig, agent_id: str, encounter_id: str, reason: str, chips: tuple[str, ...],
    by: str | None,
) -> None:  # fmt: skip
    """Chips of the encounter are not a bear, or unusable (sent to the box)."""
    files = list(chips) or None
    _decided(cfg, lambda c: actions.reject(c, agent_id, encounter_id, reason, _who(by), files))


@encounters_group.command("undo")
@click.argument("command_id")
@click.option("--by", help=_BY_HELP)
@station_options
def undo_command(cfg: StationConfig, command_id: str, by: str | None) -> None:
    """Reverse what the box did for desk decision COMMAND_ID (see 'encounters decisions')."""
    _decided(cfg, lambda c: actions.undo(c, command_id, _who(by)))


@encounters_group.command("decisions")
@click.option("--limit", type=int, default=50, show_default=True)
@station_options
def decisions_command(cfg: StationConfig, limit: int) -> None:
    """The decisions sent to boxes, newest first, with each box's answer."""
    made = _write(cfg, lambda c: recent_commands(c, limit))
    if not made:
        click.echo("no decisions yet")
    for d in made:
        click.echo(f"{d.command_id} {d.created_at:%Y-%m-%d %H:%M} {d.by}: {d.what} "
                   f"({d.agent_id} {d.encounter_id}): {d.status}")  # fmt: skip


# --- bear-station individuals name|create|merge --------------------------------------------

individuals_group = _group("individuals", "The fleet gallery's individuals.")


@individuals_group.command("name")
@click.argument("individual")
@click.argument("name")
@click.option("--by", help=_BY_HELP)
@station_options
def name_command(cfg: StationConfig, individual: str, name: str, by: str | None) -> None:
    """Give INDIVIDUAL (an id or a name) the name NAME; every box hears of it."""
    click.echo(_write(cfg, lambda c: actions.name_individual(c, individual, name,
                                                             _who(by))).summary)  # fmt: skip


@individuals_group.command("create")
@click.argument("name")
@click.option("--by", help=_BY_HELP)
@station_options
def create_individual_command(cfg: StationConfig, name: str, by: str | None) -> None:
    """A new named individual NAME in the fleet gallery."""
    station = cfg.station.id
    click.echo(_write(cfg, lambda c: actions.create_individual(c, name, _who(by),
                                                               station)).summary)  # fmt: skip


@individuals_group.command("merge")
@click.argument("source")
@click.argument("target")
@click.option("--by", help=_BY_HELP)
@station_options
def merge_command(cfg: StationConfig, source: str, target: str, by: str | None) -> None:
    """SOURCE is really TARGET: one individual from now on, on every box."""
    click.echo(_write(cfg, lambda c: actions.merge_individuals(c, source, target,
                                                               _who(by))).summary)  # fmt: skip
