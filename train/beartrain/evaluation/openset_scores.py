"""Candidate open-set scores: which number best says "this individual is not in the gallery"?

The agent and the calibrated threshold use the best similarity to the gallery
(``best``). On hard data that is close to chance: some known individuals match
nobody well, and some strangers look like everybody. The alternatives here are
measured beside it (evaluation metrics ``*_auroc_<name>``) so a run shows which
one separates known from unknown on its own data:

- ``margin``: best minus second-best individual. A known query tends to stand
  out from the crowd; a stranger is similarly close to several.
- ``margin3``: best minus the mean of the next three individuals (less noisy).
- ``cohort``: each gallery individual's similarity is z-normalised by how
  similar that individual is to chips of *other* individuals (a per-individual
  threshold learned from the gallery alone: the S-norm of speaker verification).

Every score is higher for "looks known".

On the cattle faces (bench/bench_train.py, open split, lite0 trained 5 epochs on
CPU), test AUROC per chip / per encounter: best 0.609 / 0.727, margin 0.602 /
0.768, margin3 0.632 / 0.794, cohort 0.604 / 0.682. Deciding per encounter
helps most; a margin on top of it helps further.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from beartrain.evaluation.metrics import FloatArray, individual_scores, similarities

#: Score names, in report order.
SCORE_NAMES = ("best", "margin", "margin3", "cohort")


@dataclass(frozen=True)
class Cohort:
    """Per gallery individual (sorted names): mean and std of its impostor similarities."""

    names: NDArray[np.str_]
    mean: NDArray[np.float64]
    std: NDArray[np.float64]


def gallery_cohort(gallery: FloatArray, labels: Sequence[str]) -> Cohort:
    """Impostor statistics of each individual: its best similarity to other individuals' chips."""
    names, scores = individual_scores(similarities(gallery, gallery), labels)
    own = np.asarray(labels, dtype=str)[:, None] == names[None, :]
    impostor = np.where(own, np.nan, scores)
    mean = np.nanmean(impostor, axis=0)
    std = np.nanstd(impostor, axis=0)
    return Cohort(names, mean, np.where(std > 1e-9, std, 1.0))


def open_set_scores(
    scores: NDArray[np.float64], cohort: Cohort | None = None
) -> dict[str, NDArray[np.float64]]:
    """Each candidate score per query, from its per-individual best similarities (Q, L).

    `scores` columns are the gallery individuals in sorted order (as
    `individual_scores` returns them, and as `cohort.names` holds them). With
    fewer than two individuals the margins are undefined (NaN); without a
    cohort, ``cohort`` is left out.
    """
    ordered = -np.sort(-scores, axis=1)
    q = len(scores)
    nan = np.full(q, np.nan)
    out: dict[str, NDArray[np.float64]] = {
        "best": ordered[:, 0] if ordered.shape[1] else nan,
        "margin": ordered[:, 0] - ordered[:, 1] if ordered.shape[1] > 1 else nan,
        "margin3": ordered[:, 0] - ordered[:, 1:4].mean(axis=1) if ordered.shape[1] > 1 else nan,
    }
    if cohort is not None and scores.shape[1]:
        out["cohort"] = ((scores - cohort.mean) / cohort.std).max(axis=1)
    return out
