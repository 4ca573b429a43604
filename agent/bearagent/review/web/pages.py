"""The pages (GET): queue, encounter, gallery, individual, provisional bears, audit log."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bearagent.errors import BearIdError
from bearagent.gallery.errors import UnknownIndividual
from bearagent.review import plans
from bearagent.review.errors import NotFound
from bearagent.review.queries import audit, encounters, gallery
from bearagent.review.queries.types import CandidateView, QueueFilters
from bearagent.review.timeline import timeline
from bearagent.review.web.render import app_state, render

AUDIT_PAGE = 50


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
    """Encounters waiting for a person, newest first, with filters."""
    state = app_state(request)
    q = request.query_params
    filters = QueueFilters(
        site=q.get("site", ""), camera=q.get("camera", ""), date_from=_date(q.get("from")),
        date_to=_date(q.get("to")), status=q.get("status", ""), page=_int(q.get("page"), 1),
    )  # fmt: skip
    review = state.cfg.review

    def load() -> dict[str, Any]:
        db = state.db()
        page = encounters.queue_page(db, filters, review.page_size, review.candidate_references)
        cap, roots = review.max_references_per_individual, state.cfg.watch.roots
        planned = {e.id: plans.encounter_plans(db, e, cap, roots) for e in page.encounters}
        return {"page": page, "filters": filters, "plans": planned}

    return render(request, "queue.html", **await run_in_threadpool(load))


async def encounter(request: Request) -> Response:
    """One encounter: its chips, its candidates' references, and the actions."""
    state = app_state(request)
    encounter_id = request.path_params["encounter_id"]
    search = request.query_params.get("q", "").strip()
    review = state.cfg.review

    def load() -> dict[str, Any]:
        db = state.db()
        view = encounters.get_encounter(db, encounter_id, review.candidate_references)
        cap, roots = review.max_references_per_individual, state.cfg.watch.roots
        found = gallery.search_individuals(db, search, exclude=[view.individual_id or ""])
        choices = []
        for card in found:
            try:
                target = gallery.individual(db, card.id)
                choices.append((card, plans.assign_plan(db, view, target, cap, roots)))
            except BearIdError:
                continue
        candidates: list[tuple[CandidateView, plans.Plan | None]] = []
        for c in view.candidates:
            if c.kind == "gone" or c.individual_id == view.individual_id:
                candidates.append((c, None))
                continue
            target = gallery.individual(db, c.individual_id)
            candidates.append((c, plans.assign_plan(db, view, target, cap, roots)))
        return {
            "e": view,
            "plans": plans.encounter_plans(db, view, cap, roots),
            "candidates": candidates,
            "search": search,
            "results": choices,
            "named": gallery.named_individuals(db),
        }

    try:
        context = await run_in_threadpool(load)
    except NotFound as e:
        return render(request, "missing.html", status_code=404, message=str(e))
    return render(request, "encounter.html", **context)


async def gallery_page(request: Request) -> Response:
    """Every individual with its reference chips."""
    state = app_state(request)
    cards = await run_in_threadpool(lambda: gallery.individual_cards(state.db()))
    return render(request, "gallery.html", cards=cards)


async def provisional(request: Request) -> Response:
    """The provisional bears waiting for a name."""
    state = app_state(request)

    def load() -> dict[str, Any]:
        db = state.db()
        return {
            "cards": gallery.individual_cards(db, kind="provisional"),
            "named": gallery.named_individuals(db),
        }

    return render(request, "provisional.html", **await run_in_threadpool(load))


async def individual(request: Request) -> Response:
    """One individual: references, sighting history (timeline, per camera), rename, merge."""
    state = app_state(request)
    ref = request.path_params["individual_id"]

    def load() -> dict[str, Any]:
        db = state.db()
        ind = gallery.individual(db, ref)
        history = gallery.encounters_of(db, ind.id)
        return {
            "ind": ind,
            "references": gallery.references_of(db, ind.id),
            "history": history,
            "plot": timeline(history),
            "cameras": gallery.per_camera(db, ind.id),
            "named": [n for n in gallery.named_individuals(db) if n[0] != ind.id],
            "provisional": [c for c in gallery.individual_cards(db, kind="provisional")],
            "cap": state.cfg.review.max_references_per_individual,
        }

    try:
        context = await run_in_threadpool(load)
    except UnknownIndividual as e:
        return render(request, "missing.html", status_code=404, message=str(e))
    return render(request, "individual.html", **context)


async def audit_page(request: Request) -> Response:
    """What people did, newest first, with the undo of the last action."""
    state = app_state(request)
    page = _int(request.query_params.get("page"), 1)

    def load() -> dict[str, Any]:
        db = state.db()
        total = audit.action_count(db)
        return {
            "actions": audit.recent_actions(db, AUDIT_PAGE, (page - 1) * AUDIT_PAGE),
            "undoable": audit.undoable(db),
            "page": page,
            "pages": max(1, -(-total // AUDIT_PAGE)),
        }

    return render(request, "audit.html", **await run_in_threadpool(load))
