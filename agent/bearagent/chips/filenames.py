"""What a file name tells: capture time, camera, and the video clip or shot series it is from.

One implementation for the agent and bear-train (``watch`` capture times and
``bear-train inspect``). A pattern is a regular expression with named groups.
Python forbids two groups with one name, so alternatives number them (``time``,
``time2``, ``clip3``): a group counts for the field its name starts with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import PurePosixPath

from bearagent.errors import BearIdError

#: Default file-name pattern: one alternative per naming scheme, tried left to right.
DEFAULT_FILENAME_PATTERN = "|".join(
    (
        # camera trap (and bear-train synth): cam02_20260514-061502_00042
        r"^(?P<camera>[A-Za-z]+\d+)_(?P<time>\d{8}-\d{6})_",
        # video clip frame: <clip start>_<clip end>[_<export date>_<export time>]_<frame>
        r"^(?P<clip>(?P<time2>\d{14})_(?P<end>\d{14}))_(?:\d{8}_\d{8}_)?(?P<frame>\d+)",
        # camera recording: J29_2025.03.2623_12_18_manual_<export date>_<time>_<frame>
        r"^(?P<clip2>(?P<camera2>[A-Za-z]+\d+)_(?P<time3>\d{4}\.\d{2}\.\d{4}_\d{2}_\d{2}))"
        r"_manual_\d{8}_\d{8}_(?P<frame2>\d+)",
        # manual shot series: 331-2-5-3(1), 403-1-7-7-(2), 330-1-6-8_(3), 001(4)
        r"^(?P<clip3>\d+(?:-\d+)*?)[-_]?\((?P<frame3>\d+)\)$",
        # manual shot series numbered with a fifth field: 414-1-2-7-1
        r"^(?P<clip4>\d+(?:-\d+){3})-(?P<frame4>\d+)$",
        # a single manual shot: 403-1-9-4
        r"^(?P<clip5>\d+(?:-\d+)+)$",
        # camtrapR imageRename: StationA__CameraB__2026-07-01__14-00-00(1)
        r"__(?P<time4>\d{4}-\d{2}-\d{2}__\d{2}-\d{2}-\d{2})(?:\(\d+\))?$",
        # a date and time anywhere: IMG_20260701_140000, 2026-07-01 14-00-00, 20260701T140000
        r"(?<!\d)(?P<time5>(?:19|20)\d{2}-?[01]\d-?[0-3]\d[ _T-]?"
        r"[0-2]\d[-:._]?[0-5]\d[-:._]?[0-5]\d)(?!\d)",
    )
)
#: strptime formats tried in order on a time group (then its digits as %Y%m%d%H%M%S).
DEFAULT_TIME_FORMATS = ("%Y%m%d-%H%M%S", "%Y%m%d%H%M%S", "%Y.%m.%d%H_%M_%S", "%Y-%m-%d__%H-%M-%S")

_FIELDS = ("time", "end", "camera", "clip", "frame")


class FileNamePatternError(BearIdError):
    """A file-name pattern that is not a valid regular expression."""


@dataclass(frozen=True)
class NameFields:
    """The fields a file name carries; None (or "") where it carries none."""

    time: datetime | None = None
    end: datetime | None = None
    camera: str = ""
    clip: str = ""
    frame: int | None = None


class FileNamePattern:
    """Parses file names with a pattern, time formats and the timezone of naive times."""

    def __init__(
        self,
        pattern: str = DEFAULT_FILENAME_PATTERN,
        time_formats: tuple[str, ...] = DEFAULT_TIME_FORMATS,
        timezone: tzinfo | None = None,
        *,
        setting: str = "filename_pattern",
    ) -> None:
        try:
            self.pattern = re.compile(pattern)
        except re.error as e:
            raise FileNamePatternError(
                f"{setting} is not a valid regular expression ({e}): fix it or "
                "leave it out to use the default"
            ) from e
        self.formats = time_formats
        self.timezone = timezone

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

    def capture_time(self, path: str) -> datetime | None:
        """The capture time the name carries (timezone attached), if any."""
        return self.parse(path).time

    def _time(self, text: str) -> datetime | None:
        if not text:
            return None
        digits = re.sub(r"\D", "", text)
        for fmt, value in [(f, text) for f in self.formats] + [("%Y%m%d%H%M%S", digits)]:
            try:
                when = datetime.strptime(value, fmt)
            except ValueError:
                continue
            return when if when.tzinfo is not None or self.timezone is None else (
                when.replace(tzinfo=self.timezone)
            )  # fmt: skip
        return None
