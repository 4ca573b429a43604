"""Which paths are chips, where they came from (site, camera), and reading them safely.

A watch root is a trust boundary: a symlink that leads out of it is refused, a
file larger than the configured limit is not read, and a name that is not valid
UTF-8 is carried as text with its odd bytes escaped (so SQLite and JSON accept it).
"""

from __future__ import annotations

import fnmatch
import functools
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from bearagent.chips.decode import ChipRejected
from bearagent.watch.config import WatchConfig


class OutsideWatchRoot(ChipRejected):
    """The path resolves outside its watch root (a symlink leading out)."""

    def __init__(self, message: str) -> None:
        super().__init__("outside_root", message)


class FileTooLarge(ChipRejected):
    """The file is larger than `watch.max_file_bytes`."""

    def __init__(self, message: str) -> None:
        super().__init__("too_large", message)


@dataclass(frozen=True)
class ChipSource:
    """Where a chip file came from."""

    path: Path  # absolute path as seen in the watch root
    root: Path
    relative: str  # relative to root, POSIX separators, odd bytes escaped
    site: str
    camera: str


def display_text(raw: str) -> str:
    """A file name as valid Unicode: undecodable bytes become ``\\xNN`` escapes."""
    return os.fsencode(raw).decode("utf-8", errors="backslashreplace")


class PathRules:
    """Applies the ``watch`` configuration to paths."""

    def __init__(self, cfg: WatchConfig, default_site: str) -> None:
        self.cfg = cfg
        self.default_site = default_site
        self._extensions = {e.lower() for e in cfg.extensions}
        self._pattern = re.compile(cfg.path_pattern)

    def is_candidate(self, path: Path, root: Path) -> bool:
        """Whether `path` (below `root`) looks like a chip: right extension, no ignored part."""
        if path.suffix.lower() not in self._extensions:
            return False
        try:
            parts = path.relative_to(root).parts
        except ValueError:
            return False
        return not any(
            fnmatch.fnmatchcase(part, pattern) for part in parts for pattern in self.cfg.ignore
        )

    def source(self, path: Path, root: Path) -> ChipSource:
        """Site and camera of a chip, from its path below the root."""
        relative = display_text(path.relative_to(root).as_posix())
        match = self._pattern.search(relative)
        groups = match.groupdict() if match else {}
        parts = relative.split("/")
        camera = groups.get("camera") or (parts[0] if len(parts) > 1 else "unknown")
        site = groups.get("site") or self.default_site
        return ChipSource(path, root, relative, site, camera)


@functools.lru_cache(maxsize=64)
def _resolved_root(root: Path) -> Path:
    """A watch root without symlinks (resolved once: it is checked for every chip)."""
    return root.resolve()


def read_chip(source: ChipSource, max_bytes: int) -> bytes:
    """The file's bytes, refusing symlinks out of the root, non-files and oversized files."""
    try:
        real = source.path.resolve(strict=True)
    except (FileNotFoundError, RuntimeError) as e:  # RuntimeError: a symlink loop
        raise ChipRejected("vanished", f"{source.relative}: {e}") from e
    root = _resolved_root(source.root)
    if not real.is_relative_to(root):
        raise OutsideWatchRoot(
            f"{source.relative}: resolves to {real}, outside the watch root {root}"
        )
    # O_NONBLOCK: a FIFO swapped in after the watcher's checks must not block the worker
    # (opening one for reading waits for a writer); it is then refused as not a file.
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(real, flags)
    except PermissionError as e:
        raise ChipRejected("unreadable", f"{source.relative}: permission denied") from e
    except OSError as e:
        raise ChipRejected("unreadable", f"{source.relative}: {e.strerror}") from e
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ChipRejected("not_a_file", f"{source.relative}: not a regular file")
        if info.st_size > max_bytes:
            raise FileTooLarge(_too_large(source, info.st_size, max_bytes))
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:  # it grew while we read
        raise FileTooLarge(_too_large(source, len(data), max_bytes))
    return data


def _too_large(source: ChipSource, size: int, max_bytes: int) -> str:
    return (
        f"{source.relative}: {size} bytes is more than watch.max_file_bytes ({max_bytes}); "
        "raise the limit if such files are real chips"
    )
