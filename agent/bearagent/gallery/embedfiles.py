"""Embed image files for the gallery: decode, preprocess per the card, embed in batches."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bearagent.chips import CaptureTime, ChipRejected, decode_chip, preprocess
from bearagent.gallery.thumbnails import make_thumbnail
from bearagent.runtime.base import Embedder

#: Chips preprocessed and held in memory at once (bounds memory on large folders).
CHUNK = 64


@dataclass
class EmbeddedFiles:
    """Embeddings of the files that could be used, and why the others could not."""

    paths: list[Path] = field(default_factory=list)
    embeddings: list[np.ndarray] = field(default_factory=list)
    rejected: dict[Path, str] = field(default_factory=dict)
    captured: list[CaptureTime | None] = field(default_factory=list)  # per path, with `date`
    thumbs: list[tuple[bytes, int, int]] = field(default_factory=list)  # per path, if asked

    def matrix(self) -> np.ndarray:
        """The embeddings as one (N, E) float32 matrix, in the order of `paths`."""
        return np.stack(self.embeddings) if self.embeddings else np.zeros((0, 0), np.float32)


#: Dates a file from its path and bytes (see `bearagent.chips.capture_time`).
Dater = Callable[[Path, bytes], CaptureTime]


def embed_files(
    paths: Sequence[Path],
    embedder: Embedder,
    date: Dater | None = None,
    *,
    thumbnails: bool = False,
) -> EmbeddedFiles:
    """Embed `paths` (and date them with `date`, when given; make each one's thumbnail
    with `thumbnails`); a missing or unreadable file is recorded with its reason, not
    raised."""
    result = EmbeddedFiles()
    for start in range(0, len(paths), CHUNK):
        kept: list[Path] = []
        inputs: list[np.ndarray] = []
        for path in paths[start : start + CHUNK]:
            try:
                data = path.read_bytes()
                image = decode_chip(data, source=str(path))
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
            result.captured.append(date(path, data) if date is not None else None)
            if thumbnails:
                result.thumbs.append(make_thumbnail(image))
        if kept:
            embeddings = embedder.embed(np.stack(inputs))
            result.paths.extend(kept)
            result.embeddings.extend(embeddings)
    return result
