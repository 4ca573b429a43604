"""Reading typed values out of a schema-valid payload."""

from __future__ import annotations

from datetime import datetime


class PayloadProblem(ValueError):
    """A schema-valid payload that still cannot be stored (e.g. a date that does not exist).

    The batch writer puts its message in the quarantine with this reason.
    """


def parse_time(text: str, what: str) -> datetime:
    """An aware datetime from the payload's ISO 8601 text."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise PayloadProblem(f"{what} {text!r} is not a valid date and time") from None
    if value.utcoffset() is None:
        raise PayloadProblem(f"{what} {text!r} has no UTC offset")
    return value


def offset_minutes(value: datetime) -> int:
    """The UTC offset of an aware datetime, in minutes (the camera's local time)."""
    offset = value.utcoffset()
    return 0 if offset is None else int(offset.total_seconds() // 60)
