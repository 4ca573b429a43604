"""The review page's user-facing errors; each message says what went wrong and what to do."""

from bearagent.errors import BearIdError
from bearagent.webkit.errors import ExtraMissing, PasswordFileError

__all__ = ["ActionRefused", "ExtraMissing", "NotFound", "PasswordFileError", "ReviewError"]


class ReviewError(BearIdError):
    """Base class of every review problem."""


class ActionRefused(ReviewError):
    """A review action that cannot be done now (shown to the person on the page)."""


class NotFound(ReviewError):
    """An encounter, chip, individual or action that does not exist."""
