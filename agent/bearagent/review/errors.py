"""The review page's user-facing errors; each message says what went wrong and what to do."""

from bearagent.errors import BearIdError


class ReviewError(BearIdError):
    """Base class of every review problem."""


class PasswordFileError(ReviewError):
    """The password hash file is missing, unreadable or holds no argon2 hash."""


class ActionRefused(ReviewError):
    """A review action that cannot be done now (shown to the person on the page)."""


class NotFound(ReviewError):
    """An encounter, chip, individual or action that does not exist."""


class ExtraMissing(ReviewError):
    """The packages of the ``review`` extra are not installed."""
