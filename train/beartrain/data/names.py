"""What a file name tells: capture time, camera, and the video clip or shot series it is from.

`DataConfig.filename_pattern` is a regular expression with named groups. Python
forbids two groups with one name, so alternatives number them (``time``,
``time2``, ``clip3``): a group counts for the field its name starts with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import PurePosixPath
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from beartrain.data.config import DataConfig
from beartrain.data.errors import DataConfigError

_FIELDS = ("time", "end", "camera", "clip", "frame")


@dataclass(frozen=True)
class NameFields:
    """The fields a file name carries; None (or "") where it carries none."""

    time: datetime | None = None
    end: datetime | None = None
    camera: str = ""
    clip: str = ""
    frame: int | None = None


class NameParser:
    """Parses file names with the pattern, time formats and timezone of a `DataConfig`."""

    def __init__(self, cfg: DataConfig) -> None:
        try:
            self.pattern = re.compile(cfg.filename_pattern)
        except re.error as e:
            raise DataConfigError(
                f"filename_pattern is not a valid regular expression ({e}): fix it or "
                "leave it out to use the default"
            ) from e
        self.formats = cfg.filename_time_formats
        self.timezone = load_timezone(cfg.timezone)

    def parse(self, path: str) -> NameFields:
        """The fields of the file name (without extension) of `path`."""
        match = self.pattern.search(PurePosixPath(path).stem)
        if match is None:
            return NameFields()
        found: dict[str, str] = {}
        for name, value in match.groupdict().items():
            field = name.rstrip("0123456789")
            if value and field in _FIELDS and field not in found:
                found[field] = value
        frame = found.get("frame", "")
        return NameFields(
            time=self._time(found.get("time", "")),
            end=self._time(found.get("end", "")),
            camera=found.get("camera", ""),
            clip=found.get("clip", ""),
            frame=int(frame) if frame.isdigit() else None,
        )

    def _time(self, text: str) -> datetime | None:
        for fmt in self.formats:
            try:
                return localise(datetime.strptime(text, fmt), self.timezone)
            except ValueError:
                continue
        return None


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
