"""`create_app`: the review page as an ASGI application.

The shared edge (`bearagent.webkit.app.secured_app`): security headers, the signed
session cookie (HttpOnly, SameSite=Strict, Secure over TLS), the login check. Then
the routes: login, pages (GET), forms (POST, each with its CSRF check), images.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Route

from bearagent.config import AgentConfig
from bearagent.review.schema import ensure_schema, session_secret
from bearagent.review.web import forms, images, pages
from bearagent.review.web.state import AppState, make_state
from bearagent.store import open_database
from bearagent.webkit.app import secured_app
from bearagent.webkit.login import LOGIN_ROUTES

SESSION_COOKIE = "bearid_review"

ROUTES: list[BaseRoute] = [
    *LOGIN_ROUTES,
    Route("/", pages.home),
    Route("/queue", pages.queue),
    Route("/encounter/{encounter_id}", pages.encounter),
    Route("/encounter/{encounter_id}/confirm", forms.confirm, methods=["POST"]),
    Route("/encounter/{encounter_id}/assign", forms.assign, methods=["POST"]),
    Route("/encounter/{encounter_id}/create", forms.create, methods=["POST"]),
    Route("/encounter/{encounter_id}/reject", forms.reject, methods=["POST"]),
    Route("/gallery", pages.gallery_page),
    Route("/provisional", pages.provisional),
    Route("/individual/{individual_id}", pages.individual),
    Route("/individual/{individual_id}/rename", forms.rename, methods=["POST"]),
    Route("/individual/{individual_id}/merge", forms.merge, methods=["POST"]),
    Route("/individual/{individual_id}/absorb", forms.absorb, methods=["POST"]),
    Route("/audit", pages.audit_page),
    Route("/audit/{action_id:int}/undo", forms.undo, methods=["POST"]),
    Route("/image/sighting/{sighting_id:int}", images.sighting),
    Route("/image/reference/{reference_id:int}", images.reference),
    Route("/chip/{sighting_id:int}", images.chip_file),
    Route("/file/{root:int}/{path:path}", images.root_file),
]


def create_app(cfg: AgentConfig, password_hash: str) -> Starlette:
    """The review application on `cfg`'s database, checking logins against `password_hash`."""
    db = open_database(cfg.agent.database_path)
    try:
        ensure_schema(db)
        secret = session_secret(db)
    finally:
        db.conn.close()
    state = make_state(cfg, password_hash)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        state.close()

    app = secured_app(ROUTES, state, settings=cfg.review, secret=secret, cookie=SESSION_COOKIE,
                      lifespan=lifespan)  # fmt: skip
    app.state.review = state
    return app


def state_of(app: Starlette) -> AppState:
    """The application's state (tests look at it)."""
    state: AppState = app.state.review
    return state
