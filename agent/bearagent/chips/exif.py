"""Capture time from EXIF: ``DateTimeOriginal`` (and ``OffsetTimeOriginal`` when present)."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Final

from PIL import Image, UnidentifiedImageError

EXIF_IFD: Final = 0x8769
DATETIME_ORIGINAL: Final = 0x9003
OFFSET_TIME_ORIGINAL: Final = 0x9011
_EXIF_FORMAT: Final = "%Y:%m:%d %H:%M:%S"


def read_capture_time(data: bytes) -> datetime | None:
    """The EXIF capture time of an image, or None when it has none (or it is unreadable).

    The result is timezone-aware when the file records ``OffsetTimeOriginal``
    (e.g. ``+02:00``), otherwise naive: the caller knows the camera's timezone.
    """
    try:
        with Image.open(io.BytesIO(data)) as img:
            exif = img.getexif().get_ifd(EXIF_IFD)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError, SyntaxError):
        return None  # unreadable headers (or a declared size far too large): no EXIF time
    raw = exif.get(DATETIME_ORIGINAL)
    if not isinstance(raw, str):
        return None
    raw = raw.strip("\x00 ")
    try:
        taken = datetime.strptime(raw, _EXIF_FORMAT)
    except ValueError:
        return None
    offset = exif.get(OFFSET_TIME_ORIGINAL)
    if isinstance(offset, str):
        try:
            return datetime.strptime(f"{raw} {offset.strip(chr(0) + ' ')}", _EXIF_FORMAT + " %z")
        except ValueError:
            pass
    return taken
