"""Embedding reference images with the offered model (decoded and preprocessed per its card)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from bearagent.chips import ChipRejected, decode_chip, preprocess
from bearagent.rollout.sources import ReferenceImage
from bearagent.runtime.base import Embedder


@dataclass
class Embedded:
    """Vectors of the references whose image could be read, and those that could not."""

    ids: list[int] = field(default_factory=list)
    vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    unreadable: list[ReferenceImage] = field(default_factory=list)


def embed_references(embedder: Embedder, images: Sequence[ReferenceImage]) -> Embedded:
    """Embed the references in `images` (one batch); unreadable ones are listed, not raised."""
    result = Embedded()
    inputs: list[np.ndarray] = []
    for image in images:
        data = image.read()
        if data is None:
            result.unreadable.append(image)
            continue
        try:
            decoded = decode_chip(data, source=image.source)
        except ChipRejected:
            result.unreadable.append(image)
            continue
        result.ids.append(image.reference_id)
        inputs.append(preprocess(decoded, embedder.card.input))
    if inputs:
        result.vectors = embedder.embed(np.stack(inputs))
    return result
