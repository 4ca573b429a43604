"""CSRF: every form carries the session's token; a POST without it (or with another) is
refused before its handler runs."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

#: The exact answer to a form without its token.
CSRF_REFUSED = "403 refused: the form's CSRF token is missing or wrong; reload the page"
#: Fields a form may carry at most (a reject form lists chips).
MAX_FIELDS = 2000

FormHandler = Callable[[Request, FormData], Awaitable[Response]]


def form_action(handler: FormHandler) -> Callable[[Request], Awaitable[Response]]:
    """A POST endpoint that runs `handler` only for a form with the session's CSRF token."""

    async def endpoint(request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=MAX_FIELDS)
        sent = form.get("csrf")
        expected = request.session.get("csrf")
        if (
            not isinstance(sent, str)
            or not isinstance(expected, str)
            or not hmac.compare_digest(sent.encode(), expected.encode())
        ):
            return PlainTextResponse(CSRF_REFUSED, status_code=403)
        return await handler(request, form)

    endpoint.__name__ = handler.__name__
    endpoint.__doc__ = handler.__doc__
    return endpoint
