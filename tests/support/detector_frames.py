"""Camera-trap frames and clips for the detector tests: face chips pasted on a flat
background where the grid detector's cells lie (`support.detector_models`).

A frame is 512 x 384; the detector letterboxes it into 256 x 256 (scale 0.5, 32 px
of padding on top), so a 64 px chip pasted at a slot (multiples of 64) fills
exactly one 32 px cell and comes back as exactly its own box.
"""

from __future__ import annotations

import os
import struct
from datetime import datetime
from pathlib import Path

import numpy as np

from beartrain.scenes import clips
from beartrain.synthetic import encode_jpeg

FRAME_W, FRAME_H = 512, 384
CHIP = 64
#: Top-left corners (x, y) where chips go, far apart.
SLOTS = ((64, 64), (320, 192), (192, 256))
BACKGROUND = 70


def compose(chips: list[np.ndarray], background: int = BACKGROUND) -> np.ndarray:
    """A frame with `chips` (64 x 64 BGR each) at the first len(chips) slots."""
    frame = np.full((FRAME_H, FRAME_W, 3), background, np.uint8)
    for (x, y), chip in zip(SLOTS, chips, strict=False):
        frame[y : y + CHIP, x : x + CHIP] = chip
    return frame


def slot_box(index: int) -> list[float]:
    """The [x, y, w, h] box a chip at slot `index` is found at."""
    x, y = SLOTS[index]
    return [float(x), float(y), float(CHIP), float(CHIP)]


def drop_file(path: Path, data: bytes) -> Path:
    """Write a file like a camera upload: a dot-named temporary file, then a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.part")
    temp.write_bytes(data)
    os.rename(temp, path)
    return path


def drop_frame(path: Path, frame: np.ndarray, captured_at: datetime) -> Path:
    """A JPEG frame with its capture time in EXIF, renamed into place."""
    return drop_file(path, encode_jpeg(frame, captured_at, quality=95))


def write_clip(path: Path, frames: list[np.ndarray], fps: float) -> Path:
    """An MP4 (mp4v) or AVI (MJPG) clip of `frames`, by OpenCV (no start time set)."""
    return clips.write_clip(path, frames, fps)


def set_mp4_creation_time(path: Path, when: datetime) -> None:
    """Set the ``mvhd`` creation time in place, as a camera writes it (seconds since 1904)."""
    clips.set_mp4_creation_time(path, when)


def set_avi_idit(path: Path, text: str) -> None:
    """Put an ``IDIT`` chunk into an OpenCV AVI, in place of the start of its JUNK chunk
    (the file keeps its size and every offset)."""
    data = bytearray(path.read_bytes())
    at = data.find(b"JUNK")
    (size,) = struct.unpack("<I", data[at + 4 : at + 8])
    body = text.encode("ascii") + b"\n\x00"
    body += b"\x00" * (len(body) & 1)
    if size < len(body) + 16:
        raise ValueError(f"{path}: its JUNK chunk is too small for an IDIT chunk")
    idit = b"IDIT" + struct.pack("<I", len(body)) + body
    junk = b"JUNK" + struct.pack("<I", size - len(idit))
    data[at : at + len(idit) + 8] = idit + junk
    path.write_bytes(bytes(data))
