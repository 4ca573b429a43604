"""Rendering a page: the template with what every page needs (who is logged in, the CSRF
token for its forms, the messages of the last action, the app's own page context)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse

from bearagent.webkit.auth import csrf_token
from bearagent.webkit.site import WebState


def web_state(request: Request) -> WebState:
    """The application's state (``app.state.web``)."""
    state: WebState = request.app.state.web
    return state


def flash(request: Request, text: str, kind: str = "done") -> None:
    """A message for the next page (``done`` or ``refused``)."""
    messages = list(request.session.get("flash", []))
    messages.append([kind, text])
    request.session["flash"] = messages[-5:]


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """The page `template` with `context`."""
    state = web_state(request)
    messages = request.session.pop("flash", [])
    page = state.templates.get_template(template).render(
        user=request.session.get("user"),
        csrf=csrf_token(request.session),
        messages=messages,
        path=request.url.path,
        **state.page_context(),
        **context,
    )
    return HTMLResponse(page, status_code=status_code)


def back_to(target: str | None, default: str) -> RedirectResponse:
    """Where a form returns to: a local path it named, else `default`."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        target = default
    return RedirectResponse(target, status_code=303)


def client_address(request: Request) -> str:
    """The address login throttling counts and the audit records (the proxy's
    X-Forwarded-For only when the proxy is trusted: uvicorn's forwarded_allow_ips sets it)."""
    return request.client.host if request.client else "?"
