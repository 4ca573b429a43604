"""When a video clip started, from its container: MP4/MOV ``mvhd``, AVI ``IDIT``.

MP4 and MOV keep the creation time in the movie header box (``moov/mvhd``):
seconds since 1904-01-01 UTC (zero when the writer did not set it). Camera traps
that write AVI put a text date in the ``IDIT`` chunk of the header list (e.g.
``THU JUL 01 14:00:00 2026``), in the camera's local time. Only the headers are
read, never the video data; anything unreadable is None, never an error.
"""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

_MP4_EPOCH = datetime(1904, 1, 1, tzinfo=UTC)
#: Creation times before this are unset clocks (0, or a camera that was never set).
_EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
_IDIT_FORMATS = (
    "%a %b %d %H:%M:%S %Y",
    "%Y:%m:%d %H:%M:%S",
    "%Y/%m/%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
)
#: How many bytes of an AVI's start are searched for IDIT (the header list is small).
_AVI_HEADER_BYTES = 1 << 20


def _boxes(f: BinaryIO, end: int) -> list[tuple[bytes, int, int]]:
    """(type, payload start, payload end) of the MP4 boxes from f's position up to `end`."""
    found = []
    while f.tell() + 8 <= end:
        start = f.tell()
        size, kind = struct.unpack(">I4s", f.read(8))
        header = 8
        if size == 1:
            (size,) = struct.unpack(">Q", f.read(8))
            header = 16
        elif size == 0:
            size = end - start
        if size < header or start + size > end:
            break
        found.append((kind, start + header, start + size))
        f.seek(start + size)
    return found


def mp4_creation_time(path: Path) -> datetime | None:
    """The ``mvhd`` creation time of an MP4/MOV file (UTC), or None."""
    try:
        with path.open("rb") as f:
            size = path.stat().st_size
            for kind, start, end in _boxes(f, size):
                if kind != b"moov":
                    continue
                f.seek(start)
                for child, c_start, _c_end in _boxes(f, end):
                    if child == b"mvhd":
                        f.seek(c_start)
                        version = f.read(4)[0]
                        raw = f.read(8 if version == 1 else 4)
                        seconds = int.from_bytes(raw, "big")
                        when = _MP4_EPOCH + timedelta(seconds=seconds)
                        return when if when >= _EARLIEST else None
                return None
    except (OSError, struct.error, IndexError, OverflowError):
        return None
    return None


def _riff_chunks(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """(id, data start, data end) of the RIFF chunks in data[start:end], LISTs opened."""
    found: list[tuple[bytes, int, int]] = []
    pos = start
    while pos + 8 <= end:
        kind, size = struct.unpack("<4sI", data[pos : pos + 8])
        body, stop = pos + 8, min(end, pos + 8 + size)
        if kind == b"LIST" and stop - body >= 4:
            if data[body : body + 4] == b"movi":
                break  # the video data: headers come before it
            found += _riff_chunks(data, body + 4, stop)
        else:
            found.append((kind, body, stop))
        pos = pos + 8 + size + (size & 1)
    return found


def avi_creation_time(path: Path) -> datetime | None:
    """The ``IDIT`` date of an AVI file (naive: the camera's local time), or None."""
    try:
        with path.open("rb") as f:
            data = f.read(_AVI_HEADER_BYTES)
    except OSError:
        return None
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"AVI ":
        return None
    for kind, start, end in _riff_chunks(data, 12, len(data)):
        if kind == b"IDIT":
            raw = data[start:end].decode("ascii", errors="ignore").replace("\x00", " ")
            text = " ".join(raw.split())
            for fmt in _IDIT_FORMATS:
                try:
                    return datetime.strptime(text, fmt)
                except ValueError:
                    continue
            return None
    return None


def container_time(path: Path) -> datetime | None:
    """A clip's start time from its container, whichever kind it is."""
    with_header = mp4_creation_time(path)
    return with_header if with_header is not None else avi_creation_time(path)
