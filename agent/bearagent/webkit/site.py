"""What a review app holds for its lifetime, as the shared code sees it.

`WebState` is the protocol an app's state object satisfies (the box's `AppState`, the
station's `DeskState`): its templates, the password hash (replaceable: a new hash ends
every session made under the old one), the login throttle, how long a session lasts,
its `Gate` (which paths are public, which are pages, the exact refusal text) and what
every page shows (`page_context`). The app keeps it at ``app.state.web``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import jinja2

from bearagent.webkit.throttle import LoginThrottle

#: The shared templates (layout, login, not found, macros) and stylesheet.
TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"


@dataclass(frozen=True)
class Gate:
    """Who may fetch what without a session, and what the others are told."""

    login_required: str  # the exact 401 text, e.g. "401 log in first: the review page needs ..."
    page_prefixes: tuple[str, ...]  # paths a browser is sent to the login form from
    home: str = "/queue"  # where a login returns to when it names no page
    public_paths: tuple[str, ...] = ("/login",)
    public_prefixes: tuple[str, ...] = ("/static/",)


class WebState(Protocol):
    """An app's state, as the shared code reads it."""

    password_hash: str
    throttle: LoginThrottle
    templates: jinja2.Environment

    @property
    def gate(self) -> Gate:
        """Public paths, pages, the refusal text."""

    @property
    def session_hours(self) -> float:
        """How long a login lasts."""

    def page_context(self) -> dict[str, Any]:
        """What every page of the app shows besides its own content (names, titles)."""


def password_mark(password_hash: str) -> str:
    """A short fingerprint of a password hash: sessions made under another password stop
    working."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def make_templates(app_templates: Sequence[Path]) -> jinja2.Environment:
    """Jinja2 over the app's own templates first, then the shared ones; autoescaped, and a
    missing variable is an error."""
    loader = jinja2.ChoiceLoader(
        [jinja2.FileSystemLoader([str(p) for p in app_templates]),
         jinja2.FileSystemLoader(str(TEMPLATES))]
    )  # fmt: skip
    return jinja2.Environment(
        loader=loader,
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
