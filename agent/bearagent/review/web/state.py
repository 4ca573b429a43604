"""What the application holds for its lifetime: configuration, password hash, throttle,
the review service, templates, and one database connection per worker thread."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import sqlite_utils

from bearagent.config import AgentConfig
from bearagent.review.actions import ReviewService
from bearagent.review.actions.calibrate import Recalibrator
from bearagent.review.actions.embedding import ChipEmbedder
from bearagent.rollout.switch import model_in_use
from bearagent.store import open_database
from bearagent.webkit.site import Gate, make_templates, password_mark
from bearagent.webkit.throttle import LoginThrottle

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

#: The exact answer to a request without a session (images, forms, anything not a page).
LOGIN_REQUIRED = "401 log in first: the review page needs a session"
GATE = Gate(
    login_required=LOGIN_REQUIRED,
    page_prefixes=("/queue", "/encounter", "/gallery", "/individual", "/provisional", "/audit"),
)
NAV = [
    ("/queue", "Queue", ("/queue",)),
    ("/gallery", "Gallery", ("/gallery", "/individual")),
    ("/provisional", "Waiting for a name", ("/provisional",)),
    ("/audit", "Audit & undo", ("/audit",)),
]


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
        return password_mark(self.password_hash)

    @property
    def gate(self) -> Gate:
        """Public paths, pages, and the refusal text of the review page."""
        return GATE

    @property
    def session_hours(self) -> float:
        """How long a login lasts."""
        return self.cfg.review.session_hours

    def page_context(self) -> dict[str, Any]:
        """The box's name and the page's navigation, on every page."""
        agent_id = self.cfg.agent.id
        return {
            "agent_id": agent_id, "site_title": f"bearid {agent_id}", "brand": "bearid review",
            "brand_detail": agent_id, "nav": NAV, "stylesheets": [], "home": "/queue",
            "login_title": "Review page",
            "login_intro": "Log in to confirm, correct or name the bears the agent was unsure of.",
        }  # fmt: skip

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
    runtime = model_in_use(cfg.runtime, cfg.agent.database_path).model_copy(
        update={"backend": "onnxruntime", "providers": review.embed_providers, "warm_up": False}
    )
    embedder = ChipEmbedder(runtime, cfg.watch.roots, cfg.watch.max_pixels)
    recalibrator = Recalibrator(cfg.agent.database_path, cfg)
    service = ReviewService(cfg, embedder, on_references_changed=recalibrator.request)
    throttle = LoginThrottle(
        review.login_free_attempts, review.login_backoff_s, review.login_backoff_max_s
    )
    return AppState(cfg, password_hash, throttle, service, recalibrator,
                    make_templates([TEMPLATES]))  # fmt: skip
