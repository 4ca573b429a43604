"""Counters and latency percentiles the agent reports on its ``stats`` topic."""

from __future__ import annotations

import threading
from collections import Counter, deque

import numpy as np


class AgentStats:
    """Thread-safe counters plus a window of recent end-to-end chip latencies."""

    def __init__(self, window: int = 1000) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._rejected: Counter[str] = Counter()
        self._blanks: Counter[str] = Counter()  # "<site>/<camera>" -> blank frames and clips
        self._latencies_ms: deque[float] = deque(maxlen=window)

    def count(self, name: str, n: int = 1) -> None:
        """Add `n` to counter `name` (processed, duplicates, events, ...)."""
        with self._lock:
            self._counts[name] += n

    def rejected(self, reason: str) -> None:
        """Count one rejected file under its reason."""
        with self._lock:
            self._counts["rejected"] += 1
            self._rejected[reason] += 1

    def blank(self, site: str, camera: str) -> None:
        """Count one blank frame or clip (the detector found nothing) of a camera."""
        with self._lock:
            self._counts["blank"] += 1
            self._blanks[f"{site}/{camera}"] += 1

    def latency(self, ms: float) -> None:
        """Record one chip's latency from completed file to committed events."""
        with self._lock:
            self._latencies_ms.append(ms)

    def snapshot(self) -> dict[str, object]:
        """Counters, rejections by reason, blanks per camera, and latency p50/p95/p99 (ms)."""
        with self._lock:
            counts = dict(self._counts)
            rejected = dict(self._rejected)
            blanks = dict(self._blanks)
            lat = np.asarray(self._latencies_ms, dtype=np.float64)
        percentiles = (
            {f"p{q}": round(float(np.percentile(lat, q)), 2) for q in (50, 95, 99)}
            if lat.size
            else {}
        )
        return {
            "counts": counts,
            "rejected_by_reason": rejected,
            "blanks_by_camera": blanks,
            "latency_ms": percentiles,
        }
