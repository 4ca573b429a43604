"""Running the review page: checks first (database, password hash, TLS files), then
uvicorn on ``review.listen``, with TLS when configured and proxy headers trusted only
from ``review.forwarded_allow_ips``."""

from __future__ import annotations

import logging
from types import FrameType
from typing import Any

from bearagent.config import AgentConfig
from bearagent.review.config import is_loopback, parse_listen
from bearagent.review.errors import ExtraMissing, ReviewError
from bearagent.review.passwords import password_file, read_hash

log = logging.getLogger(__name__)


def check_ready(cfg: AgentConfig) -> str:
    """Everything the page needs before it listens; returns the password hash."""
    database = cfg.agent.database_path
    if not database.is_file():
        raise ReviewError(
            f"the agent's database {database} does not exist: run the agent (or enrol a "
            "gallery) first, or give --db / agent.database"
        )
    for name, path in (("tls_cert", cfg.review.tls_cert), ("tls_key", cfg.review.tls_key)):
        if path is not None and not path.is_file():
            raise ReviewError(f"review.{name} {path} does not exist: fix the path")
    return read_hash(password_file(cfg.review.password_file))


def uvicorn_settings(cfg: AgentConfig) -> dict[str, Any]:
    """The keyword arguments of `uvicorn.Config` for `cfg` (without the app)."""
    review = cfg.review
    host, port = parse_listen(review.listen)
    settings: dict[str, Any] = {
        "host": host,
        "port": port,
        "proxy_headers": bool(review.forwarded_allow_ips),
        "forwarded_allow_ips": list(review.forwarded_allow_ips) or None,
        "server_header": False,
        "date_header": True,
        "log_config": None,  # the agent's logging (journald or terminal)
        "timeout_graceful_shutdown": 10,
    }
    if review.tls_cert is not None:
        settings["ssl_certfile"] = str(review.tls_cert)
        settings["ssl_keyfile"] = str(review.tls_key)
    return settings


def serve(cfg: AgentConfig, *, password_hash: str | None = None) -> None:
    """Serve the review page until SIGINT/SIGTERM."""
    digest = password_hash if password_hash is not None else check_ready(cfg)
    try:
        import uvicorn

        from bearagent.review.web import create_app
    except ImportError as e:
        raise ExtraMissing(
            f"the review page needs the 'review' extra ({e.name} is missing): "
            "pip install 'bearid[review]'"
        ) from e
    app = create_app(cfg, digest)
    settings = uvicorn_settings(cfg)
    scheme = "https" if cfg.review.tls else "http"
    shown = f"[{settings['host']}]" if ":" in settings["host"] else settings["host"]
    log.info("review page on %s://%s:%d/ (database %s)", scheme, shown, settings["port"],
             cfg.agent.database_path)  # fmt: skip
    if not is_loopback(settings["host"]) and not cfg.review.tls:
        log.warning("serving without TLS on %s: only on a trusted network", cfg.review.listen)
    server_type = _server_type(uvicorn.Server)
    server_type(uvicorn.Config(app, **settings)).run()


def _server_type(base: type[Any]) -> type[Any]:
    """uvicorn's server, exiting 0 after a graceful stop on SIGTERM/SIGINT (uvicorn raises the
    signal again once stopped, so systemd and the demo would see a death by signal)."""

    class QuietServer(base):  # type: ignore[misc]
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            super().handle_exit(sig, frame)
            self._captured_signals.clear()

    return QuietServer


def url_of(cfg: AgentConfig) -> str:
    """The page's address as a person on this box types it."""
    host, port = parse_listen(cfg.review.listen)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    shown = f"[{shown}]" if ":" in shown else shown
    return f"{'https' if cfg.review.tls else 'http'}://{shown}:{port}/"
