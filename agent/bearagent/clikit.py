"""What the three command-line programs share: error reporting and the version flag.

A command parses options and calls one library function; a `BearIdError` from
the library becomes a one-line ``Error: ...`` on stderr and exit status 1, never a
traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from bearagent import __version__
from bearagent.errors import BearIdError


class ErrorReportingGroup(click.Group):
    """A click group that turns bearid's user-facing exceptions into ``Error: ...``."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BearIdError as e:
            raise click.ClickException(str(e)) from e


F = TypeVar("F", bound=Callable[..., Any])


def version_option() -> Callable[[F], F]:
    """``--version``, printing the program name and the bearid version."""
    return click.version_option(
        __version__, "--version", prog_name=None, message="%(prog)s %(version)s"
    )
