"""Embeddings of a subset's chips with their labels, encounters and known flags (and, for
quality-weighted encounter means, a weight per chip)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class EmbeddedSet:
    """Embeddings of some chips with their labels, encounters and known flags."""

    embeddings: NDArray[np.float32]
    labels: list[str]
    encounters: list[str]
    known: NDArray[np.bool_]
    weights: NDArray[np.float64] | None = None  # per chip, for encounter means (None: equal)

    def select(self, mask: NDArray[np.bool_]) -> EmbeddedSet:
        """The chips where `mask` is true."""
        idx = np.flatnonzero(mask)
        return EmbeddedSet(
            self.embeddings[idx],
            [self.labels[i] for i in idx],
            [self.encounters[i] for i in idx],
            self.known[idx],
            None if self.weights is None else self.weights[idx],
        )
