"""The reorder window: live chips wait a moment per camera so that a late one is placed in
capture order before the encounter tracker sees them.

Files reach a box in every order (a detector writing crops of two frames in parallel,
a copy tool, a rescan). Each embedded chip waits here for ``pipeline.reorder_window_s``
seconds of wall-clock time after it arrived; it then goes on together with every chip of
its camera captured before it, oldest first. A chip later than the window still finds
its encounter (the tracker amends ended encounters within their span plus the gap);
the window only spares those amendments for the common, slightly late chip.

A chip of a backlog scan comes already in capture order (`Arrival.in_order`): it does
not wait, and takes with it the chips of its camera captured before it.

Held chips are not in the ledger yet: a crash loses nothing (they are read again after
the restart), and a file handed on again while held is dropped here as a repeat.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bearagent.pipeline.intake import Decoded


@dataclass(frozen=True)
class Held:
    """An embedded chip waiting in the window."""

    decoded: Decoded
    embedding: np.ndarray
    arrived: float  # monotonic time it reached the window

    @property
    def camera(self) -> tuple[str, str]:
        """(root, camera): cameras of two roots are two cameras."""
        src = self.decoded.arrival.source
        return (str(src.root), src.camera)

    @property
    def order(self) -> tuple[float, str]:
        """Capture order within the camera (capture time, then file name)."""
        return (self.decoded.captured.when.timestamp(), self.decoded.arrival.source.relative)

    @property
    def key(self) -> tuple[str, str]:
        """The file it came from."""
        src = self.decoded.arrival.source
        return (str(src.root), src.relative)


class CaptureOrderWindow:
    """Holds chips per camera for `window_s` and releases them in capture order."""

    def __init__(self, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s = window_s
        self.clock = clock
        self._held: dict[tuple[str, str], list[Held]] = {}
        self._files: set[tuple[str, str]] = set()
        self._contents: set[str] = set()

    def __len__(self) -> int:
        return len(self._files)

    def add(self, decoded: list[Decoded], embeddings: np.ndarray) -> list[Decoded]:
        """Hold these chips. A file already held is dropped (handed on twice); returns the
        copies of a held chip's content under another name (duplicates)."""
        now = self.clock()
        copies: list[Decoded] = []
        for d, e in zip(decoded, embeddings, strict=True):
            item = Held(d, e, float("-inf") if d.arrival.in_order else now)
            sha = d.identity.sha256
            if item.key in self._files:
                continue
            if sha is not None and sha in self._contents:
                copies.append(d)
                continue
            self._files.add(item.key)
            if sha is not None:
                self._contents.add(sha)
            self._held.setdefault(item.camera, []).append(item)
        return copies

    def due(self) -> list[Held]:
        """The chips whose wait is over, each with every chip of its camera captured before
        it; per camera in capture order."""
        return self._release(self.clock() - self.window_s)

    def drain(self) -> list[Held]:
        """Every held chip (at shutdown)."""
        return self._release(float("inf"))

    def next_due_in(self) -> float | None:
        """Seconds until the next chip's wait is over (None when nothing is held)."""
        if not self._held:
            return None
        first = min(h.arrived for items in self._held.values() for h in items)
        return max(0.0, first + self.window_s - self.clock())

    def _release(self, arrived_by: float) -> list[Held]:
        out: list[Held] = []
        for camera in list(self._held):
            items = self._held[camera]
            ready = [h.order for h in items if h.arrived <= arrived_by]
            if not ready:
                continue
            upto = max(ready)
            go = sorted((h for h in items if h.order <= upto), key=lambda h: h.order)
            rest = [h for h in items if h.order > upto]
            if rest:
                self._held[camera] = rest
            else:
                del self._held[camera]
            for h in go:
                self._files.discard(h.key)
                if h.decoded.identity.sha256 is not None:
                    self._contents.discard(h.decoded.identity.sha256)
            out += go
        return out
