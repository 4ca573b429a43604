"""The pictures: thumbnails from the database, files only from the allowed roots, every
path checked (`bearagent.webkit.files`) before anything is opened."""

from __future__ import annotations

from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from bearagent.review.queries.images import (
    ImageSource,
    reference_image,
    sighting_file,
    sighting_image,
)
from bearagent.review.web.state import AppState
from bearagent.webkit.files import (
    PathRefused,
    find_below,
    read_servable,
    resolve_absolute,
    resolve_below,
)
from bearagent.webkit.images import image_response as _image
from bearagent.webkit.images import not_found, refused


def _state(request: Request) -> AppState:
    state: AppState = request.app.state.web
    return state


def _serve(source: ImageSource | None, state: AppState, extra: list[Path]) -> Response:
    if source is None:
        return not_found()
    if source.jpeg is not None:
        return _image(source.jpeg, "image/jpeg")
    try:
        roots = [*state.cfg.watch.roots, *extra]
        if source.absolute is not None:
            found = resolve_absolute(source.absolute, roots)
        else:
            found = find_below(roots, source.relative or "")
        return _image(read_servable(found), found.media_type)
    except PathRefused as e:
        return refused(e)


async def sighting(request: Request) -> Response:
    """A chip's thumbnail (or its file, when it has none)."""
    state = _state(request)
    sid = int(request.path_params["sighting_id"])
    source = await run_in_threadpool(lambda: sighting_image(state.db(), sid))
    return await run_in_threadpool(_serve, source, state, [])


async def reference(request: Request) -> Response:
    """A reference's thumbnail (or its source image below an allowed root)."""
    state = _state(request)
    rid = int(request.path_params["reference_id"])
    source = await run_in_threadpool(lambda: reference_image(state.db(), rid))
    return await run_in_threadpool(_serve, source, state, list(state.cfg.review.image_roots))


async def chip_file(request: Request) -> Response:
    """A chip at full size, from its file below a watch root."""
    state = _state(request)
    sid = int(request.path_params["sighting_id"])
    relative = await run_in_threadpool(lambda: sighting_file(state.db(), sid))
    if relative is None:
        return not_found()
    return await run_in_threadpool(_serve, ImageSource(None, relative=relative), state, [])


async def root_file(request: Request) -> Response:
    """``/file/<root number>/<path>``: an image below watch root N, checked."""
    state = _state(request)
    roots = state.cfg.watch.roots
    index = int(request.path_params["root"])
    if not 0 <= index < len(roots):
        return not_found(f"404 no watch root number {index}")
    path: str = request.path_params["path"]

    def read() -> Response:
        try:
            found = resolve_below(roots[index], path)
            return _image(read_servable(found), found.media_type)
        except PathRefused as e:
            return refused(e)

    return await run_in_threadpool(read)
