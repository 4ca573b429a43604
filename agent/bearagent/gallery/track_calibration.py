"""The tracks' same-individual similarity, calibrated on the gallery (a card without ``tracks``).

bear-train calibrates it on val (`beartrain.evaluation.tracks`); a model that did
not come from bear-train (a foundation model, an adopted ONNX embedder) has no
``tracks`` in its card, so the box calibrates it the same way on the named
individuals' references:

- *same*: each reference against the rest of its own encounter (the normalised
  mean of the others, or its best other reference, whichever is higher);
  encounters of one reference give none;
- *different*: each reference against encounters of other individuals, the same
  way.

`bearagent.encounters.similarity.same_individual_threshold` picks the lowest
similarity at which at most the target share of *different* pairs join. A sample
of encounters keeps a large gallery cheap (the same one each time).
"""

from __future__ import annotations

import numpy as np
import sqlite_utils
from numpy.typing import NDArray

from bearagent.encounters.similarity import TrackCalibration, same_individual_threshold
from bearagent.gallery.calibration import named_references
from bearagent.gallery.leave_out import factorize
from bearagent.gallery.writes import reading

#: bear-train's default target share of other individuals' chips joining a track.
DEFAULT_FALSE_JOIN_RATE = 0.02
#: At most this many encounters take part (sampled with a fixed seed).
MAX_ENCOUNTERS = 400

FloatArray = NDArray[np.float64]


def _normalise(x: FloatArray) -> FloatArray:
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    out: FloatArray = x / np.where(norms > 0, norms, 1.0)
    return out


def track_similarities(
    embeddings: NDArray[np.float32],
    individuals: list[str],
    encounters: list[str],
    max_encounters: int = MAX_ENCOUNTERS,
    seed: int = 0,
) -> tuple[FloatArray, FloatArray]:
    """(same, different) similarities of references to encounters (module docstring)."""
    emb = np.asarray(embeddings, np.float64)
    enc, n_enc = factorize([f"{i}\x00{e}" for i, e in zip(individuals, encounters, strict=True)])
    owner, _ = factorize(individuals)
    chosen = np.arange(n_enc)
    if n_enc > max_encounters:
        chosen = np.sort(np.random.default_rng(seed).choice(n_enc, max_encounters, replace=False))
    members = [np.flatnonzero(enc == e) for e in chosen.tolist()]
    enc_owner = np.array([owner[m[0]] for m in members], np.int64)
    same = []
    for rows in members:
        if len(rows) < 2:
            continue
        block = emb[rows]
        rest = _normalise(block.sum(axis=0)[None, :] - block)  # the others' mean, per row
        pairs = block @ block.T
        np.fill_diagonal(pairs, -np.inf)
        same.append(np.maximum((block * rest).sum(axis=1), pairs.max(axis=1)))
    rows_all = np.concatenate(members) if members else np.zeros(0, np.int64)
    chips, chip_owner = emb[rows_all], owner[rows_all]
    different = []
    for rows, who in zip(members, enc_owner.tolist(), strict=True):
        others = chip_owner != who
        if not others.any():
            continue
        mean = _normalise(emb[rows].sum(axis=0))
        to_mean = chips[others] @ mean
        best = (chips[others] @ emb[rows].T).max(axis=1)
        different.append(np.maximum(to_mean, best))
    cat = np.concatenate
    return (cat(same) if same else np.zeros(0)), (cat(different) if different else np.zeros(0))


def calibrate_tracks_on_references(
    embeddings: NDArray[np.float32],
    individuals: list[str],
    encounters: list[str],
    target_false_join_rate: float = DEFAULT_FALSE_JOIN_RATE,
) -> TrackCalibration | None:
    """The same-individual similarity of these references; None without pairs of both kinds."""
    same, different = track_similarities(embeddings, individuals, encounters)
    if len(same) == 0 or len(different) == 0:
        return None
    return same_individual_threshold(same, different, target_false_join_rate)


def calibrate_tracks_on_gallery(
    db: sqlite_utils.Database,
    model_sha256: str,
    target_false_join_rate: float = DEFAULT_FALSE_JOIN_RATE,
) -> TrackCalibration | None:
    """`calibrate_tracks_on_references` on the named individuals' references of the model."""
    with reading(db):
        matrix, owners, keys = named_references(db, model_sha256)
    if len(set(owners)) < 2:
        return None
    return calibrate_tracks_on_references(matrix, owners, keys, target_false_join_rate)
