"""Video clips of scenes, as camera traps record them: MP4 (mp4v) or AVI (MJPG) by OpenCV,
with the recording's start in the MP4 movie header (``mvhd``) as cameras write it."""

from __future__ import annotations

import struct
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np

from bearagent.errors import BearIdError

_MP4_EPOCH = datetime(1904, 1, 1, tzinfo=UTC)


class ClipWriteError(BearIdError):
    """OpenCV cannot write the clip here."""


def set_mp4_creation_time(path: Path, when: datetime) -> None:
    """Write `when` into the MP4's ``mvhd`` creation time (seconds since 1904, UTC)."""
    data = bytearray(path.read_bytes())
    at = data.find(b"mvhd")
    if at < 0 or data[at + 4] not in (0, 1):
        raise ClipWriteError(f"{path}: no movie header (mvhd) to date")
    seconds = int((when - _MP4_EPOCH).total_seconds())
    if data[at + 4] == 0:
        data[at + 8 : at + 12] = struct.pack(">I", seconds)
    else:
        data[at + 8 : at + 16] = struct.pack(">Q", seconds)
    path.write_bytes(bytes(data))


def write_clip(
    path: Path, frames: list[np.ndarray], fps: float, started_at: datetime | None = None
) -> Path:
    """Write `frames` (BGR, one size) as a clip; MP4 clips get `started_at` in their header."""
    codec = "MJPG" if path.suffix.lower() == ".avi" else "mp4v"
    h, w = frames[0].shape[:2]
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*codec), fps, (w, h))
    if not writer.isOpened():
        raise ClipWriteError(f"OpenCV cannot write {path} with the {codec} codec")
    for frame in frames:
        writer.write(frame)
    writer.release()
    if started_at is not None and codec == "mp4v":
        set_mp4_creation_time(path, started_at)
    return path
