"""`create_app`: the review desk as an ASGI application, on the shared edge
(`bearagent.webkit.app.secured_app`: security headers, the signed session cookie, the
login check in front of every route, CSRF on every form)."""

from __future__ import annotations

from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Route

from bearagent.webkit.app import secured_app
from bearagent.webkit.login import LOGIN_ROUTES
from bearstation.config import StationConfig
from bearstation.desk.settings import session_secret
from bearstation.desk.web import forms, images, pages
from bearstation.desk.web.state import STATIC, DeskState, make_state

SESSION_COOKIE = "bearid_desk"
ENCOUNTER = "/encounter/{agent_id}/{encounter_id}"
INDIVIDUAL = "/individual/{individual_id}"

ROUTES: list[BaseRoute] = [
    *LOGIN_ROUTES,
    Route("/", pages.home),
    Route("/queue", pages.queue),
    Route(ENCOUNTER, pages.encounter),
    Route(ENCOUNTER + "/confirm", forms.confirm, methods=["POST"]),
    Route(ENCOUNTER + "/assign", forms.assign, methods=["POST"]),
    Route(ENCOUNTER + "/create", forms.create, methods=["POST"]),
    Route(ENCOUNTER + "/reject", forms.reject, methods=["POST"]),
    Route("/strangers", pages.strangers),
    Route("/gallery", pages.gallery_page),
    Route("/individuals/create", forms.create_individual, methods=["POST"]),
    Route(INDIVIDUAL, pages.individual),
    Route(INDIVIDUAL + "/name", forms.name, methods=["POST"]),
    Route(INDIVIDUAL + "/merge", forms.merge, methods=["POST"]),
    Route("/decisions", pages.decisions),
    Route("/decisions/{command_id}/undo", forms.undo, methods=["POST"]),
    Route("/media/{sha256:path}", images.media),
]


def create_app(config: StationConfig, engine: Engine, password_hash: str) -> Starlette:
    """The desk on `engine` (the station's database, at the newest revision), checking
    logins against `password_hash`."""
    state = make_state(config, engine, password_hash)
    app = secured_app(ROUTES, state, settings=config.desk, secret=session_secret(engine),
                      cookie=SESSION_COOKIE, app_static=STATIC)  # fmt: skip
    return app


def state_of(app: Starlette) -> DeskState:
    """The desk's state (tests look at it)."""
    state: DeskState = app.state.web
    return state
