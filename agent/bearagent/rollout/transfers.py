"""Asking the station for a file in windows, and asking again when it stalls.

A transfer asks for `WINDOW` bytes from where its download ends, then for the next window
once half of the current one has arrived (so chunks keep coming while the box writes),
and asks again from where the download ends when nothing arrived for `STALL_S` seconds:
a lost chunk, a broker that restarted, a station that was away. What the station sends
after a gap is skipped and asked for again, so the file only ever grows in order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from bearagent.rollout.files import Download
from bearagent.rollout.payloads import MAX_FETCH_BYTES

#: Bytes one request asks for (the station answers it in chunks of its chunk size).
WINDOW = MAX_FETCH_BYTES
#: Seconds without a new byte after which the transfer asks again from where it stands.
STALL_S = 10.0


@dataclass
class Transfer:
    """One file being fetched: its download, its size once known, what was asked for."""

    download: Download
    size: int | None = None  # from the offer, or the first chunk (a reference chip)
    asked_until: int = 0
    asked_at: float = -math.inf
    grew_at: float = -math.inf
    missing: bool = False  # the station answered that it holds no such file
    window: int = field(default=WINDOW)

    @property
    def complete(self) -> bool:
        """Every byte is here (or the final file is)."""
        return self.download.done or (self.size is not None and self.download.length() >= self.size)

    def requests(self, now: float, stall_s: float = STALL_S) -> list[tuple[int, int]]:
        """The (offset, length) to ask for now: none, the next window, or again after a stall."""
        if self.missing or self.complete:
            return []
        have = self.download.length()
        stalled = now - max(self.asked_at, self.grew_at) >= stall_s
        if stalled:
            start = have
        elif self.size is not None and have >= self.asked_until - self.window // 2:
            start = self.asked_until  # half of the window is here: ask for the next one
        else:
            return []
        end = start + self.window if self.size is None else min(start + self.window, self.size)
        if end <= start:
            return []
        self.asked_until, self.asked_at = end, now
        return [(start, end - start)]

    def receive(self, offset: int, data: bytes, size: int, now: float) -> bool:
        """Take a chunk (`size` is the whole file's); True when the download grew."""
        if size == 0:
            self.missing = True
            return False
        self.size = size
        grew = self.download.append(offset, data)
        if grew:
            self.grew_at = now
        return grew
