"""The review apps' shared user-facing errors; each message says what went wrong and what to do."""

from bearagent.errors import BearIdError


class WebError(BearIdError):
    """Base class of the shared web code's problems."""


class PasswordFileError(WebError):
    """The password hash file is missing, unreadable or holds no argon2 hash."""


class ExtraMissing(WebError):
    """The packages of the ``review`` extra are not installed."""
