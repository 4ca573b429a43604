"""The station's user-facing errors: each message says what went wrong and what to do.

A broker's URL, credentials and TLS files are the wire's (`bearagent.wire.errors`).
"""

from bearagent.errors import BearIdError


class StationError(BearIdError):
    """Base class of every bear-station error a user can cause."""


class DatabaseError(StationError):
    """The database cannot be opened, or is at another schema revision."""


class IdentityError(StationError):
    """An individual reference that names nothing, or a link that cannot be made."""


class ExportError(StationError):
    """An export cannot be written (missing camera coordinates, an unwritable folder)."""
