"""The forms (POST) of the review actions (login and logout: `bearagent.webkit.login`).
Every one goes through `form_action` (CSRF); each action runs in a worker thread on that
thread's connection and comes back to the page it was taken on, with what it did or why
it was refused."""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from bearagent.errors import BearIdError
from bearagent.review.actions import ActionResult, Reviewer
from bearagent.review.web.render import app_state, back_to, flash
from bearagent.webkit.csrf import form_action
from bearagent.webkit.render import client_address

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
