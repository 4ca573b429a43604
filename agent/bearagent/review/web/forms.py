"""The forms (POST): login, logout, and the review actions. Every one goes through
`form_action` (CSRF); each action runs in a worker thread on that thread's connection
and comes back to the page it was taken on, with what it did or why it was refused."""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from bearagent.errors import BearIdError
from bearagent.review.actions import ActionResult, Reviewer
from bearagent.review.passwords import verify_password
from bearagent.review.web.auth import safe_next, start_session
from bearagent.review.web.csrf import form_action
from bearagent.review.web.render import app_state, back_to, flash, render

MAX_NAME = 60


def client_address(request: Request) -> str:
    """The address login throttling counts (the proxy's X-Forwarded-For only when the
    proxy is trusted: uvicorn's forwarded_allow_ips sets it)."""
    return request.client.host if request.client else "?"


def throttled(seconds: int, address: str) -> Response:
    """The exact answer to a login attempt that must wait."""
    return PlainTextResponse(
        f"429 too many wrong passwords from {address}: try again in {seconds} s",
        status_code=429,
        headers={"Retry-After": str(seconds)},
    )


async def login_form(request: Request) -> Response:
    """The login page."""
    return render(request, "login.html", next=safe_next(request.query_params.get("next")),
                  error=None)  # fmt: skip


@form_action
async def login(request: Request, form: FormData) -> Response:
    """Check the password (throttled per address) and start a session."""
    state = app_state(request)
    address = client_address(request)
    wait = state.throttle.retry_after(address)
    if wait:
        return throttled(wait, address)
    password = str(form.get("password", ""))
    name = " ".join(str(form.get("name", "")).split())[:MAX_NAME] or "reviewer"
    target = safe_next(str(form.get("next", "")))
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


Action = Callable[[sqlite_utils.Database, Reviewer], ActionResult]


async def _act(request: Request, form: FormData, action: Action, default_back: str) -> Response:
    state = app_state(request)
    who = Reviewer(str(request.session.get("user") or "reviewer"), client_address(request))

    def run() -> ActionResult:
        return action(state.db(), who)

    try:
        result = await run_in_threadpool(run)
    except BearIdError as e:
        flash(request, str(e), "refused")
    else:
        flash(request, f"#{result.action_id}: {result.summary}")
    return back_to(str(form.get("back", "")), default_back)


def _text(form: FormData, key: str) -> str:
    return str(form.get(key, "")).strip()


@form_action
async def confirm(request: Request, form: FormData) -> Response:
    """Confirm the proposal."""
    eid = request.path_params["encounter_id"]
    service = app_state(request).service
    return await _act(request, form, lambda db, who: service.confirm(db, eid, who),
                      f"/encounter/{eid}")  # fmt: skip


@form_action
async def assign(request: Request, form: FormData) -> Response:
    """Assign to the chosen individual."""
    eid, target = request.path_params["encounter_id"], _text(form, "individual")
    service = app_state(request).service
    return await _act(request, form, lambda db, who: service.assign(db, eid, target, who),
                      f"/encounter/{eid}")  # fmt: skip


@form_action
async def create(request: Request, form: FormData) -> Response:
    """Create a new named individual (or name the new provisional one)."""
    eid, name = request.path_params["encounter_id"], _text(form, "name")
    service = app_state(request).service
    return await _act(request, form, lambda db, who: service.create(db, eid, name, who),
                      f"/encounter/{eid}")  # fmt: skip


@form_action
async def reject(request: Request, form: FormData) -> Response:
    """Reject the ticked chips."""
    eid, reason = request.path_params["encounter_id"], _text(form, "reason")
    chips = [int(v) for v in form.getlist("chip") if isinstance(v, str) and v.isdigit()]
    service = app_state(request).service
    return await _act(request, form,
                      lambda db, who: service.reject(db, eid, chips, reason, who),
                      f"/encounter/{eid}")  # fmt: skip


@form_action
async def rename(request: Request, form: FormData) -> Response:
    """Rename (or name) an individual."""
    ind, name = request.path_params["individual_id"], _text(form, "name")
    service = app_state(request).service
    done = await _act(request, form, lambda db, who: service.rename(db, ind, name, who),
                      "/gallery")  # fmt: skip
    return done


@form_action
async def merge(request: Request, form: FormData) -> Response:
    """Merge provisional individual into a named one."""
    source, target = request.path_params["individual_id"], _text(form, "into")
    eid = _text(form, "encounter") or None
    service = app_state(request).service
    return await _act(request, form,
                      lambda db, who: service.merge(db, source, target, who, encounter_id=eid),
                      "/provisional")  # fmt: skip


@form_action
async def undo(request: Request, form: FormData) -> Response:
    """Undo the last action."""
    action_id = int(request.path_params["action_id"])
    service = app_state(request).service
    return await _act(request, form, lambda db, who: service.undo(db, action_id, who), "/audit")


@form_action
async def absorb(request: Request, form: FormData) -> Response:
    """Merge a chosen provisional individual into this named one."""
    target, source = request.path_params["individual_id"], _text(form, "provisional")
    service = app_state(request).service
    return await _act(request, form, lambda db, who: service.merge(db, source, target, who),
                      f"/individual/{target}")  # fmt: skip
