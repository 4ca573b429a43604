"""Training with held-out individuals as explicit negatives (open-set training).

A share of the train individuals is not made a class: their chips stay in the
batches with label -1, and besides the metric loss on the others, a penalty
pushes each negative's embedding below a cosine `margin` to every class centre
of the loss (ArcFace's ``W``): strangers should look like nobody, not like the
nearest known bear. The classes are chosen at random with the run's seed.

`fit(..., negatives=0.2)` turns it on (`bench/bench_train.py --negatives 0.2`
measures it; docs/openset.md has the figures).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from bearagent.errors import BearIdError


class NegativesError(BearIdError):
    """Held-out negatives that cannot be used with this loss or split."""


def negative_individuals(names: Sequence[str], share: float, seed: int) -> set[str]:
    """The train individuals kept out of the classes as negatives (at least 2 classes remain)."""
    if not 0.0 <= share < 1.0:
        raise NegativesError(f"the share of negative individuals must be in [0, 1), got {share}")
    count = min(round(share * len(names)), max(len(names) - 2, 0))
    rng = np.random.default_rng(seed)
    return set(rng.choice(sorted(names), count, replace=False).tolist()) if count else set()


class NegativesLoss(nn.Module):
    """A class-proxy metric loss on labels >= 0, plus the negatives' penalty on label -1."""

    def __init__(self, base: nn.Module, margin: float = 0.3, weight: float = 10.0) -> None:
        super().__init__()
        if not isinstance(getattr(base, "W", None), torch.Tensor):
            raise NegativesError(
                f"held-out negatives need a loss with class centres (arcface); "
                f"{type(base).__name__} has none"
            )
        self.base = base
        self.margin = margin
        self.weight = weight

    @property
    def W(self) -> torch.Tensor:
        """The base loss's class centres (embedding, classes): pytorch-metric-learning's name."""
        centres = self.base.W
        assert isinstance(centres, torch.Tensor)  # checked in __init__
        return centres

    def forward(
        self, embeddings: torch.Tensor, labels: torch.Tensor, tuples: object = None
    ) -> torch.Tensor:
        """Metric loss of the classes' chips + weight * mean(relu(max cos - margin)^2) of
        the negatives' chips."""
        known = labels >= 0
        loss = embeddings.sum() * 0.0
        if known.any():
            loss = loss + self.base(embeddings[known], labels[known])
        if (~known).any():
            centres = nn.functional.normalize(self.W, dim=0)
            cos = nn.functional.normalize(embeddings[~known], dim=1) @ centres
            over = torch.relu(cos.max(dim=1).values - self.margin)
            loss = loss + self.weight * over.pow(2).mean()
        return loss
