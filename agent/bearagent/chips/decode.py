"""Decode an image file into a BGR uint8 array, or reject it with a reason.

Camera traps and SD cards produce damaged files; the agent must record why a file
was rejected and go on. The header is read first (Pillow, without decoding pixels)
so that a decompression bomb is refused before any large allocation; pixels are
then decoded by OpenCV, which also applies the EXIF orientation.
"""

from __future__ import annotations

import io
from typing import Final

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from bearagent.errors import BearIdError

#: Image formats accepted as chips (Pillow's format names).
ACCEPTED_FORMATS: Final = frozenset({"JPEG", "PNG", "WEBP", "BMP", "TIFF"})
#: Default ceiling on declared width x height: far above any face chip.
DEFAULT_MAX_PIXELS: Final = 40_000_000


class ChipRejected(BearIdError):
    """A file that cannot be used as a chip; `reason` is a short stable code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def decode_chip(
    data: bytes, *, source: str = "<bytes>", max_pixels: int = DEFAULT_MAX_PIXELS
) -> np.ndarray:
    """Decode `data` into an (H, W, 3) uint8 BGR image, upright per its EXIF orientation.

    Grayscale, 16-bit, palette, alpha and CMYK images become 8-bit BGR. Raises
    `ChipRejected` with reason ``empty``, ``not_an_image``, ``unsupported_format``,
    ``too_large``, ``truncated`` or ``corrupt``.
    """
    if not data:
        raise ChipRejected("empty", f"{source}: the file is empty (0 bytes)")
    fmt, width, height = _read_header(data, source, max_pixels)
    if width * height > max_pixels:
        raise _too_large(source, f"{width}x{height}", max_pixels)
    if fmt == "JPEG" and b"\xff\xd9" not in data[-4096:]:
        raise ChipRejected("truncated", f"{source}: the JPEG has no end marker (truncated file)")
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        raise ChipRejected("corrupt", f"{source}: OpenCV could not decode the {fmt} data")
    return np.ascontiguousarray(image)


def _too_large(source: str, size: str, max_pixels: int) -> ChipRejected:
    return ChipRejected(
        "too_large",
        f"{source}: declared size {size} exceeds the limit of {max_pixels} pixels "
        "(a damaged file or a decompression bomb)",
    )


def _read_header(data: bytes, source: str, max_pixels: int) -> tuple[str, int, int]:
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt, (width, height) = img.format or "", img.size
    except Image.DecompressionBombError as e:  # Pillow's own, far higher, ceiling
        raise _too_large(source, "(over Pillow's limit)", max_pixels) from e
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        raise ChipRejected("not_an_image", f"{source}: not an image file ({e})") from e
    if fmt not in ACCEPTED_FORMATS:
        accepted = ", ".join(sorted(ACCEPTED_FORMATS))
        raise ChipRejected(
            "unsupported_format",
            f"{source}: {fmt or 'unknown'} images are not accepted ({accepted})",
        )
    return fmt, width, height
