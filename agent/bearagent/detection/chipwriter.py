"""Writing chips into the chips folder: the sidecar first, then the chip renamed into place.

Layout: ``<chips>/<site>/<camera>/<frame stem>_<k>.jpg`` and its sidecar
``<chip>.json`` (`bearagent.chips.capture` reads it: ``captured_at``,
``source_frame``, ``box`` [x, y, w, h] in source-frame pixels, ``score``,
``detector``; plus ``frame_sha256``). The chip also carries its capture time in
EXIF, so it is dated right even without its sidecar. Names are deterministic: a
frame handled again (after a crash before its row was committed) writes the same
chips with the same bytes, which are left alone. Another frame with the same stem
at the same camera (a camera's numbering restarting) gets ``<stem>_<sha8>_<k>.jpg``.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import cv2
from PIL import Image

from bearagent.chips.capture import sidecar_path
from bearagent.detection.crops import Chip
from bearagent.detection.files import atomic_write


@dataclass(frozen=True)
class ChipOrigin:
    """Where a frame's chips come from and go to."""

    site: str
    camera: str
    stem: str  # the frame's file name without extension (a clip's, plus its frame index)
    source_frame: str  # the frame's path below its watch root (a clip's, plus #t=<seconds>)
    frame_sha256: str
    captured_at: datetime
    detector: str


def encode_chip(chip: Chip, captured_at: datetime, quality: int) -> bytes:
    """JPEG bytes of a chip with EXIF DateTimeOriginal (and OffsetTimeOriginal)."""
    image = Image.fromarray(cv2.cvtColor(chip.image, cv2.COLOR_BGR2RGB))
    exif = Image.Exif()
    ifd = exif.get_ifd(0x8769)
    ifd[0x9003] = captured_at.strftime("%Y:%m:%d %H:%M:%S")
    offset = captured_at.strftime("%z")
    if offset:
        ifd[0x9011] = f"{offset[:3]}:{offset[3:5]}"
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, exif=exif)
    return out.getvalue()


def sidecar_of(chip: Chip, origin: ChipOrigin) -> dict[str, Any]:
    """The sidecar's content for one chip."""
    return {
        "captured_at": origin.captured_at.isoformat(),
        "source_frame": origin.source_frame,
        "box": list(chip.box_xywh),
        "score": round(chip.score, 4),
        "detector": origin.detector,
        "frame_sha256": origin.frame_sha256,
    }


def _owner(path: Path) -> str | None:
    """The frame_sha256 named in an existing chip's sidecar (None: none readable)."""
    try:
        data = json.loads(sidecar_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    owner = data.get("frame_sha256") if isinstance(data, dict) else None
    return owner if isinstance(owner, str) else None


def chip_path(chips_root: Path, origin: ChipOrigin, k: int) -> Path:
    """Where chip `k` of a frame goes (see the module docstring for clashes)."""
    folder = chips_root / origin.site / origin.camera
    plain = folder / f"{origin.stem}_{k}.jpg"
    if not plain.exists() or _owner(plain) in (None, origin.frame_sha256):
        return plain
    return folder / f"{origin.stem}_{origin.frame_sha256[:8]}_{k}.jpg"


def write_chip(chips_root: Path, origin: ChipOrigin, k: int, chip: Chip, quality: int) -> Path:
    """Write chip `k` of a frame (sidecar first, then the chip); returns the chip's path."""
    path = chip_path(chips_root, origin, k)
    data = encode_chip(chip, origin.captured_at, quality)
    sidecar = (json.dumps(sidecar_of(chip, origin), indent=1) + "\n").encode("utf-8")
    side = sidecar_path(path)
    if _same(side, sidecar) and _same(path, data):
        return path  # written before a crash: leave it (the ledger has probably seen it)
    atomic_write(side, sidecar)
    atomic_write(path, data)
    return path


def _same(path: Path, data: bytes) -> bool:
    try:
        return path.stat().st_size == len(data) and path.read_bytes() == data
    except OSError:
        return False
