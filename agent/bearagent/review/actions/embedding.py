"""Embedding confirmed chips again, to choose which become references.

The agent does not store a chip's embedding, so the review page runs the agent's
model on the chip once more: from its file below a watch root (exactly the input
the agent embedded), else from its thumbnail in the database when the file has
been moved or deleted (a smaller picture, so a slightly different embedding).
The model is opened on first use (ONNX Runtime, `review.embed_providers`) and
kept; it runs outside every transaction, so the agent never waits for it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import sqlite_utils

from bearagent.chips import ChipRejected, decode_chip, preprocess
from bearagent.errors import BearIdError
from bearagent.gallery.thumbnails import thumbnail
from bearagent.review.actions.changes import Thumb, thumb_of
from bearagent.review.errors import ReviewError
from bearagent.review.queries.types import ChipView
from bearagent.runtime import RuntimeConfig, open_embedder
from bearagent.runtime.base import Embedder
from bearagent.webkit.files import PathRefused, find_below, read_servable

log = logging.getLogger(__name__)


class EmbedderUnavailable(ReviewError):
    """The model cannot be opened here, so no chip can become a reference."""


@dataclass
class EmbeddedChips:
    """Chips the model could embed, in input order, and those it could not."""

    chips: list[ChipView] = field(default_factory=list)
    embeddings: list[np.ndarray] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)  # the file, absolute when found
    thumbs: list[Thumb | None] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # files with neither file nor thumbnail
    model_sha256: str = ""

    def matrix(self) -> np.ndarray:
        """(N, E) float32."""
        if not self.embeddings:
            return np.zeros((0, 0), np.float32)
        return np.stack(self.embeddings).astype(np.float32)


class ChipEmbedder:
    """The agent's model, opened on first use, shared by the page's threads."""

    def __init__(self, runtime: RuntimeConfig, roots: Sequence[Path], max_pixels: int) -> None:
        self.runtime = runtime
        self.roots = list(roots)
        self.max_pixels = max_pixels
        self._embedder: Embedder | None = None
        self._lock = threading.Lock()

    def _open(self) -> Embedder:
        if self._embedder is None:
            try:
                self._embedder = open_embedder(self.runtime)
            except BearIdError as e:
                raise EmbedderUnavailable(f"the model {self.runtime.model} cannot run: {e}") from e
            log.info("review: embedding confirmed chips with %s", self._embedder.name)
        return self._embedder

    def embed(self, db: sqlite_utils.Database, chips: Sequence[ChipView]) -> EmbeddedChips:
        """Embed `chips` (from their files, else their thumbnails)."""
        out = EmbeddedChips()
        images: list[np.ndarray] = []
        for chip in chips:
            found = self._image(db, chip)
            if found is None:
                out.missing.append(chip.file)
                continue
            image, source = found
            out.chips.append(chip)
            out.sources.append(source)
            out.thumbs.append(_stored_thumb(db, chip.sighting_id) or thumb_of(image))
            images.append(image)
        if not images:
            return out
        with self._lock:
            embedder = self._open()
            out.model_sha256 = embedder.card.model.sha256 or ""
            batch = np.stack([preprocess(img, embedder.card.input) for img in images])
            out.embeddings = list(embedder.embed(batch))
        return out

    def _image(self, db: sqlite_utils.Database, chip: ChipView) -> tuple[np.ndarray, str] | None:
        try:
            found = find_below(self.roots, chip.file)
            data = read_servable(found)
            image = decode_chip(data, source=str(found.path), max_pixels=self.max_pixels)
            return image, str(found.path)
        except (PathRefused, ChipRejected, OSError):
            pass
        stored = thumbnail(db, "sighting", chip.sighting_id)
        if stored is None:
            return None
        try:
            return decode_chip(stored, source=f"thumbnail of {chip.file}"), chip.file
        except ChipRejected:
            return None

    def close(self) -> None:
        """Let the model go."""
        with self._lock:
            if self._embedder is not None:
                self._embedder.close()
                self._embedder = None


def _stored_thumb(db: sqlite_utils.Database, sighting_id: int) -> Thumb | None:
    row = db.execute(
        "SELECT jpeg, width, height FROM thumbnails WHERE kind = 'sighting' AND owner_id = ?",
        [sighting_id],
    ).fetchone()
    return None if row is None else (bytes(row[0]), int(row[1]), int(row[2]))
