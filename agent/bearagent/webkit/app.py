"""`secured_app`: a review app with the shared edge in place.

Middleware, outermost first: security headers, the signed session cookie (HttpOnly,
SameSite=Strict, Secure over TLS), the login check. Then the app's routes (with
`LOGIN_ROUTES`) and the stylesheets under ``/static``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from bearagent.webkit.auth import LoginRequired
from bearagent.webkit.headers import SecurityHeaders
from bearagent.webkit.listen import WebSettings
from bearagent.webkit.site import STATIC, WebState

Lifespan = Callable[[Starlette], AbstractAsyncContextManager[None]]


def static_files(app_static: Path | None = None) -> StaticFiles:
    """The shared stylesheet, and the app's own static folder before it."""
    if app_static is None:
        return StaticFiles(directory=STATIC)
    return StaticFiles(directory=app_static, packages=[("bearagent.webkit", "static")])


def secured_app(
    routes: Sequence[BaseRoute],
    state: WebState,
    *,
    settings: WebSettings,
    secret: str,
    cookie: str,
    lifespan: Lifespan | None = None,
    app_static: Path | None = None,
) -> Starlette:
    """The app: `routes` (the app's, with `bearagent.webkit.login.LOGIN_ROUTES`) and
    ``/static`` behind the shared edge;
    `secret` signs the session cookie named `cookie`; `state` is ``app.state.web``."""
    kwargs: dict[str, Any] = {} if lifespan is None else {"lifespan": lifespan}
    app = Starlette(
        routes=[*routes, Mount("/static", static_files(app_static), name="static")],
        middleware=[
            Middleware(SecurityHeaders),
            Middleware(
                SessionMiddleware,
                secret_key=secret,
                session_cookie=cookie,
                max_age=int(settings.session_hours * 3600),
                same_site="strict",
                https_only=settings.cookie_secure,
            ),
            Middleware(LoginRequired, state=state),
        ],
        **kwargs,
    )
    app.state.web = state
    return app
