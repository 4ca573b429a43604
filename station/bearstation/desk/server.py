"""Running the desk: checks first (database at the newest revision, TLS files, password
hash), then uvicorn on ``desk.listen`` (`bearagent.webkit.server`), with TLS when
configured and proxy headers trusted only from ``desk.forwarded_allow_ips``."""

from __future__ import annotations

from sqlalchemy import Engine

from bearagent.webkit.errors import ExtraMissing
from bearstation.config import StationConfig
from bearstation.database import open_engine, shown
from bearstation.desk.errors import DeskError
from bearstation.desk.passwords import password_file, read_hash
from bearstation.migrations import ensure_current


def check_ready(cfg: StationConfig) -> str:
    """Everything the desk needs before it listens, but the database; returns the
    password hash."""
    for name, path in (("tls_cert", cfg.desk.tls_cert), ("tls_key", cfg.desk.tls_key)):
        if path is not None and not path.is_file():
            raise DeskError(f"desk.{name} {path} does not exist: fix the path")
    return read_hash(password_file(cfg.desk.password_file))


def open_station_database(cfg: StationConfig) -> Engine:
    """The station's database, at the newest schema revision (created when empty)."""
    engine = open_engine(cfg.station.database)
    try:
        ensure_current(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine


def serve(cfg: StationConfig, *, password_hash: str | None = None) -> None:
    """Serve the desk until SIGINT/SIGTERM."""
    digest = password_hash if password_hash is not None else check_ready(cfg)
    try:
        import uvicorn  # noqa: F401 (checked here: the extra is optional)

        from bearagent.webkit.server import serve_app
        from bearstation.desk.web import create_app
    except ImportError as e:
        raise ExtraMissing(
            f"the review desk needs the 'review' extra ({e.name} is missing): "
            "pip install 'bearid[station,review]'"
        ) from e
    engine = open_station_database(cfg)
    try:
        serve_app(create_app(cfg, engine, digest), cfg.desk, "review desk",
                  f"(database {shown(engine.url)})")  # fmt: skip
    finally:
        engine.dispose()
