"""The media folder: chips' bytes named by their SHA-256, each stored once.

A file lives at ``<root>/<sha[:2]>/<sha[2:4]>/<sha>.<ext>``, its extension from the
type its bytes begin with. `MediaStore.put` checks size, hash and type, then
writes a temporary file in the target folder, fsyncs it, renames it into place
and fsyncs the folder: a crash leaves either the whole file or none (at worst a
``.part`` file, which nothing reads). Bytes sent twice are stored once. A hash is
the only name a caller can give (64 hex digits), so no path can lead outside the
root.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from bearstation.media.config import DEFAULT_MAX_CHIP_BYTES, MediaConfig, media_root
from bearstation.media.errors import (
    MediaHashMismatch,
    MediaNameInvalid,
    MediaNotFound,
    MediaTooLarge,
    MediaTypeRefused,
    MediaUnavailable,
)
from bearstation.media.types import EXTENSIONS, KNOWN_TYPES, sniff

_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


@dataclass(frozen=True)
class MediaUsage:
    """What the media folder holds: stored files and their bytes."""

    files: int
    bytes: int


def checked_sha256(sha256: str) -> str:
    """`sha256` in lower case, or `MediaNameInvalid` when it is not 64 hex digits."""
    if not isinstance(sha256, str) or _SHA256.fullmatch(sha256) is None:
        raise MediaNameInvalid(
            f"{sha256!r} is not a SHA-256 (64 hex digits): media are named by their hash only"
        )
    return sha256.lower()


def sha256_of(data: bytes) -> str:
    """The lower-case hex SHA-256 of `data`."""
    return hashlib.sha256(data).hexdigest()


class MediaStore:
    """Chips' bytes in a content-addressed folder."""

    def __init__(
        self,
        root: Path,
        *,
        max_chip_bytes: int = DEFAULT_MAX_CHIP_BYTES,
        content_types: Iterable[str] = KNOWN_TYPES,
    ) -> None:
        self.root = Path(root)
        self.max_chip_bytes = max_chip_bytes
        self.content_types = frozenset(content_types)

    @classmethod
    def from_config(cls, config: MediaConfig, database_url: str) -> MediaStore:
        """The store `config` describes, its folder resolved against the database URL."""
        return cls(
            media_root(config, database_url),
            max_chip_bytes=config.max_chip_bytes,
            content_types=config.content_types,
        )

    def check(self, data: bytes, sha256: str) -> str:
        """The content type of `data` after checking its size, its hash and its type."""
        sha256 = checked_sha256(sha256)
        if len(data) > self.max_chip_bytes:
            raise MediaTooLarge(
                f"chip {sha256}: {len(data)} bytes is more than media.max_chip_bytes "
                f"({self.max_chip_bytes}); nothing was stored (raise the limit to keep such "
                "chips)"
            )
        actual = sha256_of(data)
        if actual != sha256:
            raise MediaHashMismatch(
                f"chip {sha256}: its {len(data)} bytes hash to {actual}, not to the SHA-256 "
                "sent with them (damaged or cut short on the way); nothing was stored"
            )
        content_type = sniff(data)
        if content_type is None or content_type not in self.content_types:
            found = "no image type the store knows" if content_type is None else content_type
            raise MediaTypeRefused(
                f"chip {sha256}: its bytes are {found}; the store keeps "
                f"{', '.join(sorted(self.content_types))} (media.content_types)"
            )
        return content_type

    def put(self, data: bytes, sha256: str) -> bool:
        """Store `data` under `sha256` after `check`; True when it was not stored yet."""
        content_type = self.check(data, sha256)
        sha256 = sha256.lower()
        target = self._target(sha256, EXTENSIONS[content_type])
        try:
            if target.stat().st_size == len(data):
                return False
        except FileNotFoundError:
            pass
        try:
            _write_atomically(target, data)
        except OSError as e:
            raise MediaUnavailable(
                f"cannot store chip {sha256} in the media folder {self.root}: {e.strerror} "
                "(free space or fix the folder's permissions; the chip can be sent again)"
            ) from None
        return True

    def path_of(self, sha256: str) -> Path:
        """The stored file of `sha256`; `MediaNotFound` when there is none."""
        sha256 = checked_sha256(sha256).lower()
        for extension in dict.fromkeys(EXTENSIONS.values()):
            candidate = self._target(sha256, extension)
            if candidate.is_file():
                return candidate
        raise MediaNotFound(f"no stored chip {sha256} in the media folder {self.root}")

    def open_bytes(self, sha256: str) -> bytes:
        """The stored bytes of `sha256` (a symbolic link in its place is not followed)."""
        path = self.path_of(sha256)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError as e:
            raise MediaNotFound(f"cannot read stored chip {path}: {e.strerror}") from None
        with os.fdopen(fd, "rb") as f:
            return f.read()

    def usage(self) -> MediaUsage:
        """Stored files and their total size (temporary ``.part`` files not counted)."""
        files = size = 0
        for first in _subfolders(self.root):
            for second in _subfolders(first):
                with os.scandir(second) as entries:
                    for entry in entries:
                        if entry.is_file(follow_symlinks=False) and _is_stored(entry.name):
                            files += 1
                            size += entry.stat(follow_symlinks=False).st_size
        return MediaUsage(files, size)

    def _target(self, sha256: str, extension: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / f"{sha256}{extension}"


def _is_stored(name: str) -> bool:
    stem, dot, extension = name.partition(".")
    return (
        bool(dot)
        and _SHA256.fullmatch(stem) is not None
        and f".{extension}" in set(EXTENSIONS.values())
    )


def _subfolders(folder: Path) -> list[Path]:
    try:
        with os.scandir(folder) as entries:
            return [Path(e.path) for e in entries if e.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        return []


def _write_atomically(target: Path, data: bytes) -> None:
    """Temporary file, fsync, rename into place, fsync the folder."""
    folder = target.parent
    folder.mkdir(parents=True, exist_ok=True)
    temp = folder / f".{target.name}.{secrets.token_hex(4)}.part"
    try:
        with temp.open("xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
