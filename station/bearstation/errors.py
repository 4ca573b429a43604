"""The station's user-facing errors: each message says what went wrong and what to do."""

from bearagent.errors import BearIdError


class StationError(BearIdError):
    """Base class of every bear-station error a user can cause."""


class BrokerUrlError(StationError):
    """A ``--broker`` URL that cannot be used (scheme, host, port, a password in it)."""


class BrokerSetupError(StationError):
    """Credentials or TLS files of a broker are missing or unreadable."""


class DatabaseError(StationError):
    """The database cannot be opened, or is at another schema revision."""


class IdentityError(StationError):
    """An individual reference that names nothing, or a link that cannot be made."""


class ExportError(StationError):
    """An export cannot be written (missing camera coordinates, an unwritable folder)."""
