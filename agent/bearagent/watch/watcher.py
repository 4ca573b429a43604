"""The folder watcher: turns file-system events and scans into complete chip files.

A file counts once it is complete: closed after writing (inotify only), renamed
into place, or unchanged in size and mtime for `stable_after_s` (the only signal
the polling observer gives, for network shares). At start the roots are scanned
for the backlog that arrived while the agent was stopped, at once when the
kernel's inotify queue overflows (it dropped events: `observers`), and every
`rescan_interval_s` as a safety net. What one scan finds goes on together, in the
order the caller's `Order` gives (the agent: capture time, see
`bearagent.pipeline.backlog`). Duplicates are harmless: the ledger makes a file seen
twice a no-op.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from watchdog.events import (
    DirCreatedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers.api import BaseObserver

from bearagent.watch.config import WatchConfig
from bearagent.watch.observers import make_observer
from bearagent.watch.paths import ChipSource, PathRules

log = logging.getLogger(__name__)

Sink = Callable[[ChipSource], None]
#: Puts a scan's complete files in the order they are handed on (and may leave some out).
Order = Callable[[list[ChipSource]], list[ChipSource]]


def _text(path: str | bytes) -> str:
    return os.fsdecode(path)


class _Handler(FileSystemEventHandler):
    """Routes watchdog events of one root to the watcher (runs on watchdog's thread)."""

    def __init__(self, watcher: FolderWatcher, root: Path) -> None:
        self.watcher = watcher
        self.root = root

    def on_closed(self, event: FileClosedEvent) -> None:
        self.watcher.complete(Path(_text(event.src_path)), self.root)

    def on_moved(self, event: FileSystemEvent) -> None:
        dest = Path(_text(event.dest_path))
        self.watcher.forget(Path(_text(event.src_path)))
        if isinstance(event, DirMovedEvent):
            self.watcher.scan_folder(dest, self.root, new_folder=True)  # moved in at once
        elif isinstance(event, FileMovedEvent):
            self.watcher.complete(dest, self.root)

    def on_created(self, event: FileSystemEvent) -> None:
        if isinstance(event, DirCreatedEvent):
            # A folder moved in from outside the roots (inotify reports it as created),
            # or files landing in a new folder before its watch exists: look inside.
            self.watcher.scan_folder(Path(_text(event.src_path)), self.root, new_folder=True)
        elif isinstance(event, FileCreatedEvent):
            self.watcher.track(Path(_text(event.src_path)), self.root)

    def on_modified(self, event: FileSystemEvent) -> None:
        if isinstance(event, FileModifiedEvent):
            self.watcher.track(Path(_text(event.src_path)), self.root)

    def on_deleted(self, event: FileSystemEvent) -> None:
        if isinstance(event, FileDeletedEvent):
            self.watcher.forget(Path(_text(event.src_path)))


class FolderWatcher:
    """Watches the roots and hands each complete chip file to `sink` (from several threads)."""

    def __init__(
        self,
        cfg: WatchConfig,
        rules: PathRules,
        sink: Sink,
        order: Order | None = None,
        in_order_sink: Sink | None = None,
    ) -> None:
        """`order` puts each scan's files in order; `in_order_sink` (default `sink`) takes
        them, so the receiver knows they come in that order."""
        self.cfg = cfg
        self.rules = rules
        self.sink = sink
        self.order = order
        self.in_order_sink = in_order_sink or sink
        self._pending: dict[
            Path, tuple[Path, int, int, float]
        ] = {}  # path -> root, size, mtime, since
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._rescan_now = threading.Event()  # set on an inotify queue overflow
        self.overflows = 0  # inotify queue overflows seen (each one triggers a rescan)
        self._threads: list[threading.Thread] = []
        self._observer: BaseObserver | None = None

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Start observing, scan the backlog, and start the stabiliser and rescan threads."""
        self._observer = self._make_observer()
        self._observer.start()
        self._spawn("stabiliser", self._stabilise_loop)
        self._spawn("backlog-scan", self.scan_all)
        self._spawn("rescan", self._rescan_loop)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop observing and join the threads."""
        self._stop.set()
        self._rescan_now.set()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout)
        for t in self._threads:
            t.join(timeout)

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=f"watch-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _make_observer(self) -> BaseObserver:
        return make_observer(
            self.cfg.observer,
            [(str(root), _Handler(self, root)) for root in self.cfg.roots],
            polling_interval_s=self.cfg.polling_interval_s,
            on_overflow=self._overflowed,
        )

    def _overflowed(self) -> None:
        """The kernel dropped events (on watchdog's inotify thread: only a flag here)."""
        self.overflows += 1
        log.warning("inotify queue overflowed (events were lost): rescanning the watch roots now")
        self._rescan_now.set()

    # --- events -----------------------------------------------------------------------------

    def complete(self, path: Path, root: Path) -> None:
        """`path` is complete (closed after writing or renamed into place): hand it on."""
        self.forget(path)
        if self.rules.is_candidate(path, root) and path.is_file():
            self.sink(self.rules.source(path, root))

    def track(self, path: Path, root: Path) -> None:
        """`path` is being written: hand it on once its size and mtime stop changing."""
        if not self.rules.is_candidate(path, root):
            return
        try:
            st = path.stat()
        except OSError:
            return
        with self._lock:
            previous = self._pending.get(path)
            if previous is None or previous[1:3] != (st.st_size, st.st_mtime_ns):
                self._pending[path] = (root, st.st_size, st.st_mtime_ns, time.monotonic())

    def forget(self, path: Path) -> None:
        """Stop tracking `path` (deleted, renamed, or handed on)."""
        with self._lock:
            self._pending.pop(path, None)

    def pending_count(self) -> int:
        """Files seen but not yet complete."""
        with self._lock:
            return len(self._pending)

    # --- scans ------------------------------------------------------------------------------

    def scan_all(self) -> None:
        """Scan every root (the backlog at start, and periodic rescans)."""
        for root in self.cfg.roots:
            self.scan_folder(root, root)

    def scan_folder(self, folder: Path, root: Path, new_folder: bool = False) -> None:
        """Hand on old enough files below `folder` (all together, in `order`); track the
        ones still changing.

        `new_folder`: `folder` just appeared. Files last written before its last change
        (its ctime: when it was moved here) came in with it, complete, and go at once,
        so a camera dump moved in as one folder does not wait `stable_after_s`. Files
        written since may still be open and are tracked as usual (and should one be
        handed on unfinished, the worker retries it while it is fresh).
        """
        settled_before = time.time() - self.cfg.stable_after_s
        arrived = 0.0
        if new_folder:
            try:
                arrived = folder.stat().st_ctime
            except OSError:
                return  # gone again
        ready: list[ChipSource] = []
        for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
            if self._stop.is_set():
                return
            dirnames.sort()
            for name in sorted(filenames):
                path = Path(dirpath) / name
                if not self.rules.is_candidate(path, root):
                    continue
                try:
                    st = path.stat()
                except OSError:
                    continue
                if st.st_mtime <= settled_before or st.st_mtime < arrived:
                    self.forget(path)
                    if path.is_file():
                        ready.append(self.rules.source(path, root))
                else:
                    self.track(path, root)
        if self.order is None:
            for source in ready:
                self.sink(source)
            return
        for source in self.order(ready):
            if self._stop.is_set():
                return
            self.in_order_sink(source)

    def _rescan_loop(self) -> None:
        """Rescan at once after an overflow, and every `rescan_interval_s` (0: only then)."""
        interval = self.cfg.rescan_interval_s
        while not self._stop.is_set():
            self._rescan_now.wait(interval if interval > 0 else None)
            self._rescan_now.clear()  # an overflow during the scan below asks for another
            if not self._stop.is_set():
                self.scan_all()

    def _stabilise_loop(self) -> None:
        tick = max(0.05, min(0.5, self.cfg.stable_after_s / 4))
        while not self._stop.wait(tick):
            self._hand_on_stable()

    def _hand_on_stable(self) -> None:
        now = time.monotonic()
        with self._lock:
            items = list(self._pending.items())
        for path, (root, size, mtime, since) in items:
            try:
                st = path.stat()
            except OSError:
                self.forget(path)
                continue
            if (st.st_size, st.st_mtime_ns) != (size, mtime):
                self.track(path, root)
            elif now - since >= self.cfg.stable_after_s:
                self.complete(path, root)
