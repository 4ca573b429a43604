"""Serving image files safely: only below the allowed roots, checked before anything is opened
(the box's chips and references; the station's media store names files by hash only).

A requested path is refused when it is absolute, holds a ``..`` (or an empty or
``.``) component, a backslash or a NUL, when it does not exist, when its resolved
location (symlinks followed) is not inside the root it was asked under, or when it
is not a regular file with an image extension. The file is then opened with
``O_NOFOLLOW`` and checked again (``fstat``), so a symlink swapped in after the
check is not followed either.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

#: File types the page shows, and the media type each is served as.
IMAGE_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".bmp": "image/bmp",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
}
#: Larger files are not served (a chip is a few hundred KB).
MAX_BYTES = 20_000_000


class PathRefused(Exception):
    """A requested path outside the allowed roots (or otherwise not servable); `reason`
    is the exact text the page answers with."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


REFUSED_ABSOLUTE = "refused: an absolute path"
REFUSED_PARENT = "refused: a path with '..' or an empty part"
REFUSED_CHARACTERS = "refused: a path with a backslash or NUL"
REFUSED_OUTSIDE = "refused: the path leads outside the allowed folders"
REFUSED_MISSING = "not found: no such image below the allowed folders"
REFUSED_TYPE = "refused: not an image file"


@dataclass(frozen=True)
class ServableFile:
    """An image file checked to lie inside an allowed root."""

    path: Path
    media_type: str


def check_relative(relative: str) -> PurePosixPath:
    """`relative` as a clean relative path, or `PathRefused`."""
    if "\\" in relative or "\x00" in relative:
        raise PathRefused(REFUSED_CHARACTERS)
    if relative.startswith("/"):
        raise PathRefused(REFUSED_ABSOLUTE)
    parts = relative.split("/")
    if not relative or any(p in ("", ".", "..") for p in parts):
        raise PathRefused(REFUSED_PARENT)
    return PurePosixPath(*parts)


def resolve_below(root: Path, relative: str) -> ServableFile:
    """The image `relative` names below `root`, resolved and checked (see the module doc)."""
    clean = check_relative(relative)
    base = root.resolve()
    try:
        target = (base / clean).resolve(strict=True)
    except (FileNotFoundError, NotADirectoryError):
        raise PathRefused(REFUSED_MISSING) from None
    except (OSError, RuntimeError):  # a symlink loop, a name too long
        raise PathRefused(REFUSED_OUTSIDE) from None
    if not target.is_relative_to(base):
        raise PathRefused(REFUSED_OUTSIDE)
    return _servable(target)


def resolve_absolute(path: str, roots: Sequence[Path]) -> ServableFile:
    """An absolute path stored in the database (a reference's source image), served only
    when it resolves inside one of `roots`."""
    candidate = Path(path)
    if not candidate.is_absolute() or "\x00" in path:
        raise PathRefused(REFUSED_OUTSIDE)
    for root in roots:
        base = root.resolve()
        try:
            relative = candidate.relative_to(base)
        except ValueError:
            continue
        return resolve_below(base, relative.as_posix())
    raise PathRefused(REFUSED_OUTSIDE)


def find_below(roots: Sequence[Path], relative: str) -> ServableFile:
    """The first root that holds `relative` (a chip's path relative to its watch root)."""
    last = PathRefused(REFUSED_MISSING)
    for root in roots:
        try:
            return resolve_below(root, relative)
        except PathRefused as e:
            if e.reason != REFUSED_MISSING:
                raise
            last = e
    raise last


def _servable(target: Path) -> ServableFile:
    media = IMAGE_TYPES.get(target.suffix.lower())
    if media is None:
        raise PathRefused(REFUSED_TYPE)
    return ServableFile(target, media)


def read_servable(found: ServableFile) -> bytes:
    """The file's bytes: opened without following a symlink, and only a regular file."""
    try:
        fd = os.open(found.path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise PathRefused(REFUSED_MISSING) from None
    except OSError:  # ELOOP: it became a symlink after the check
        raise PathRefused(REFUSED_OUTSIDE) from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise PathRefused(REFUSED_TYPE)
        if info.st_size > MAX_BYTES:
            raise PathRefused(REFUSED_TYPE)
        return f.read(MAX_BYTES + 1)
