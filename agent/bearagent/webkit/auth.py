"""The one login check in front of every route, and what a session holds.

`LoginRequired` wraps the whole router, so a route added later is behind the login
too; only the app's `Gate.public_paths` (the login form) and public prefixes (the
stylesheet) are open. A session (a signed, HttpOnly, SameSite=Strict cookie:
Starlette's SessionMiddleware) holds the person's name, when they logged in, a
fingerprint of the password hash (a new password ends old sessions) and the CSRF
token of its forms.
"""

from __future__ import annotations

import secrets
import time
from typing import Any
from urllib.parse import quote

from starlette.requests import HTTPConnection
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from bearagent.webkit.site import Gate, WebState, password_mark


def logged_in(session: dict[str, Any], state: WebState) -> bool:
    """Whether the session belongs to someone who logged in with the current password and
    whose login has not expired."""
    user, at, mark = session.get("user"), session.get("login_at"), session.get("pw")
    if not isinstance(user, str) or not isinstance(at, int | float):
        return False
    if mark != password_mark(state.password_hash):
        return False
    return 0 <= time.time() - at < state.session_hours * 3600


def start_session(session: dict[str, Any], state: WebState, name: str) -> None:
    """A fresh session for `name` (with a new CSRF token)."""
    session.clear()
    session.update(
        user=name, login_at=int(time.time()), pw=password_mark(state.password_hash),
        csrf=secrets.token_urlsafe(32),
    )  # fmt: skip


def csrf_token(session: dict[str, Any]) -> str:
    """The session's CSRF token (made on first use, also for the login form)."""
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def safe_next(target: str | None, home: str = "/queue") -> str:
    """A local path to return to after login (never another site); `home` otherwise."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return home
    return target


class LoginRequired:
    """ASGI middleware: no session, no page (a redirect to the login form) and nothing
    else either (401 with the gate's text)."""

    def __init__(self, app: ASGIApp, state: WebState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        gate = self.state.gate
        path: str = scope.get("path", "")
        if path in gate.public_paths or path.startswith(gate.public_prefixes):
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        if logged_in(connection.session, self.state):
            scope.setdefault("state", {})["user"] = connection.session["user"]
            await self.app(scope, receive, send)
            return
        await _refusal(scope, path, gate)(scope, receive, send)


def _refusal(scope: Scope, path: str, gate: Gate) -> Response:
    page = path == "/" or path.startswith(gate.page_prefixes)
    if scope.get("method") == "GET" and page:
        query = scope.get("query_string", b"").decode("latin-1")
        target = path + (f"?{query}" if query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
    return PlainTextResponse(gate.login_required, status_code=401)
