"""The one interface every inference runtime implements, and what they share.

Runtimes run graphs and know nothing about bears: input size and normalisation
come from the model card, and a runtime only checks that a batch fits the card.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from types import TracebackType

import numpy as np

from bearagent.modelcard import ModelCard
from bearagent.runtime.errors import BadBatch

#: Below this norm an embedding is treated as zero instead of divided by ~0.
_MIN_NORM = 1e-12


class Embedder(ABC):
    """Turns a preprocessed batch (N, 3, H, W) float32 into L2-normalised (N, E) float32."""

    @property
    @abstractmethod
    def card(self) -> ModelCard:
        """The verified model card of the model this runtime runs."""

    @property
    @abstractmethod
    def name(self) -> str:
        """A short description for logs, e.g. ``onnxruntime[CPUExecutionProvider]``."""

    @abstractmethod
    def embed(self, batch: np.ndarray) -> np.ndarray:
        """Embed a batch; any N >= 0 is accepted (large ones are split internally)."""

    @abstractmethod
    def close(self) -> None:
        """Release the session or engine; the embedder cannot be used afterwards."""

    def warm_up(self, batch_size: int = 1) -> None:
        """Run one zero batch so that the first real chip does not pay for lazy set-up."""
        spec = self.card.input
        self.embed(np.zeros((batch_size, 3, spec.height, spec.width), dtype=np.float32))

    def __enter__(self) -> Embedder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def check_batch(batch: np.ndarray, card: ModelCard) -> np.ndarray:
    """`batch` as a contiguous float32 (N, 3, H, W) array, or `BadBatch` saying why not."""
    spec = card.input
    expected = (3, spec.height, spec.width)
    if batch.ndim != 4 or tuple(batch.shape[1:]) != expected:
        raise BadBatch(
            f"batch has shape {tuple(batch.shape)}, but model {card.model.name} takes "
            f"(N, {', '.join(map(str, expected))}): preprocess chips with "
            "bearagent.chips.preprocess and the model's card"
        )
    if batch.dtype != np.float32:
        raise BadBatch(f"batch has dtype {batch.dtype}, but the model takes float32")
    return np.ascontiguousarray(batch)


def split_batches(batch: np.ndarray, max_batch: int) -> Iterator[np.ndarray]:
    """Consecutive slices of at most `max_batch` rows (views, no copies)."""
    for start in range(0, batch.shape[0], max_batch):
        yield batch[start : start + max_batch]


def l2_normalise(embeddings: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (all-zero rows stay zero), as float32."""
    out = np.asarray(embeddings, dtype=np.float32)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    normed: np.ndarray = (out / np.maximum(norms, _MIN_NORM)).astype(np.float32, copy=False)
    return normed
