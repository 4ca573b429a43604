"""Embed image files for the gallery: decode, preprocess per the card, embed in batches."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bearagent.chips import ChipRejected, decode_chip, preprocess
from bearagent.runtime.base import Embedder

#: Chips preprocessed and held in memory at once (bounds memory on large folders).
CHUNK = 64


@dataclass
class EmbeddedFiles:
    """Embeddings of the files that could be used, and why the others could not."""

    paths: list[Path] = field(default_factory=list)
    embeddings: list[np.ndarray] = field(default_factory=list)
    rejected: dict[Path, str] = field(default_factory=dict)

    def matrix(self) -> np.ndarray:
        """The embeddings as one (N, E) float32 matrix, in the order of `paths`."""
        return np.stack(self.embeddings) if self.embeddings else np.zeros((0, 0), np.float32)


def embed_files(paths: Sequence[Path], embedder: Embedder) -> EmbeddedFiles:
    """Embed `paths`; a missing or unreadable file is recorded with its reason, not raised."""
    result = EmbeddedFiles()
    for start in range(0, len(paths), CHUNK):
        kept: list[Path] = []
        inputs: list[np.ndarray] = []
        for path in paths[start : start + CHUNK]:
            try:
                image = decode_chip(path.read_bytes(), source=str(path))
            except ChipRejected as e:
                result.rejected[path] = str(e)
                continue
            except FileNotFoundError:
                result.rejected[path] = f"{path}: the file is gone"
                continue
            except OSError as e:
                result.rejected[path] = f"{path}: cannot read it ({e.strerror})"
                continue
            kept.append(path)
            inputs.append(preprocess(image, embedder.card.input))
        if kept:
            embeddings = embedder.embed(np.stack(inputs))
            result.paths.extend(kept)
            result.embeddings.extend(embeddings)
    return result
