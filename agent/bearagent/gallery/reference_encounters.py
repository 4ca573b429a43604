"""Which references of one individual belong to one encounter (burst), at enrolment.

Calibrating on the gallery leaves a whole encounter out (a query's own burst
would make it look easy), so enrolment keys each reference with its encounter:
references dated by a reliable source (sidecar, EXIF, file name) join when they
are at most `gap_s` apart, and any two whose embeddings are near-duplicates join
too (a burst the file system dated wrongly, two crops of one photo); joins are
transitive. References with neither stay encounters of their own.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Sequence

import numpy as np

from bearagent.chips.capture import CaptureTime

#: Embeddings at least this similar are taken for frames of one burst.
DUPLICATE_SIMILARITY = 0.95


def _root(parent: list[int], i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def _join(parent: list[int], a: int, b: int) -> None:
    ra, rb = _root(parent, a), _root(parent, b)
    if ra != rb:
        parent[max(ra, rb)] = min(ra, rb)


def group_encounters(
    times: Sequence[CaptureTime | None],
    embeddings: np.ndarray,
    gap_s: float = 60.0,
    duplicate_similarity: float = DUPLICATE_SIMILARITY,
) -> list[str]:
    """An encounter key per reference of ONE individual (same key: same encounter)."""
    n = len(times)
    parent = list(range(n))
    dated = sorted(
        (t.when.timestamp(), i)
        for i, t in enumerate(times)
        if t is not None and t.source != "mtime"
    )
    for (t0, a), (t1, b) in itertools.pairwise(dated):
        if t1 - t0 <= gap_s:
            _join(parent, a, b)
    if n > 1:
        e = np.asarray(embeddings, dtype=np.float32)
        close = np.argwhere(np.triu(e @ e.T >= duplicate_similarity, k=1))
        for a, b in close:
            _join(parent, int(a), int(b))
    keys: dict[int, str] = {}
    return [keys.setdefault(_root(parent, i), uuid.uuid4().hex[:16]) for i in range(n)]
