"""Test-time flip averaging: the embedding of a chip and of its mirror image, averaged.

`FlipAveraged` wraps an `Embedder`: the same (N, 3, H, W) -> (N, E) unit-norm
contract, so it evaluates like any model and exports to ONNX as one graph (the
flip is a ``Slice`` with step -1 on the width axis; the agent's preprocessing is
unchanged). It costs one more forward pass per chip.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from beartrain.model.embedder import Embedder


class FlipAveraged(Embedder):
    """An embedder whose output is the normalised mean of a chip's and its mirror's embedding.

    It shares the wrapped embedder's modules (same state-dict keys).
    """

    def __init__(self, model: Embedder) -> None:
        super().__init__(model.backbone, model.head, model.input_adapter)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embed a batch and its horizontal mirror; every output row has unit L2 norm."""
        both = self.head(self.features(torch.cat([x, torch.flip(x, dims=(3,))])))
        n = x.shape[0]
        return F.normalize(both[:n] + both[n:], p=2.0, dim=1)
