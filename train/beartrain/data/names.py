"""What a file name tells, for bear-train: `bearagent.chips.filenames` (shared with the
agent) configured from `DataConfig`."""

from __future__ import annotations

from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bearagent.chips.filenames import FileNamePattern, FileNamePatternError, NameFields
from beartrain.data.config import DataConfig
from beartrain.data.errors import DataConfigError

__all__ = ["NameFields", "NameParser", "load_timezone", "localise"]


class NameParser(FileNamePattern):
    """Parses file names with the pattern, time formats and timezone of a `DataConfig`."""

    def __init__(self, cfg: DataConfig) -> None:
        try:
            super().__init__(cfg.filename_pattern, cfg.filename_time_formats,
                             load_timezone(cfg.timezone))  # fmt: skip
        except FileNamePatternError as e:
            raise DataConfigError(str(e)) from e
        self.timezone: tzinfo = load_timezone(cfg.timezone)


def load_timezone(name: str) -> tzinfo:
    """The IANA timezone `name`, or a `DataConfigError` saying how to name one."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise DataConfigError(
            f"unknown timezone {name!r}: use an IANA name such as 'UTC' or 'Europe/Ljubljana'"
        ) from e


def localise(when: datetime, zone: tzinfo) -> datetime:
    """`when` with `zone` attached when it carries no offset of its own."""
    return when if when.tzinfo is not None else when.replace(tzinfo=zone)
