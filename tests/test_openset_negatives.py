"""Training with held-out individuals as explicit negatives."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from pytorch_metric_learning import losses

from beartrain.checkpoint import load_checkpoint
from beartrain.config import build_config
from beartrain.data.splitfile import read_split
from beartrain.training import fit
from beartrain.training.negatives import NegativesError, NegativesLoss, negative_individuals
from test_train_fit import make_split, tree


def test_the_negatives_penalty_against_its_formula() -> None:
    torch.manual_seed(0)
    base = losses.ArcFaceLoss(3, 8)
    loss = NegativesLoss(base, margin=0.3, weight=10.0)
    emb = torch.nn.functional.normalize(torch.randn(6, 8), dim=1)
    labels = torch.tensor([0, 1, 2, -1, -1, 0])
    expected = base(emb[[0, 1, 2, 5]], labels[[0, 1, 2, 5]]).detach()
    centres = torch.nn.functional.normalize(base.W.detach(), dim=0)
    penalty = [max(float(emb[i] @ centres[:, j]) for j in range(3)) - 0.3 for i in (3, 4)]
    expected = expected + 10.0 * sum(max(p, 0.0) ** 2 for p in penalty) / 2
    assert float(loss(emb, labels)) == pytest.approx(float(expected), rel=1e-5)
    with pytest.raises(NegativesError, match="need a loss with class centres \\(arcface\\)"):
        NegativesLoss(losses.TripletMarginLoss())


def test_negatives_are_a_seeded_share_and_leave_two_classes() -> None:
    names = [f"b{i}" for i in range(10)]
    assert len(negative_individuals(names, 0.2, 0)) == 2
    assert negative_individuals(names, 0.2, 0) == negative_individuals(names, 0.2, 0)
    assert len(negative_individuals(names[:3], 0.9, 0)) == 1
    assert negative_individuals(names, 0.0, 0) == set()
    with pytest.raises(NegativesError, match=r"must be in \[0, 1\), got 1.0"):
        negative_individuals(names, 1.0, 0)


def test_a_fit_with_negatives_keeps_them_out_of_the_classes(tmp_path: Path) -> None:
    split = make_split(tmp_path / "data")
    cfg = build_config(tree(split, **{"loss.name": "arcface", "train.epochs": 2,
                                      "model.head_init": "lda"}))  # fmt: skip
    torch.set_num_threads(2)
    result = fit(cfg, tmp_path / "run", negatives=0.25)
    ckpt = load_checkpoint(result.best)
    everyone = sorted({r.individual for r in read_split(split).train})
    held_out = negative_individuals(everyone, 0.25, 0)
    assert len(held_out) == 2
    assert set(ckpt.label_names).isdisjoint(held_out) and len(ckpt.label_names) == 6
    assert ckpt.training is not None and ckpt.training.individuals == 8
    assert len(result.history) == 3 and result.decision is not None
