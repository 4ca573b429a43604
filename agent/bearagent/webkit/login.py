"""The login form, the login (throttled per client address) and the logout."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from bearagent.webkit.auth import safe_next, start_session
from bearagent.webkit.csrf import form_action
from bearagent.webkit.passwords import verify_password
from bearagent.webkit.render import client_address, render, web_state

#: Longest name a person may give at login (recorded with every action).
MAX_NAME = 60


def throttled(seconds: int, address: str) -> Response:
    """The exact answer to a login attempt that must wait."""
    return PlainTextResponse(
        f"429 too many wrong passwords from {address}: try again in {seconds} s",
        status_code=429,
        headers={"Retry-After": str(seconds)},
    )


async def login_form(request: Request) -> Response:
    """The login page."""
    home = web_state(request).gate.home
    return render(request, "login.html", next=safe_next(request.query_params.get("next"), home),
                  error=None)  # fmt: skip


@form_action
async def login(request: Request, form: FormData) -> Response:
    """Check the password (throttled per address) and start a session."""
    state = web_state(request)
    address = client_address(request)
    wait = state.throttle.retry_after(address)
    if wait:
        return throttled(wait, address)
    password = str(form.get("password", ""))
    name = " ".join(str(form.get("name", "")).split())[:MAX_NAME] or "reviewer"
    target = safe_next(str(form.get("next", "")), state.gate.home)
    if not await run_in_threadpool(verify_password, state.password_hash, password):
        wait = state.throttle.failed(address)
        if wait:
            return throttled(wait, address)
        return render(request, "login.html", status_code=401, next=target,
                      error="wrong password")  # fmt: skip
    state.throttle.succeeded(address)
    start_session(request.session, state, name)
    return RedirectResponse(target, status_code=303)


@form_action
async def logout(request: Request, form: FormData) -> Response:
    """End the session."""
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


#: The routes every app has.
LOGIN_ROUTES = [
    Route("/login", login_form, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
]
