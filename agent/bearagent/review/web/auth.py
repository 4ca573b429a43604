"""The one login check in front of every route, and what a session holds.

`LoginRequired` wraps the whole router, so a route added later is behind the login
too; only the login form and the page's own stylesheet are public. A session (a
signed, HttpOnly, SameSite=Strict cookie: Starlette's SessionMiddleware) holds the
reviewer's name, when they logged in, a fingerprint of the password hash (a new
password ends old sessions) and the CSRF token of its forms.
"""

from __future__ import annotations

import secrets
import time
from typing import Any
from urllib.parse import quote

from starlette.requests import HTTPConnection
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from bearagent.review.web.state import AppState

#: The exact answer to a request without a session (images, forms, anything not a page).
LOGIN_REQUIRED = "401 log in first: the review page needs a session"
#: Paths anyone may fetch.
PUBLIC_PATHS = ("/login",)
PUBLIC_PREFIXES = ("/static/",)
#: Pages a browser is sent to the login form from (everything else gets the 401).
_PAGE_PREFIXES = ("/queue", "/encounter", "/gallery", "/individual", "/provisional", "/audit")


def logged_in(session: dict[str, Any], state: AppState) -> bool:
    """Whether the session belongs to someone who logged in with the current password and
    whose login has not expired."""
    user, at, mark = session.get("user"), session.get("login_at"), session.get("pw")
    if not isinstance(user, str) or not isinstance(at, int | float) or mark != state.password_mark:
        return False
    return 0 <= time.time() - at < state.cfg.review.session_hours * 3600


def start_session(session: dict[str, Any], state: AppState, name: str) -> None:
    """A fresh session for `name` (with a new CSRF token)."""
    session.clear()
    session.update(
        user=name, login_at=int(time.time()), pw=state.password_mark,
        csrf=secrets.token_urlsafe(32),
    )  # fmt: skip


def csrf_token(session: dict[str, Any]) -> str:
    """The session's CSRF token (made on first use, also for the login form)."""
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def safe_next(target: str | None) -> str:
    """A local path to return to after login (never another site)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/queue"
    return target


class LoginRequired:
    """ASGI middleware: no session, no page (a redirect to the login form) and nothing
    else either (401)."""

    def __init__(self, app: ASGIApp, state: AppState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        if logged_in(connection.session, self.state):
            scope.setdefault("state", {})["user"] = connection.session["user"]
            await self.app(scope, receive, send)
            return
        await self._refuse(scope, path)(scope, receive, send)

    @staticmethod
    def _refuse(scope: Scope, path: str) -> Response:
        page = path == "/" or path.startswith(_PAGE_PREFIXES)
        if scope.get("method") == "GET" and page:
            query = scope.get("query_string", b"").decode("latin-1")
            target = path + (f"?{query}" if query else "")
            return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
        return PlainTextResponse(LOGIN_REQUIRED, status_code=401)
