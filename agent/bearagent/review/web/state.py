"""What the application holds for its lifetime: configuration, password hash, throttle,
the review service, templates, and one database connection per worker thread."""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import sqlite_utils

from bearagent.config import AgentConfig
from bearagent.review.actions import ReviewService
from bearagent.review.actions.calibrate import Recalibrator
from bearagent.review.actions.embedding import ChipEmbedder
from bearagent.review.throttle import LoginThrottle
from bearagent.store import open_database

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
STATIC = Path(__file__).resolve().parent.parent / "static"


@dataclass
class AppState:
    """Shared by every request; a connection per thread (SQLite's rule)."""

    cfg: AgentConfig
    password_hash: str
    throttle: LoginThrottle
    service: ReviewService
    recalibrator: Recalibrator
    templates: jinja2.Environment
    _local: threading.local = field(default_factory=threading.local)

    @property
    def database(self) -> Path:
        """The agent's database file."""
        return self.cfg.agent.database_path

    @property
    def password_mark(self) -> str:
        """A short fingerprint of the password hash: sessions made under another
        password stop working."""
        return hashlib.sha256(self.password_hash.encode()).hexdigest()[:16]

    def db(self) -> sqlite_utils.Database:
        """This thread's connection to the agent's database."""
        conn: sqlite_utils.Database | None = getattr(self._local, "db", None)
        if conn is None:
            conn = open_database(self.database)
            self._local.db = conn
        return conn

    def close(self) -> None:
        """Stop the calibration thread and let the model go."""
        self.recalibrator.close()
        if self.service.embedder is not None:
            self.service.embedder.close()


def make_state(cfg: AgentConfig, password_hash: str) -> AppState:
    """The state of an application on `cfg`'s database."""
    review = cfg.review
    runtime = cfg.runtime.model_copy(
        update={"backend": "onnxruntime", "providers": review.embed_providers, "warm_up": False}
    )
    embedder = ChipEmbedder(runtime, cfg.watch.roots, cfg.watch.max_pixels)
    recalibrator = Recalibrator(cfg.agent.database_path, cfg)
    service = ReviewService(cfg, embedder, on_references_changed=recalibrator.request)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    throttle = LoginThrottle(
        review.login_free_attempts, review.login_backoff_s, review.login_backoff_max_s
    )
    return AppState(cfg, password_hash, throttle, service, recalibrator, env)
