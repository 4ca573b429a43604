"""``bearagent review``: the review page; ``bearagent review passwd FILE``: its password."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bearagent.cli.group import main
from bearagent.cli.options import CONFIG_HELP, SET_HELP, toml_string
from bearagent.clikit import ErrorReportingGroup
from bearagent.config import AgentConfig, load_config
from bearagent.logs import configure_logging
from bearagent.review.passwords import MIN_PASSWORD_LENGTH, write_hash_file
from bearagent.review.server import serve, url_of


def review_config(
    config: Path | None,
    sets: tuple[str, ...],
    *,
    database: Path | None = None,
    listen: str | None = None,
    password_file: Path | None = None,
    forwarded: tuple[str, ...] = (),
) -> AgentConfig:
    """Config file, then the flags, then ``--set``."""
    flags = [f"agent.database={toml_string(database)}"] if database else []
    flags += [f"review.listen={toml_string(listen)}"] if listen else []
    flags += [f"review.password_file={toml_string(password_file)}"] if password_file else []
    if forwarded:
        flags.append(f"review.forwarded_allow_ips=[{', '.join(map(toml_string, forwarded))}]")
    return load_config(AgentConfig, config, [*flags, *sets])


@main.group("review", cls=ErrorReportingGroup, invoke_without_command=True)
@click.option(
    "--config", type=click.Path(path_type=Path, dir_okay=False), envvar="BEARAGENT_CONFIG",
    help=CONFIG_HELP,
)  # fmt: skip
@click.option(
    "--db", "database", type=click.Path(path_type=Path, dir_okay=False), help="agent.database"
)
@click.option("--listen", metavar="HOST:PORT", help="review.listen (default 127.0.0.1:8090).")
@click.option(
    "--password-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="review.password_file: the hash `bearagent review passwd` wrote.",
)
@click.option(
    "--forwarded-allow-ips",
    "forwarded",
    multiple=True,
    metavar="ADDRESS",
    help="A reverse proxy whose X-Forwarded-For/-Proto headers are trusted (repeatable).",
)
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help=SET_HELP)
@click.pass_context
def review_group(
    ctx: click.Context,
    config: Path | None,
    database: Path | None,
    listen: str | None,
    password_file: Path | None,
    forwarded: tuple[str, ...],
    sets: tuple[str, ...],
) -> None:
    """Serve the review page: a person confirms, corrects or names the bears the agent was
    unsure of (the queue of review and unknown encounters, the gallery, the audit log with
    undo). Runs beside `bearagent run` on the same database; see docs/review.md."""
    if ctx.invoked_subcommand is not None:
        return
    cfg = review_config(config, sets, database=database, listen=listen,
                        password_file=password_file, forwarded=forwarded)  # fmt: skip
    configure_logging(cfg.agent.log_level)
    click.echo(f"review page: {url_of(cfg)} (Ctrl-C stops it)", err=True)
    serve(cfg)


@review_group.command("passwd")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
def passwd_command(file: Path) -> None:
    """Write the argon2 hash of a password (read from standard input) to FILE, mode 0600.

    On an installed box: `sudo bearagent review passwd /etc/bearagent/review-password`;
    the service reads it through LoadCredential=.
    """
    if sys.stdin.isatty():
        password = click.prompt(
            f"New review password (at least {MIN_PASSWORD_LENGTH} characters)",
            hide_input=True,
            confirmation_prompt=True,
        )
    else:
        password = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    write_hash_file(file, password)
    click.echo(f"wrote the password hash to {file} (mode 0600)")
