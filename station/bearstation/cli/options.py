"""Options the station's commands share: the configuration file, the database, --set."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy import Engine

from bearagent.config.loader import apply_override, read_toml, validate
from bearstation.config import StationConfig
from bearstation.database import open_engine
from bearstation.migrations import ensure_current

F = TypeVar("F", bound=Callable[..., Any])

CONFIG_HELP = "TOML configuration file (e.g. /etc/bear-station/config.toml); default: none."
DB_HELP = (
    "station.database: an SQLAlchemy URL, e.g. sqlite:///bearstation.db (the default, in the "
    "current folder) or postgresql+psycopg://station@dbhost/bearid."
)
SET_HELP = "Override any configuration key, e.g. --set intake.batch_max=200 (repeatable)."


def build_config(
    config_file: Path | None,
    sets: Sequence[str] = (),
    *,
    database: str | None = None,
    brokers: Sequence[dict[str, Any]] = (),
) -> StationConfig:
    """File, then the dedicated flags, then ``--set`` (the most specific wins)."""
    data = read_toml(config_file) if config_file is not None else {}
    if database:
        data.setdefault("station", {})["database"] = database
    if brokers:
        data["brokers"] = list(brokers)
    for assignment in sets:
        apply_override(data, assignment)
    return validate(StationConfig, data, str(config_file) if config_file else "(defaults)")


def open_database(cfg: StationConfig) -> Engine:
    """The configured database, created at the newest schema revision if empty."""
    engine = open_engine(cfg.station.database)
    ensure_current(engine)
    return engine


def station_options(func: F) -> F:
    """--config, --db and --set, resolved into a `StationConfig` argument ``cfg``."""

    @click.option(
        "--config",
        "config_file",
        type=click.Path(path_type=Path, dir_okay=False),
        envvar="BEAR_STATION_CONFIG",
        help=CONFIG_HELP,
    )
    @click.option("--db", "database", metavar="URL", help=DB_HELP)
    @click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help=SET_HELP)
    def wrapper(
        *args: Any,
        config_file: Path | None,
        database: str | None,
        sets: tuple[str, ...],
        **kwargs: Any,
    ) -> Any:
        cfg = build_config(config_file, sets, database=database)
        return func(*args, cfg=cfg, **kwargs)

    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper  # type: ignore[return-value]


def pairs(rows: Iterable[Any]) -> dict[Any, Any]:
    """``{first column: second column}`` of a two-column query result."""
    return {r[0]: r[1] for r in rows}
