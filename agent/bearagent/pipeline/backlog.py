"""The backlog in capture order: what a scan finds goes on oldest first.

A backlog (the files that arrived while the agent was stopped, a rescan after an
inotify overflow, a folder moved in) is handed on in capture-time order, so the
encounter tracker sees each camera's chips as the camera took them, whatever order
a technician's copy tool wrote them in (a card's ``IMG_4821.JPG`` names are counters,
not times). Files the ledger already holds are left out here (intake would skip
them anyway). Capture times come from the same `capture_time` intake uses (sidecar,
EXIF, file name, mtime), read from the file's first bytes.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import time
from collections.abc import Callable
from datetime import datetime

from bearagent.chips import capture_time
from bearagent.ledger import Ledger
from bearagent.pipeline.intake import Dating
from bearagent.watch import ChipSource

log = logging.getLogger(__name__)

#: Bytes read to date a file (EXIF sits in the first segment of a JPEG).
HEAD_BYTES = 256 * 1024
#: Backlogs at least this large are logged with the time their ordering took.
LOG_FROM = 1000


class BacklogOrder:
    """Orders a scan's files by capture time, leaving out those already processed."""

    def __init__(self, dating: Dating, open_ledger: Callable[[], Ledger]) -> None:
        self.dating = dating
        self.open_ledger = open_ledger

    def __call__(self, sources: list[ChipSource]) -> list[ChipSource]:
        """`sources` not yet in the ledger, oldest capture first (then by path)."""
        started = time.monotonic()
        ledger = self.open_ledger()  # this thread's own connection, for this scan
        try:
            keyed = [(k, s) for s in sources if (k := self._key(s, ledger)) is not None]
        finally:
            ledger.db.conn.close()
        keyed.sort(key=lambda ks: ks[0])
        if len(sources) >= LOG_FROM:
            log.info(
                "backlog: %d new of %d files, in capture order (dated in %.1f s)",
                len(keyed),
                len(sources),
                time.monotonic() - started,
            )
        return [s for _, s in keyed]

    def _key(self, src: ChipSource, ledger: Ledger) -> tuple[datetime, str] | None:
        try:
            st = src.path.stat()
        except OSError:
            return None  # gone again
        try:
            if ledger.seen_path(str(src.root), src.relative, st.st_size, st.st_mtime_ns):
                return None
        except sqlite3.Error:  # the database busy this moment: intake checks again
            log.debug("backlog: ledger look-up failed for %s", src.relative, exc_info=True)
        head = _head(src) if stat.S_ISREG(st.st_mode) else b""
        d = self.dating
        when = capture_time(
            src.path, src.relative, head, st.st_mtime, d.names, d.timezone, sidecars=d.sidecars
        ).when
        return (when, src.relative)


def _head(src: ChipSource) -> bytes:
    """The file's first bytes; b"" when it cannot be read now (intake will say why, and it
    is ordered by its mtime). Non-blocking and not following a last symlink, as intake."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(src.path, flags)
    except OSError:
        return b""
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            return b""
        return f.read(HEAD_BYTES)
