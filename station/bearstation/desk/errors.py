"""The desk's user-facing errors; each message says what went wrong and what to do."""

from bearstation.errors import StationError


class DeskError(StationError):
    """Base class of every review desk problem."""


class DeskRefused(DeskError):
    """A desk action that cannot be done now (the page and the command show why)."""


class DeskNotFound(DeskError):
    """An encounter, individual or decision the station does not know."""
