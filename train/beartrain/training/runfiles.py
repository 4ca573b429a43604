"""What a run folder holds besides checkpoints: metrics.csv, curves.png, UMAP plots."""

from __future__ import annotations

import csv
import logging
import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, never a window (workstations run this over ssh)
import matplotlib.pyplot as plt
import numpy as np
from numpy.typing import NDArray

log = logging.getLogger(__name__)

#: UMAP needs a few points more than its neighbourhood size.
MIN_UMAP_POINTS = 5


def write_metrics_csv(path: Path, history: Sequence[dict[str, float]]) -> None:
    """One row per epoch; columns are the union of all keys, epoch first."""
    columns: list[str] = []
    for row in history:
        columns += [k for k in row if k not in columns]
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(history)


def plot_curves(path: Path, history: Sequence[dict[str, float]]) -> None:
    """Training loss and val accuracy@k per epoch."""
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    epochs = [row["epoch"] for row in history]
    losses = [(row["epoch"], row["train_loss"]) for row in history if "train_loss" in row]
    if losses:
        ax_loss.plot(*zip(*losses, strict=True), marker="o")
    ax_loss.set(xlabel="epoch", ylabel="train loss", title="loss")
    keys = {k for row in history for k in row if "_acc" in k or k.endswith("auroc")}
    for key in sorted(keys, key=_natural):
        values = [row.get(key, math.nan) for row in history]
        ax_acc.plot(epochs, values, marker=".", label=key)
    ax_acc.set(xlabel="epoch", ylabel="share", ylim=(0, 1.02), title="val accuracy@k, AUROC")
    ax_acc.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _natural(key: str) -> tuple[str, int]:
    """Sort val_chip_acc3 before val_chip_acc10."""
    stem = key.rstrip("0123456789")
    return stem, int(key[len(stem) :] or 0)


def plot_umap(
    path: Path,
    embeddings: NDArray[np.float32],
    labels: Sequence[str],
    known: NDArray[np.bool_],
    seed: int,
) -> bool:
    """A 2-D UMAP of val embeddings coloured by individual (held-out ones as crosses).

    Returns False (and writes nothing) when there are too few points for UMAP.
    """
    n = len(labels)
    if n < MIN_UMAP_POINTS:
        log.info("UMAP skipped: %d val chips, at least %d needed", n, MIN_UMAP_POINTS)
        return False
    import umap  # slow to import (numba): only when a plot is wanted

    reducer = umap.UMAP(n_neighbors=min(15, n - 1), random_state=seed, init="random", n_jobs=1)
    points = np.asarray(reducer.fit_transform(embeddings))
    names = sorted(set(labels))
    colour = np.array([names.index(label) for label in labels])
    fig, ax = plt.subplots(figsize=(6, 6))
    for mask, marker in ((known, "o"), (~known, "x")):
        if mask.any():
            ax.scatter(
                points[mask, 0],
                points[mask, 1],
                c=colour[mask],
                cmap="tab20",
                marker=marker,
                s=12,
                vmin=0,
                vmax=max(len(names) - 1, 1),
            )
    ax.set(title=f"val embeddings (UMAP), {len(names)} individuals; x = not in gallery")
    ax.set_xticks([])
    ax.set_yticks([])
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True
