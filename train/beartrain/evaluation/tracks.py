"""The same-individual similarity of the agent's tracks, calibrated on val chips.

The agent lets a chip join an open track of its camera when its similarity to the
track — the better of the track's normalised mean and its most recent chips
(`bearagent.encounters.similarity.chip_to_track_similarity`) — reaches the
same-individual similarity. On val:

- *same*: each chip against the rest of its own encounter (the normalised mean
  of the other chips, or its best other chip, whichever is higher); encounters
  of one chip give none;
- *different*: each chip against every encounter of another individual, the
  same way (all the encounter's chips play "recent chips": slightly pessimistic).

`bearagent.encounters.similarity.same_individual_threshold` then picks the
lowest similarity at which at most the target share of *different* pairs join.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from bearagent.encounters.similarity import TrackCalibration, same_individual_threshold
from bearagent.modelcard import TrackSpec
from beartrain.evaluation.embedded import EmbeddedSet
from beartrain.evaluation.metrics import aggregate_encounters

FloatArray = NDArray[np.float64]


def _normalise(x: FloatArray) -> FloatArray:
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    out: FloatArray = x / np.where(norms > 0, norms, 1.0)
    return out


def same_similarities(chips: EmbeddedSet) -> FloatArray:
    """Each chip's similarity to the rest of its own encounter (encounters of 2+ chips)."""
    emb = np.asarray(chips.embeddings, np.float64)
    enc = np.asarray(chips.encounters, dtype=str)
    keys, inverse = np.unique(enc, return_inverse=True)
    sums = np.zeros((len(keys), emb.shape[1]))
    np.add.at(sums, inverse, emb)
    sizes = np.bincount(inverse, minlength=len(keys))
    out = []
    for e in np.flatnonzero(sizes >= 2):
        members = np.flatnonzero(inverse == e)
        block = emb[members]
        rest = _normalise(sums[e][None, :] - block)  # mean of the other chips, per chip
        to_mean = (block * rest).sum(axis=1)
        pairs = block @ block.T
        np.fill_diagonal(pairs, -np.inf)
        out.append(np.maximum(to_mean, pairs.max(axis=1)))
    return np.concatenate(out) if out else np.zeros(0)


def different_similarities(chips: EmbeddedSet) -> FloatArray:
    """Each chip's similarity to each encounter of another individual (mean or best chip)."""
    emb = np.asarray(chips.embeddings, np.float64)
    means, enc_labels, keys = aggregate_encounters(emb, chips.labels, chips.encounters)
    enc_of_chip = np.searchsorted(np.asarray(keys, dtype=str), np.asarray(chips.encounters))
    to_mean = emb @ means.T  # (N, E)
    best_chip = np.full_like(to_mean, -np.inf)
    for e in range(len(keys)):  # block by block: no (N, N) matrix on a large val
        best_chip[:, e] = (emb @ emb[enc_of_chip == e].T).max(axis=1)
    other = np.asarray(chips.labels, dtype=str)[:, None] != np.asarray(enc_labels)[None, :]
    both: FloatArray = np.maximum(to_mean, best_chip)[other]
    return both


def calibrate_tracks(
    chips: EmbeddedSet, target_false_join_rate: float, subset: str = "val"
) -> tuple[TrackSpec, TrackCalibration] | None:
    """The card's `TrackSpec` calibrated on `chips`; None without pairs of both kinds."""
    same, different = same_similarities(chips), different_similarities(chips)
    if len(same) == 0 or len(different) == 0:
        return None
    cal = same_individual_threshold(same, different, target_false_join_rate)
    spec = TrackSpec(
        same_individual=cal.threshold,
        method="calibrated",
        target_false_join_rate=target_false_join_rate,
        false_join_rate=cal.false_join_rate,
        split_rate=None if math.isnan(cal.split_rate) else cal.split_rate,
        validation_set=(
            f"{subset}: {cal.same} chips against the rest of their encounter, {cal.different} "
            "chip-encounter pairs of different individuals"
        ),
    )
    return spec, cal
