"""Quality-weighted encounter means: chips that show the animal well count more.

An encounter is decided on the normalised mean of its chips' embeddings. A blurred,
tiny or off-track chip (a partial view, another animal's chip that joined the
track) pulls that mean away from the individual. Each chip gets a weight from:

- *sharpness*: the variance of the Laplacian of its grey image;
- *size*: its shorter side in pixels;
- *agreement*: the cosine of its embedding to the normalised mean of the rest of
  its encounter (1 for an encounter of one chip).

Sharpness and size saturate at the gallery's typical values (``value / (value +
typical)``, so a chip twice as sharp as typical does not count much more);
agreement counts as ``max(agreement, 0) ** 2``. `bench/bench_openset.py` measures
which of them helps (docs/openset.md).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

#: The quality terms a weighting may use.
TERMS = ("sharpness", "size", "agreement")


def sharpness(image_bgr: NDArray[np.uint8]) -> float:
    """Variance of the Laplacian of the grey image (higher: sharper)."""
    grey = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY) if image_bgr.ndim == 3 else image_bgr
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def chip_size(image_bgr: NDArray[np.uint8]) -> int:
    """The shorter side of the chip in pixels."""
    return int(min(image_bgr.shape[:2]))


def track_agreement(embeddings: NDArray[np.floating]) -> FloatArray:
    """Each chip's cosine to the normalised mean of the other chips of its encounter."""
    emb = np.asarray(embeddings, np.float64)
    if len(emb) < 2:
        return np.ones(len(emb))
    rest = emb.sum(axis=0)[None, :] - emb
    norms = np.linalg.norm(rest, axis=1)
    out: FloatArray = (emb * rest).sum(axis=1) / np.where(norms > 0, norms, 1.0)
    return out


def quality_weights(
    terms: Sequence[str],
    *,
    sharpness_values: FloatArray | None = None,
    sizes: FloatArray | None = None,
    agreement: FloatArray | None = None,
    typical: tuple[float, float] = (1.0, 1.0),
) -> FloatArray:
    """The weight of each chip from the chosen `terms` (``typical``: sharpness and size of a
    typical chip). Unknown terms are refused; no term gives equal weights."""
    unknown = set(terms) - set(TERMS)
    if unknown:
        raise ValueError(f"unknown quality terms {sorted(unknown)}: choose from {', '.join(TERMS)}")
    given = [v for v in (sharpness_values, sizes, agreement) if v is not None]
    n = len(given[0]) if given else 0
    weight = np.ones(n)
    for term, values, scale in (
        ("sharpness", sharpness_values, typical[0]),
        ("size", sizes, typical[1]),
    ):
        if term in terms:
            if values is None:
                raise ValueError(f"the quality term {term!r} needs its values")
            v = np.maximum(np.asarray(values, np.float64), 0.0)
            weight *= v / (v + max(scale, 1e-12))
    if "agreement" in terms:
        if agreement is None:
            raise ValueError("the quality term 'agreement' needs its values")
        weight *= np.maximum(np.asarray(agreement, np.float64), 0.0) ** 2
    return weight


def weighted_mean(embeddings: NDArray[np.floating], weights: FloatArray) -> FloatArray:
    """The normalised weighted mean of an encounter's chips (the plain mean if every weight
    is 0)."""
    emb = np.asarray(embeddings, np.float64)
    w = np.asarray(weights, np.float64)
    if not (w > 0).any():
        w = np.ones(len(emb))
    total = (emb * w[:, None]).sum(axis=0)
    norm = float(np.linalg.norm(total))
    out: FloatArray = total / norm if norm > 0 else total
    return out
