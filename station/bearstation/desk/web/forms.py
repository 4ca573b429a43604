"""The desk's forms (POST), each behind the CSRF check (`bearagent.webkit.csrf`): every
action runs in one transaction on a worker thread and comes back to the page it was
taken on, with what it did (or will do, once the box answers) or why it was refused."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from bearagent.errors import BearIdError
from bearagent.webkit.csrf import form_action
from bearstation.desk import actions
from bearstation.desk.actions import DeskResult
from bearstation.desk.views import DeskUser
from bearstation.desk.web.render import back_to, desk_state, flash, user_of

Action = Callable[[Connection, DeskUser], DeskResult]


async def _act(request: Request, form: FormData, action: Action, default_back: str) -> Response:
    state, who = desk_state(request), user_of(request)
    try:
        result = await run_in_threadpool(state.write, lambda conn: action(conn, who))
    except BearIdError as e:
        flash(request, str(e), "refused")
    else:
        flash(request, result.summary)
    return back_to(str(form.get("back", "")), default_back)


def _text(form: FormData, key: str) -> str:
    return str(form.get(key, "")).strip()


def _encounter(request: Request) -> tuple[str, str, str]:
    agent_id, encounter_id = request.path_params["agent_id"], request.path_params["encounter_id"]
    return agent_id, encounter_id, f"/encounter/{agent_id}/{encounter_id}"


@form_action
async def confirm(request: Request, form: FormData) -> Response:
    """Confirm the proposal (sent to the box)."""
    agent, eid, page = _encounter(request)
    return await _act(request, form, lambda c, who: actions.confirm(c, agent, eid, who), page)


@form_action
async def assign(request: Request, form: FormData) -> Response:
    """Assign to the chosen individual (sent to the box)."""
    agent, eid, page = _encounter(request)
    target = _text(form, "individual")
    return await _act(request, form,
                      lambda c, who: actions.assign(c, agent, eid, target, who), page)  # fmt: skip


@form_action
async def create(request: Request, form: FormData) -> Response:
    """A new individual from this encounter (sent to the box)."""
    agent, eid, page = _encounter(request)
    name = _text(form, "name")
    return await _act(request, form,
                      lambda c, who: actions.create(c, agent, eid, name, who), page)  # fmt: skip


@form_action
async def reject(request: Request, form: FormData) -> Response:
    """Reject the ticked chips, or every chip (sent to the box)."""
    agent, eid, page = _encounter(request)
    reason = _text(form, "reason")
    ticked = [v for v in form.getlist("chip") if isinstance(v, str)]
    files = None if _text(form, "all") == "1" else ticked
    return await _act(request, form,
                      lambda c, who: actions.reject(c, agent, eid, reason, who, files),
                      page)  # fmt: skip


@form_action
async def undo(request: Request, form: FormData) -> Response:
    """Undo what a box did for a desk decision (sent to the box)."""
    command_id = request.path_params["command_id"]
    return await _act(request, form, lambda c, who: actions.undo(c, command_id, who),
                      "/decisions")  # fmt: skip


@form_action
async def name(request: Request, form: FormData) -> Response:
    """Name (or rename) an individual of the fleet gallery."""
    ref, new_name = request.path_params["individual_id"], _text(form, "name")
    return await _act(request, form,
                      lambda c, who: actions.name_individual(c, ref, new_name, who),
                      f"/individual/{ref}")  # fmt: skip


@form_action
async def merge(request: Request, form: FormData) -> Response:
    """Merge this individual into the chosen one."""
    source, target = request.path_params["individual_id"], _text(form, "into")
    return await _act(request, form,
                      lambda c, who: actions.merge_individuals(c, source, target, who),
                      f"/individual/{target}")  # fmt: skip


@form_action
async def create_individual(request: Request, form: FormData) -> Response:
    """A new named individual of the fleet gallery."""
    new_name = _text(form, "name")
    station = desk_state(request).config.station.id
    return await _act(request, form,
                      lambda c, who: actions.create_individual(c, new_name, who, station),
                      "/gallery")  # fmt: skip
