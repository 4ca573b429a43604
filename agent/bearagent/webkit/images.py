"""Answers with pictures: the bytes with a private cache header, or the exact refusal."""

from __future__ import annotations

from starlette.responses import PlainTextResponse, Response

from bearagent.webkit.files import PathRefused

#: Pictures may be cached by the person's own browser only.
CACHE = "private, max-age=86400"
NOT_FOUND = "404 no such image"


def image_response(data: bytes, media_type: str) -> Response:
    """The picture's bytes."""
    return Response(data, media_type=media_type, headers={"Cache-Control": CACHE})


def not_found(text: str = NOT_FOUND) -> Response:
    """A 404 with `text` (``404 ...``)."""
    return PlainTextResponse(text, status_code=404)


def refused(e: PathRefused) -> Response:
    """403 with the refusal's reason (404 for a file that is not there)."""
    code = 404 if e.reason.startswith("not found") else 403
    return PlainTextResponse(f"{code} {e.reason}", status_code=code)
