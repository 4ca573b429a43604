"""A chip's capture time, from the best source it has.

In this order: a sidecar ``<chip>.json`` that an upstream detector wrote before
renaming the chip into place (``captured_at``, and optionally the source frame,
box, detector score and name, which the sighting keeps); EXIF
``DateTimeOriginal`` (with ``OffsetTimeOriginal`` when present); the file-name
patterns (`bearagent.chips.filenames`); then the file's modification time, which
dates the copy rather than the camera and is counted and reported as such.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, Literal

from bearagent.chips.exif import read_capture_time
from bearagent.chips.filenames import FileNamePattern

log = logging.getLogger(__name__)

TimeSource = Literal["sidecar", "exif", "filename", "mtime"]
#: Time sources, best first.
TIME_SOURCES: tuple[TimeSource, ...] = ("sidecar", "exif", "filename", "mtime")
#: Sidecars larger than this are not read (a detector's note is a few hundred bytes).
MAX_SIDECAR_BYTES = 64 * 1024


@dataclass(frozen=True)
class Detection:
    """What an upstream detector said about a chip (from its sidecar)."""

    source_frame: str | None = None
    box: tuple[float, float, float, float] | None = None  # x, y, width, height in pixels
    score: float | None = None
    detector: str | None = None


@dataclass(frozen=True)
class Sidecar:
    """A parsed ``<chip>.json``."""

    captured_at: datetime | None
    detection: Detection | None


@dataclass(frozen=True)
class CaptureTime:
    """When a chip was taken, where that came from, and its detection if a sidecar said."""

    when: datetime
    source: TimeSource
    detection: Detection | None = None


def sidecar_path(chip: Path) -> Path:
    """Where a chip's sidecar lives: the chip's file name plus ``.json``."""
    return chip.with_name(chip.name + ".json")


def read_sidecar(chip: Path, timezone: tzinfo) -> Sidecar | None:
    """The chip's sidecar, or None when there is none; a broken one is logged and ignored.

    A sidecar never stops a chip from being processed: its chip is still dated
    by the next source, and the log names the file and what is wrong with it.
    """
    path = sidecar_path(chip)
    try:
        if path.stat().st_size > MAX_SIDECAR_BYTES:
            log.warning("ignoring sidecar %s: larger than %d bytes", path, MAX_SIDECAR_BYTES)
            return None
        data: Any = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        log.warning("ignoring sidecar %s: %s (write it as a JSON object)", path, e)
        return None
    if not isinstance(data, dict):
        log.warning("ignoring sidecar %s: not a JSON object", path)
        return None
    return Sidecar(_captured_at(data, path, timezone), _detection(data, path))


def _captured_at(data: dict[str, Any], path: Path, timezone: tzinfo) -> datetime | None:
    raw = data.get("captured_at")
    if raw is None:
        return None
    try:
        when = datetime.fromisoformat(str(raw))
    except ValueError:
        log.warning(
            "sidecar %s: captured_at %r is not ISO 8601 (e.g. 2026-07-01T14:00:00+02:00)", path, raw
        )
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone)


def _detection(data: dict[str, Any], path: Path) -> Detection | None:
    box_raw, score_raw = data.get("box"), data.get("score")
    box: tuple[float, float, float, float] | None = None
    if isinstance(box_raw, list | tuple) and len(box_raw) == 4 and all(_number(v) for v in box_raw):
        box = (float(box_raw[0]), float(box_raw[1]), float(box_raw[2]), float(box_raw[3]))
    elif box_raw is not None:
        log.warning("sidecar %s: box must be [x, y, width, height], got %r", path, box_raw)
    score = float(score_raw) if isinstance(score_raw, int | float) and _number(score_raw) else None
    frame, detector = data.get("source_frame"), data.get("detector")
    detection = Detection(
        source_frame=str(frame) if isinstance(frame, str) else None,
        box=box,
        score=score,
        detector=str(detector) if isinstance(detector, str) else None,
    )
    return None if detection == Detection() else detection


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def capture_time(
    chip: Path,
    relative: str,
    data: bytes,
    mtime: float,
    names: FileNamePattern,
    timezone: tzinfo,
    *,
    sidecars: bool = True,
) -> CaptureTime:
    """The chip's capture time from the best source it has (see the module docstring)."""
    sidecar = read_sidecar(chip, timezone) if sidecars else None
    detection = sidecar.detection if sidecar else None
    if sidecar is not None and sidecar.captured_at is not None:
        return CaptureTime(sidecar.captured_at, "sidecar", detection)
    exif = read_capture_time(data)
    if exif is not None:
        return CaptureTime(
            exif if exif.tzinfo else exif.replace(tzinfo=timezone), "exif", detection
        )
    named = names.capture_time(relative)
    if named is not None:
        return CaptureTime(named if named.tzinfo else named.replace(tzinfo=timezone), "filename",
                           detection)  # fmt: skip
    return CaptureTime(datetime.fromtimestamp(mtime, tz=timezone), "mtime", detection)
