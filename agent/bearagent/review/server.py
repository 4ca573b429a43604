"""Running the review page: checks first (database, password hash, TLS files), then
uvicorn on ``review.listen`` (`bearagent.webkit.server`), with TLS when configured and
proxy headers trusted only from ``review.forwarded_allow_ips``."""

from __future__ import annotations

from typing import Any

from bearagent.config import AgentConfig
from bearagent.review.errors import ExtraMissing, ReviewError
from bearagent.review.passwords import password_file, read_hash
from bearagent.webkit import listen


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
    from bearagent.webkit.server import uvicorn_settings as settings_of

    return settings_of(cfg.review)


def serve(cfg: AgentConfig, *, password_hash: str | None = None) -> None:
    """Serve the review page until SIGINT/SIGTERM."""
    digest = password_hash if password_hash is not None else check_ready(cfg)
    try:
        import uvicorn  # noqa: F401 (checked here: the extra is optional)

        from bearagent.review.web import create_app
        from bearagent.webkit.server import serve_app
    except ImportError as e:
        raise ExtraMissing(
            f"the review page needs the 'review' extra ({e.name} is missing): "
            "pip install 'bearid[review]'"
        ) from e
    serve_app(create_app(cfg, digest), cfg.review, "review page",
              f"(database {cfg.agent.database_path})")  # fmt: skip


def url_of(cfg: AgentConfig) -> str:
    """The page's address as a person on this box types it."""
    return listen.url_of(cfg.review)
