"""Reading frames and clips from the watch roots: safely, hashed, decoded and dated.

A frame is read like a chip (`bearagent.watch.read_chip`: no symlink out of the
root, no oversized file), decoded with the chip decoder and dated by
`bearagent.chips.capture` (the frame's sidecar, EXIF, name, mtime). A clip is
hashed in chunks and opened with OpenCV; its frames are sampled at a rate, and its
start time comes from its container (`cliptime`), else its name, else its mtime
minus its duration.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from pathlib import Path

import cv2
import numpy as np

from bearagent.chips import CaptureTime, ChipRejected, FileNamePattern, capture_time, decode_chip
from bearagent.detection.cliptime import container_time
from bearagent.watch import ChipSource, FileTooLarge, read_chip
from bearagent.watch.paths import _resolved_root


@dataclass(frozen=True)
class Frame:
    """A decoded frame with its content hash and capture time."""

    sha256: str
    image: np.ndarray
    captured: CaptureTime


def _too_large(source: ChipSource, size: int, limit: int, setting: str) -> ChipRejected:
    return ChipRejected(
        "too_large",
        f"{source.relative}: {size} bytes is more than {setting} ({limit}); raise the limit "
        "if such files are real",
    )


def read_frame(
    source: ChipSource,
    mtime_ns: int,
    *,
    max_bytes: int,
    max_pixels: int,
    names: FileNamePattern,
    timezone: tzinfo,
) -> Frame:
    """Read, hash, decode and date a frame; `ChipRejected` with a reason when it cannot."""
    try:
        data = read_chip(source, max_bytes)
    except FileTooLarge as e:
        size = source.path.stat().st_size if source.path.exists() else 0
        raise _too_large(source, size, max_bytes, "detector.max_frame_bytes") from e
    sha = hashlib.sha256(data).hexdigest()
    image = decode_chip(data, source=source.relative, max_pixels=max_pixels)
    taken = capture_time(
        source.path, source.relative, data, mtime_ns / 1e9, names, timezone, sidecars=True
    )
    return Frame(sha, image, taken)


def hash_clip(source: ChipSource, max_bytes: int) -> str:
    """The clip's SHA-256, read in chunks, refusing symlinks out of the root and big files."""
    try:
        real = source.path.resolve(strict=True)
    except (FileNotFoundError, RuntimeError) as e:
        raise ChipRejected("vanished", f"{source.relative}: {e}") from e
    if not real.is_relative_to(_resolved_root(source.root)):
        raise ChipRejected(
            "outside_root", f"{source.relative}: resolves to {real}, outside the root"
        )
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        raise ChipRejected("unreadable", f"{source.relative}: {e.strerror}") from e
    digest = hashlib.sha256()
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ChipRejected("not_a_file", f"{source.relative}: not a regular file")
        if info.st_size > max_bytes:
            raise _too_large(source, info.st_size, max_bytes, "detector.max_clip_bytes")
        if info.st_size == 0:
            raise ChipRejected("empty", f"{source.relative}: the file is empty (0 bytes)")
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class ClipFrame:
    """One sampled frame of a clip: its index, its offset from the start, its pixels."""

    index: int
    offset_s: float
    image: np.ndarray


class Clip:
    """An opened clip (`cv2.VideoCapture`); iterate `sample` once, then `close`."""

    def __init__(self, source: ChipSource, max_pixels: int) -> None:
        self.source = source
        self.capture = cv2.VideoCapture(str(source.path))
        if not self.capture.isOpened():
            raise ChipRejected(
                "corrupt", f"{source.relative}: OpenCV cannot open it as a video clip"
            )
        fps = float(self.capture.get(cv2.CAP_PROP_FPS))
        self.fps = fps if np.isfinite(fps) and 0 < fps <= 1000 else 30.0
        width = int(self.capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(self.capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if width * height > max_pixels:
            self.close()
            raise ChipRejected(
                "too_large",
                f"{source.relative}: frames of {width}x{height} exceed the limit of "
                f"{max_pixels} pixels",
            )
        self.frames_read = 0

    def sample(self, per_second: float, max_frames: int) -> Iterator[ClipFrame]:
        """Every (fps / per_second)-th frame, at most `max_frames`, until the clip ends."""
        step = max(1, round(self.fps / per_second))
        index = taken = 0
        while taken < max_frames and self.capture.grab():
            if index % step == 0:
                ok, image = self.capture.retrieve()
                if ok and image is not None and image.size:
                    taken += 1
                    yield ClipFrame(index, index / self.fps, np.ascontiguousarray(image))
            index += 1
        self.frames_read = index

    @property
    def declared_duration_s(self) -> float:
        """The clip's length as its container declares it (frame count over frame rate)."""
        count = float(self.capture.get(cv2.CAP_PROP_FRAME_COUNT))
        return count / self.fps if np.isfinite(count) and count > 0 else 0.0

    def close(self) -> None:
        """Release the decoder."""
        self.capture.release()


def clip_start(
    source: ChipSource, mtime_s: float, duration_s: float, names: FileNamePattern, timezone: tzinfo
) -> tuple[datetime, str]:
    """When the clip started and where that came from (metadata, filename or mtime)."""
    found = container_time(source.path)
    if found is not None:
        return (found if found.tzinfo else found.replace(tzinfo=timezone)), "metadata"
    named = names.capture_time(source.relative)
    if named is not None:
        return (named if named.tzinfo else named.replace(tzinfo=timezone)), "filename"
    ended = datetime.fromtimestamp(mtime_s, tz=timezone)
    return ended - timedelta(seconds=duration_s), "mtime"


def stem_of(relative: str) -> str:
    """A frame's or clip's file name without its extension."""
    return Path(relative).stem
