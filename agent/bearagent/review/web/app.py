"""`create_app`: the review page as an ASGI application.

Middleware, outermost first: security headers, the signed session cookie
(HttpOnly, SameSite=Strict, Secure over TLS), the login check. Then the routes:
pages (GET), forms (POST, each with its CSRF check), images.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bearagent.config import AgentConfig
from bearagent.review.schema import ensure_schema, session_secret
from bearagent.review.web import forms, images, pages
from bearagent.review.web.auth import LoginRequired
from bearagent.review.web.headers import SecurityHeaders
from bearagent.review.web.state import STATIC, AppState, make_state
from bearagent.store import open_database

SESSION_COOKIE = "bearid_review"

ROUTES = [
    Route("/", pages.home),
    Route("/login", forms.login_form, methods=["GET"]),
    Route("/login", forms.login, methods=["POST"]),
    Route("/logout", forms.logout, methods=["POST"]),
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
    Mount("/static", StaticFiles(directory=STATIC), name="static"),
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
    review = cfg.review

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        state.close()

    app = Starlette(
        routes=ROUTES,
        middleware=[
            Middleware(SecurityHeaders),
            Middleware(
                SessionMiddleware,
                secret_key=secret,
                session_cookie=SESSION_COOKIE,
                max_age=int(review.session_hours * 3600),
                same_site="strict",
                https_only=review.cookie_secure,
            ),
            Middleware(LoginRequired, state=state),
        ],
        lifespan=lifespan,
    )
    app.state.review = state
    return app


def state_of(app: Starlette) -> AppState:
    """The application's state (tests look at it)."""
    state: AppState = app.state.review
    return state
