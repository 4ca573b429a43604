"""Image types the media store keeps: each one's file extension and its magic bytes.

The type of stored bytes is read from the bytes themselves (their signature), never
taken on trust, so a file served later as ``image/jpeg`` is a JPEG.
"""

from __future__ import annotations

#: Content type -> the extension its files get in the media folder.
EXTENSIONS: dict[str, str] = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "image/bmp": ".bmp",
    "image/tiff": ".tif",
}
KNOWN_TYPES: tuple[str, ...] = tuple(EXTENSIONS)


def sniff(data: bytes) -> str | None:
    """The image content type `data` starts like, or None when it is none of ours."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"BM"):
        return "image/bmp"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "image/tiff"
    return None
