"""What the desk holds for its lifetime: the station's configuration, its database engine
and media store, the password hash, the login throttle and the templates."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import jinja2
from sqlalchemy import Connection, Engine

from bearagent.webkit.site import Gate, make_templates
from bearagent.webkit.throttle import LoginThrottle
from bearstation.config import StationConfig
from bearstation.desk.config import DeskConfig
from bearstation.media.store import MediaStore

HERE = Path(__file__).resolve().parent.parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

#: The exact answer to a request without a session (images, forms, anything not a page).
LOGIN_REQUIRED = "401 log in first: the review desk needs a session"
GATE = Gate(
    login_required=LOGIN_REQUIRED,
    page_prefixes=("/queue", "/encounter", "/strangers", "/gallery", "/individual",
                   "/decisions"),
)  # fmt: skip
NAV = [
    ("/queue", "Queue", ("/queue", "/encounter")),
    ("/strangers", "Strangers", ("/strangers",)),
    ("/gallery", "Fleet gallery", ("/gallery", "/individual")),
    ("/decisions", "Decisions", ("/decisions",)),
]

T = TypeVar("T")


@dataclass
class DeskState:
    """Shared by every request (the engine's pool gives each thread its connection)."""

    config: StationConfig
    engine: Engine
    media: MediaStore
    password_hash: str
    throttle: LoginThrottle
    templates: jinja2.Environment

    @property
    def desk(self) -> DeskConfig:
        """The ``[desk]`` section."""
        return self.config.desk

    @property
    def gate(self) -> Gate:
        """Public paths, pages, and the refusal text of the desk."""
        return GATE

    @property
    def session_hours(self) -> float:
        """How long a login lasts."""
        return self.desk.session_hours

    def page_context(self) -> dict[str, Any]:
        """The station's name and the desk's navigation, on every page."""
        station = self.config.station.id
        return {
            "site_title": f"bearid desk {station}", "brand": "bearid review desk",
            "brand_detail": station, "nav": NAV, "stylesheets": ["desk.css"],
            "home": "/queue", "login_title": "Review desk",
            "login_intro": "Log in to decide the encounters and name the new bears of every "
            "box of the fleet.",
        }  # fmt: skip

    def read(self, work: Callable[[Connection], T]) -> T:
        """`work` on a connection (reads)."""
        with self.engine.connect() as conn:
            return work(conn)

    def write(self, work: Callable[[Connection], T]) -> T:
        """`work` in one transaction (committed when it returns)."""
        with self.engine.begin() as conn:
            return work(conn)


def make_state(config: StationConfig, engine: Engine, password_hash: str) -> DeskState:
    """The state of a desk on `engine` (the station's database)."""
    desk = config.desk
    throttle = LoginThrottle(desk.login_free_attempts, desk.login_backoff_s,
                             desk.login_backoff_max_s)  # fmt: skip
    media = MediaStore.from_config(config.media, config.station.database)
    return DeskState(config, engine, media, password_hash, throttle,
                     make_templates([TEMPLATES]))  # fmt: skip
