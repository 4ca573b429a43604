"""Which confirmed chips become references: the ones least like what the individual has.

A gallery learns most from chips that show the bear differently (another pose,
light, season) and nothing from the tenth copy of one frame, so chips are taken
greedily, each time the one whose best similarity to the references (and the
chips already taken) is lowest, until the individual's cap is reached. Chips that
duplicate a reference (similarity at or above `DUPLICATE`) are never taken.
"""

from __future__ import annotations

import numpy as np

#: A chip this similar to a reference adds nothing.
DUPLICATE = 0.995


def pick_unlike(existing: np.ndarray, candidates: np.ndarray, room: int) -> list[int]:
    """Indices of up to `room` rows of `candidates` (N, E), least like `existing` (M, E)
    first, in the order taken. With no references yet, the first is the chip nearest
    the candidates' mean (the most typical), then the least like those taken."""
    n = candidates.shape[0]
    if n == 0 or room <= 0:
        return []
    picked: list[int] = []
    if existing.shape[0]:
        nearest = (candidates @ existing.T).max(axis=1)
    else:
        nearest = np.full(n, -np.inf, dtype=np.float64)
        mean = candidates.mean(axis=0)
        first = int(np.argmax(candidates @ mean))
        picked.append(first)
        nearest = np.maximum(nearest, candidates @ candidates[first])
    available = np.ones(n, dtype=bool)
    available[picked] = False
    while len(picked) < room:
        scores = np.where(available & (nearest < DUPLICATE), nearest, np.inf)
        best = int(np.argmin(scores))
        if not np.isfinite(scores[best]):
            break
        picked.append(best)
        available[best] = False
        nearest = np.maximum(nearest, candidates @ candidates[best])
    return picked[:room]
