"""The desk's pages (GET): the queue, one encounter, the strangers, the fleet gallery, one
individual, and the decisions sent to boxes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bearstation.desk import candidates
from bearstation.desk.commands import recent_commands, undone_by
from bearstation.desk.errors import DeskNotFound
from bearstation.desk.queries import get_encounter_card, queue_page
from bearstation.desk.views import QueueFilters
from bearstation.desk.web.render import desk_state, render
from bearstation.fleet.gallery_errors import UnknownFleetIndividual

DECISIONS_PAGE = 50


def _int(value: str | None, default: int) -> int:
    try:
        return max(1, int(value or default))
    except ValueError:
        return default


def _date(value: str | None) -> str:
    text = (value or "").strip()
    return text if len(text) == 10 and text[4] == "-" and text[7] == "-" else ""


async def home(request: Request) -> Response:
    """``/``: the queue."""
    return RedirectResponse("/queue", status_code=303)


async def queue(request: Request) -> Response:
    """Every box's encounters waiting for a person, newest first, with filters."""
    state = desk_state(request)
    q = request.query_params
    filters = QueueFilters(
        status=q.get("status", ""), agent_id=q.get("box", ""), site=q.get("site", ""),
        camera=q.get("camera", ""), date_from=_date(q.get("from")), date_to=_date(q.get("to")),
        page=_int(q.get("page"), 1),
    )  # fmt: skip
    desk = state.desk

    def load(conn: Connection) -> dict[str, Any]:
        page = queue_page(conn, filters, desk.page_size, desk.candidate_references)
        return {"page": page, "filters": filters}

    context = await run_in_threadpool(state.read, load)
    return render(request, "queue.html", **context)


async def encounter(request: Request) -> Response:
    """One encounter: all its chips, its candidates' references, the actions, and the
    decisions sent about it."""
    state = desk_state(request)
    agent_id = request.path_params["agent_id"]
    encounter_id = request.path_params["encounter_id"]
    search = request.query_params.get("q", "").strip()

    def load(conn: Connection) -> dict[str, Any]:
        card = get_encounter_card(conn, agent_id, encounter_id, state.desk.candidate_references)
        undone = {c.command_id for c in card.commands if undone_by(conn, c.command_id)}
        return {
            "e": card,
            "search": search,
            "results": candidates.search(conn, search),
            "named": candidates.named_choices(conn, exclude=[card.individual_id or ""]),
            "undone": undone,
        }

    try:
        context = await run_in_threadpool(state.read, load)
    except DeskNotFound as e:
        return render(request, "missing.html", status_code=404, message=str(e))
    return render(request, "encounter.html", **context)


async def strangers(request: Request) -> Response:
    """The fleet's provisional bears, waiting for a name or a merge."""
    state = desk_state(request)

    def load(conn: Connection) -> dict[str, Any]:
        refs = state.desk.candidate_references
        return {
            "cards": candidates.individual_cards(conn, provisional=True, references=refs),
            "named": candidates.named_choices(conn),
        }

    return render(request, "strangers.html", **await run_in_threadpool(state.read, load))


async def gallery_page(request: Request) -> Response:
    """Every individual of the fleet gallery with its reference chips."""
    state = desk_state(request)

    def load(conn: Connection) -> dict[str, Any]:
        refs = state.desk.candidate_references
        return {"cards": candidates.individual_cards(conn, provisional=None, references=refs)}

    return render(request, "gallery.html", **await run_in_threadpool(state.read, load))


async def individual(request: Request) -> Response:
    """One individual: its reference chips, the boxes that saw it, name and merge."""
    state = desk_state(request)
    ref = request.path_params["individual_id"]

    def load(conn: Connection) -> dict[str, Any]:
        card = candidates.individual_card(conn, ref, references=48)
        return {"ind": card, "named": candidates.named_choices(conn, exclude=[card.id])}

    try:
        context = await run_in_threadpool(state.read, load)
    except UnknownFleetIndividual as e:
        return render(request, "missing.html", status_code=404, message=str(e))
    return render(request, "individual.html", **context)


async def decisions(request: Request) -> Response:
    """The decisions sent to boxes, newest first, with the boxes' answers."""
    state = desk_state(request)
    page = _int(request.query_params.get("page"), 1)

    def load(conn: Connection) -> dict[str, Any]:
        made = recent_commands(conn, DECISIONS_PAGE, (page - 1) * DECISIONS_PAGE)
        undone = {c.command_id for c in made if undone_by(conn, c.command_id)}
        return {"commands": made, "undone": undone, "page": page}

    return render(request, "decisions.html", **await run_in_threadpool(state.read, load))
