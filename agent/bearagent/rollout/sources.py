"""Where the image of each gallery reference is: on this box, or at the station.

A reference's ``source`` is the image it was made from: an absolute path (enrolled from a
folder), a chip's path relative to its watch root (a provisional bear's chips; the file
ledger knows its root and SHA-256), or ``fleet:<sha256>`` (a chip of another box, from
the fleet gallery's feed, known by its hash). Looked for, in order: the file itself, the
chip under its watch root, the chips this box fetched before; a chip whose hash is known
and whose file is gone (or changed) is fetched from the station's media store by it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from bearagent.fleet.feed_apply import FLEET_SOURCE as HASH_SOURCE
from bearagent.rollout.files import chip_path

_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class ReferenceImage:
    """A reference to re-embed: where its image may be, and the image's hash when known."""

    reference_id: int
    source: str
    path: Path | None  # a local file that may hold it
    sha256: str | None  # the chip's SHA-256: the station can serve it by this

    def read(self) -> bytes | None:
        """The image's bytes from `path` (None when gone, or not the chip `sha256` names)."""
        if self.path is None:
            return None
        try:
            data = self.path.read_bytes()
        except OSError:
            return None
        if self.sha256 is not None and hashlib.sha256(data).hexdigest() != self.sha256:
            return None  # the file was replaced by another image: fetch the original
        return data


def locate(
    db: sqlite_utils.Database, state_dir: Path, rows: list[tuple[int, str]]
) -> list[ReferenceImage]:
    """Where each (reference id, source) in `rows` may be read, in their order."""
    ledger = _ledger_of(db, [source for _, source in rows])
    found: list[ReferenceImage] = []
    for ref_id, source in rows:
        sha: str | None = None
        path: Path | None = None
        if source.startswith(HASH_SOURCE) and _SHA256.fullmatch(source[len(HASH_SOURCE) :]):
            sha = source[len(HASH_SOURCE) :]
        elif Path(source).is_absolute():
            path = Path(source)
        elif source in ledger:
            root, sha = ledger[source]
            path = Path(root) / source
        if sha is not None and (path is None or not path.is_file()):
            cached = chip_path(state_dir, sha)
            path = cached if cached.is_file() else path
        found.append(ReferenceImage(ref_id, source, path, sha))
    return found


def _ledger_of(db: sqlite_utils.Database, sources: list[str]) -> dict[str, tuple[str, str | None]]:
    """Relative chip path -> (watch root, SHA-256) from the file ledger (newest first)."""
    relative = sorted({s for s in sources if not s.startswith(HASH_SOURCE) and not
                       Path(s).is_absolute()})  # fmt: skip
    if not relative or not _has_table(db, "files"):
        return {}
    out: dict[str, tuple[str, str | None]] = {}
    for start in range(0, len(relative), 500):
        part = relative[start : start + 500]
        marks = ",".join("?" * len(part))
        for path, root, sha in db.execute(
            f"SELECT path, root, sha256 FROM files WHERE path IN ({marks})"
            " AND status = 'processed' ORDER BY id DESC",
            part,
        ).fetchall():
            out.setdefault(str(path), (str(root), None if sha is None else str(sha)))
    return out


def _has_table(db: sqlite_utils.Database, name: str) -> bool:
    row = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [name])
    return row.fetchone() is not None
