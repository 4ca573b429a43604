"""bear-train distill: a frozen teacher's embeddings and relations taught to a student (CPU)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from bearagent.modelcard import InputSpec
from beartrain.checkpoint import load_checkpoint
from beartrain.cli import main
from beartrain.config import build_config
from beartrain.data.splitfile import read_split
from beartrain.model import Embedder, build_embedder, input_spec
from beartrain.training import FitResult, embed_rows, fit
from beartrain.training.state import seed_everything
from test_train_fit import make_split, tree


@pytest.fixture(scope="module")
def split_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_split(tmp_path_factory.mktemp("data"), individuals=8, seed=3)


@pytest.fixture(scope="module")
def teacher(split_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> FitResult:
    torch.set_num_threads(2)
    cfg = build_config(tree(split_dir, **{"train.epochs": 5, "model.embedding_size": 192}))
    return fit(cfg, tmp_path_factory.mktemp("teacher") / "run")


def relation_agreement(student: Embedder, spec: InputSpec, teacher: Path, split_dir: Path) -> float:
    """Correlation of the two models' cosine similarities between val chip pairs."""
    split = read_split(split_dir)
    ckpt = load_checkpoint(teacher)
    mats = []
    for model, model_spec in ((student, spec), (ckpt.build_model(), ckpt.input_spec)):
        emb = embed_rows(model, split.root, split.val, model_spec, torch.device("cpu")).embeddings
        mats.append((emb @ emb.T)[np.triu_indices(len(emb), 1)])
    return float(np.corrcoef(mats[0], mats[1])[0, 1])


def test_student_learns_the_teachers_relations(
    teacher: FitResult, split_dir: Path, tmp_path: Path
) -> None:
    # Another input size and embedding size than the teacher: resized input, projected target.
    student = build_config(
        tree(split_dir, **{"train.epochs": 4, "model.input": {"height": 48, "width": 48},
                           "distill.teacher": str(teacher.run_dir), "distill.metric_weight": 0.0})
    )  # fmt: skip
    seed_everything(student.train.seed)  # as fit does: the student's own starting weights
    start = build_embedder(student.model).eval()
    result = fit(student, tmp_path / "student")
    spec = input_spec(student.model)
    before = relation_agreement(start, spec, teacher.run_dir, split_dir)
    after = relation_agreement(load_checkpoint(result.last).build_model(), spec,
                               teacher.run_dir, split_dir)  # fmt: skip
    assert after > before + 0.2, (before, after)  # who resembles whom: the teacher's view
    losses = [row["train_loss"] for row in result.history[1:]]
    assert losses[-1] < 0.7 * losses[0], losses
    ckpt = load_checkpoint(result.last)
    assert ckpt.input_spec.height == 48 and ckpt.embedding_size == 128
    assert not any(k.startswith(("teacher", "project")) for k in ckpt.model_state)


def test_distill_command_runs_one_epoch(
    teacher: FitResult, split_dir: Path, tmp_path: Path
) -> None:
    import yaml

    (tmp_path / "s.yaml").write_text(yaml.safe_dump(tree(split_dir)))
    args = ["distill", "--teacher", str(teacher.run_dir), "--config", str(tmp_path / "s.yaml"),
            "--set", "train.epochs=1", "--out", str(tmp_path / "run")]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    cfg = build_config(yaml.safe_load((tmp_path / "run" / "config.yaml").read_text()))
    assert cfg.distill.teacher == teacher.run_dir
