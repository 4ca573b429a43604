"""Chips from the station's media store, by SHA-256, to logged-in people only (the login
check stands in front of every route). A hash is the only name the store knows, so no
path can lead outside its folder; anything else is refused before the store is asked."""

from __future__ import annotations

import re

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from bearagent.webkit.images import image_response, not_found
from bearstation.desk.web.render import desk_state
from bearstation.media.errors import MediaNotFound
from bearstation.tables import media as media_rows

#: The exact answer to a name that is not a SHA-256.
NOT_A_HASH = "403 refused: a chip is named by its SHA-256 (64 hex digits)"
_SHA256 = re.compile(r"[0-9a-f]{64}")


async def media(request: Request) -> Response:
    """``/media/<sha256>``: the chip's bytes as stored (the type its bytes begin with)."""
    sha256: str = request.path_params["sha256"]
    if _SHA256.fullmatch(sha256) is None:
        return PlainTextResponse(NOT_A_HASH, status_code=403)
    state = desk_state(request)

    def read() -> Response:
        content_type = state.read(
            lambda conn: conn.execute(
                select(media_rows.c.content_type).where(media_rows.c.sha256 == sha256)
            ).scalar_one_or_none()
        )
        if content_type is None:
            return not_found()
        try:
            return image_response(state.media.open_bytes(sha256), str(content_type))
        except MediaNotFound:
            return not_found()

    return await run_in_threadpool(read)
