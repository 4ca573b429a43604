"""bear-train distill: a frozen teacher's embeddings and relations taught to a student (CPU)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from beartrain.checkpoint import load_checkpoint
from beartrain.cli import main
from beartrain.config import DistillSection, build_config
from beartrain.model import build_embedder, input_spec
from beartrain.training import FitResult, fit
from beartrain.training.distill import DistillLoss, DistillStep, TeacherInput
from test_train_fit import make_split, tree


@pytest.fixture(scope="module")
def split_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_split(tmp_path_factory.mktemp("data"), individuals=6, seed=3)


@pytest.fixture(scope="module")
def teacher(split_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> FitResult:
    torch.set_num_threads(2)
    # A teacher that knows the individuals without a long fit: the offline pretrained
    # lite0 with its head fitted by LDA (a learning rate of ~0 keeps epoch 0 the best).
    overrides = {
        "model.backbone": "tf_efficientnet_lite0",
        "model.pretrained": "package",
        "model.head_init": "lda",
        "model.embedding_size": 192,
        "optimizer.lr": 1e-9,
        "train.epochs": 1,
    }
    return fit(build_config(tree(split_dir, **overrides)), tmp_path_factory.mktemp("t") / "run")


def test_distillation_targets_pull_the_student_to_the_teacher(teacher: FitResult) -> None:
    """On one batch, a few steps on the two targets bring the student to the teacher's view."""
    torch.manual_seed(0)
    ckpt = load_checkpoint(teacher.run_dir)
    student_cfg = build_config(tree(Path("."), **{"model.input": {"height": 48, "width": 48}}))
    student = build_embedder(student_cfg.model)
    spec = input_spec(student_cfg.model)
    metric = torch.nn.Identity()  # unused: metric_weight 0
    loss = DistillLoss(metric, 128, ckpt.embedding_size, DistillSection(metric_weight=0.0))
    step = DistillStep(student, loss, None, ckpt.build_model(), TeacherInput(spec, ckpt.input_spec))
    frozen = {k: v.clone() for k, v in step.teacher.state_dict().items()}
    images, labels = torch.randn(12, 3, 48, 48), torch.arange(12) % 4
    optimizer = torch.optim.Adam([*student.parameters(), *loss.parameters()], lr=3e-3)
    parts = []
    for _ in range(40):
        step.train()
        optimizer.zero_grad()
        step(images, labels).backward()
        optimizer.step()
        parts.append(dict(loss.last))
    assert parts[-1]["relation"] < 0.3 * parts[0]["relation"], (parts[0], parts[-1])
    assert parts[-1]["embedding"] < 0.3 * parts[0]["embedding"], (parts[0], parts[-1])
    assert all(torch.equal(v, step.teacher.state_dict()[k]) for k, v in frozen.items())
    assert not step.teacher.training


def test_distill_fit_saves_an_ordinary_student(
    teacher: FitResult, split_dir: Path, tmp_path: Path
) -> None:
    # Another backbone, input size and embedding size than the teacher.
    student = build_config(
        tree(split_dir, **{"train.epochs": 2, "model.input": {"height": 48, "width": 48},
                           "distill.teacher": str(teacher.run_dir)})
    )  # fmt: skip
    result = fit(student, tmp_path / "student")
    ckpt = load_checkpoint(result.last)
    assert ckpt.input_spec.height == 48 and ckpt.embedding_size == 128
    assert ckpt.backbone == "resnet10t" and ckpt.decision is not None
    assert not any(k.startswith(("teacher", "project")) for k in ckpt.model_state)
    assert all(np.isfinite(row["train_loss"]) for row in result.history[1:])


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
