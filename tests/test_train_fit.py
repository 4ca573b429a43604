"""bear-train fit / evaluate / search end to end on a tiny synthetic population (CPU)."""

from __future__ import annotations

import csv
import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml
from click.testing import CliRunner

from bearagent.modelcard import DecisionSpec, InputSpec, TrackSpec, TrainingSummary
from beartrain.checkpoint import CheckpointError, load_checkpoint
from beartrain.cli import main
from beartrain.config import TrainConfigError, build_config
from beartrain.data.splitfile import Split, SplitRow, read_split, write_split
from beartrain.evaluation import calibrate_scores, choose_rule, rule_of
from beartrain.evaluation.decision_rule import CARD_SCORES
from beartrain.evaluation.report import evaluate_run, measure
from beartrain.search import trial_config
from beartrain.synthetic import SyntheticConfig, write_population
from beartrain.training import FitResult, fit
from beartrain.training.runfiles import plot_umap
from beartrain.training.state import LoopState

HELD_OUT = 2


def make_split(folder: Path, individuals: int = 10, seed: int = 0) -> Path:
    """An open split: per known bear 1 encounter to val, 1 to test, the rest to train;
    the last HELD_OUT bears only in val/test (known=False)."""
    root = folder / "chips"
    synth = SyntheticConfig(
        individuals=individuals,
        size=64,
        seed=seed,
        min_encounters=4,
        max_encounters=5,
        min_frames=2,
        max_frames=3,
        nuisance=0.3,
    )
    encounters: dict[str, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
    for r in write_population(root, synth):
        encounters[r.individual][r.encounter].append(r)
    names = sorted(encounters)
    unknown = set(names[-HELD_OUT:])
    subsets: dict[str, list[SplitRow]] = {"train": [], "val": [], "test": []}
    for name in names:
        for i, enc in enumerate(sorted(encounters[name])):
            if name in unknown:
                subset = ("val", "test")[i % 2]
            else:
                subset = ("val", "test")[i] if i < 2 else "train"
            subsets[subset] += [
                SplitRow(
                    r.path, r.individual, r.camera, r.captured_at, r.encounter, name not in unknown
                )
                for r in encounters[name][enc]
            ]
    split = Split(root, "open", seed, subsets["train"], subsets["val"], subsets["test"])
    write_split(split, folder / "split")
    return folder / "split"


def tree(split: Path, **overrides: Any) -> dict[str, Any]:
    """A small, fast training config (random-init resnet10t at 64 px, circle loss)."""
    base: dict[str, Any] = {
        "data": {"split": str(split), "dataset": "synthetic"},
        "model": {
            "backbone": "resnet10t",
            "pretrained": "none",
            "embedding_size": 128,
            "input": {"height": 64, "width": 64},
        },
        "loss": {"name": "circle"},
        "sampler": {"batch_size": 16, "m_per_class": 4},
        "optimizer": {"lr": 3e-3, "backbone_lr_ratio": 1},
        "train": {"epochs": 12, "num_workers": 0, "umap": False, "progress": False, "patience": 12},
    }
    for key, value in overrides.items():
        section, field = key.split(".")
        base.setdefault(section, {})[field] = value
    return base


@pytest.fixture(scope="module")
def split_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_split(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def trained(split_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> FitResult:
    torch.set_num_threads(2)
    return fit(build_config(tree(split_dir)), tmp_path_factory.mktemp("run") / "run")


def test_training_lifts_val_accuracy_far_above_the_untrained_model(trained: FitResult) -> None:
    before = trained.history[0]["val_chip_acc1"]
    best = max(row["val_chip_acc1"] for row in trained.history[1:])
    chance = 1 / 8  # 8 known individuals in the gallery
    assert best >= before + 0.15, [round(r["val_chip_acc1"], 3) for r in trained.history]
    assert best >= 3 * chance
    row = trained.history[trained.best_epoch]
    assert row["val_chip_acc1"] == best
    assert 0 <= row["val_enc_acc1"] <= 1 and 0 <= row["val_chip_imgtop1"] <= 1
    assert row["val_chip_acc10"] == 1.0  # only 8 individuals: all are in the top 10


def test_run_folder_holds_what_the_issue_lists(trained: FitResult, split_dir: Path) -> None:
    run = trained.run_dir
    for name in (
        "config.yaml",
        "metrics.csv",
        "curves.png",
        "start.pt",
        "best.pt",
        "last.pt",
        "calibration.json",
        "README.md",
        "split/train.csv",
        "split/split.json",
    ):
        assert (run / name).is_file(), name
    resolved = build_config(yaml.safe_load((run / "config.yaml").read_text()))
    assert resolved == build_config(tree(split_dir))
    with (run / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [int(float(r["epoch"])) for r in rows] == list(range(13))
    assert {"train_loss", "val_chip_acc1", "val_enc_acc5", "val_auroc"} <= set(rows[1])
    for r in rows:  # the steadier guide for the best epoch: acc@1 and AUROC at once
        mean = (float(r["val_chip_acc1"]) + float(r["val_enc_auroc"])) / 2
        assert float(r["val_acc_auroc"]) == pytest.approx(mean)
    assert load_checkpoint(run / "start.pt").epoch == 0
    readme = (run / "README.md").read_text()
    start, best = trained.history[0], trained.history[trained.best_epoch]
    assert f"| val | start (epoch 0) | best (epoch {trained.best_epoch}) | gain |" in readme
    gain = best["val_chip_acc1"] - start["val_chip_acc1"]
    assert (
        f"| val_chip_acc1 | {start['val_chip_acc1']:.3f} | {best['val_chip_acc1']:.3f} | "
        f"{gain:+.3f} |" in readme
    )


def test_checkpoint_contract_for_bear_export(trained: FitResult) -> None:
    ckpt = load_checkpoint(trained.best)
    assert ckpt.epoch == trained.best_epoch
    assert ckpt.backbone == "resnet10t" and ckpt.embedding_size == 128
    assert isinstance(ckpt.input_spec, InputSpec)
    assert (ckpt.input_spec.height, ckpt.input_spec.width) == (64, 64)
    assert ckpt.input_spec.mean == pytest.approx((0.485, 0.456, 0.406))
    assert isinstance(ckpt.training, TrainingSummary)
    assert (ckpt.training.individuals, ckpt.training.split_kind) == (8, "open")
    assert isinstance(ckpt.decision, DecisionSpec)
    assert ckpt.decision == trained.decision
    d = ckpt.decision
    assert (d.method, d.level) == ("calibrated", "encounter")
    assert (d.target_error_rate, d.target_false_unknown_rate) == (0.05, 0.05)
    assert d.false_unknown_rate is not None and d.false_unknown_rate <= 0.05
    assert d.known_threshold is not None and d.unknown_threshold is not None
    assert d.known_threshold >= d.unknown_threshold
    assert isinstance(ckpt.tracks, TrackSpec) and ckpt.tracks == trained.tracks
    assert ckpt.tracks.method == "calibrated" and ckpt.tracks.target_false_join_rate == 0.02
    assert ckpt.tracks.false_join_rate is not None and ckpt.tracks.false_join_rate <= 0.02
    assert -1.0 <= ckpt.tracks.same_individual <= 1.0
    assert ckpt.metrics["val_chip_acc1"] == trained.history[trained.best_epoch]["val_chip_acc1"]
    model = ckpt.build_model()
    assert not model.training
    with torch.no_grad():
        out = model(torch.randn(2, 3, 64, 64))
    assert out.shape == (2, 128)
    torch.testing.assert_close(out.norm(dim=1), torch.ones(2))


def test_evaluate_writes_the_table_and_open_set_figures(trained: FitResult) -> None:
    report = evaluate_run(trained.run_dir, "test")
    md = (trained.run_dir / "evaluation_test.md").read_text()
    assert md.splitlines()[0] == (
        "| split | backbone | loss | epochs | queries | acc@1 | acc@3 | acc@5 | acc@10 |"
    )
    assert f"| test (open) | resnet10t | circle | {trained.best_epoch} | per chip |" in md
    assert "per chip, k nearest images (reference work's top-k)" in md
    assert report.decision is not None and report.decision == trained.decision
    # Per encounter, as the agent decides: one test encounter per known bear.
    known, unknown = report.queries["encounter"]
    assert known == 8 and unknown >= HELD_OUT
    assert f"| per encounter | 8 / {unknown} | " in md and "| per chip | " in md
    d = report.decision
    assert f"): {rule_of(d).describe()}" in md
    # The start (epoch 0) beside the best epoch: its rows, and what fine-tuning bought.
    assert report.start_metrics is not None
    assert "| test (open) | resnet10t | circle | 0 (start) | per chip |" in md
    start = report.start_metrics["test_chip_acc1"]
    assert f"acc@1 per chip {start:.3f} -> {report.metrics['test_chip_acc1']:.3f}" in md
    enc = report.rule_figures["encounter"]
    total = enc["automatic_share"] + enc["review_share"]
    assert total == pytest.approx(1.0)
    scores = f"margin {report.metrics['test_auroc_margin']:.3f} / "
    assert "AUROC by open-set score, per chip / per encounter: best " in md and scores in md
    with (trained.run_dir / "evaluation_test.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["queries"] for r in rows][:2] == ["per chip", "per encounter"]
    assert float(rows[0]["acc@1"]) == pytest.approx(report.metrics["test_chip_acc1"], abs=1e-3)


def test_cli_fit_then_resume_continues_where_it_stopped(split_dir: Path, tmp_path: Path) -> None:
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump(tree(split_dir)))
    run = tmp_path / "cli-run"
    runner = CliRunner()
    first = runner.invoke(
        main, ["fit", "--config", str(config), "--out", str(run), "--set", "train.epochs=1"]
    )
    assert first.exit_code == 0, first.output
    assert "best epoch" in first.output and f"run folder: {run}" in first.output
    state_after_1 = load_checkpoint(run / "last.pt").resume["optimizer"]["state"]
    second = runner.invoke(
        main,
        [
            "fit",
            "--config",
            str(config),
            "--resume",
            str(run / "last.pt"),
            "--set",
            "train.epochs=2",
        ],
    )
    assert second.exit_code == 0, second.output
    last = load_checkpoint(run / "last.pt")
    assert last.epoch == 2
    assert [row["epoch"] for row in last.resume["loop"]["history"]] == [0.0, 1.0, 2.0]
    # Adam's step counters went on from epoch 1's, not from zero.
    step_1 = float(next(iter(state_after_1.values()))["step"])
    step_2 = float(next(iter(last.resume["optimizer"]["state"].values()))["step"])
    assert step_2 == 2 * step_1
    evaluated = runner.invoke(main, ["evaluate", str(run), "--split", "val"])
    assert evaluated.exit_code == 0, evaluated.output
    assert (run / "evaluation_val.md").is_file()


def test_cli_errors_are_one_line_and_say_what_to_do(split_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["fit", "--set", "optimizer.lrr=1"])
    assert result.exit_code == 1
    assert result.output == (
        "Error: invalid training config: optimizer.lrr: Extra inputs are not permitted\n"
    )
    result = runner.invoke(main, ["fit", "--out", str(tmp_path / "x")])
    assert result.output.startswith("Error: data.split is not set: point it at a folder made by")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="is not a readable bear-train checkpoint"):
        load_checkpoint(tmp_path / "junk.pt")


def test_search_writes_each_sampled_value_to_its_own_key(split_dir: Path, tmp_path: Path) -> None:
    space = {
        "optimizer.lr": {"kind": "float", "low": 1e-4, "high": 1e-2, "log": True},
        "optimizer.weight_decay": {"kind": "float", "low": 1e-6, "high": 1e-3, "log": True},
        "model.embedding_size": {"kind": "categorical", "choices": [128, 256]},
        "loss.name": {"kind": "categorical", "choices": ["circle", "arcface"]},
    }
    base = tree(split_dir)
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(base))
    search_doc = {
        "search": {"space": space, "trial_epochs": 1, "sampler": "random", "prune": False}
    }
    (tmp_path / "space.yaml").write_text(yaml.safe_dump(search_doc))
    out = CliRunner().invoke(
        main,
        [
            "search",
            "--config",
            str(tmp_path / "run.yaml"),
            "--space",
            str(tmp_path / "space.yaml"),
            "--trials",
            "2",
            "--out",
            str(tmp_path / "study"),
        ],
    )
    assert out.exit_code == 0, out.output
    assert "2 trials; best " in out.output
    result = yaml.safe_load((tmp_path / "study" / "best.yaml").read_text())
    assert (tmp_path / "study" / "study.db").is_file()
    with (tmp_path / "study" / "leaderboard.csv").open() as f:
        board = list(csv.DictReader(f))
    assert len(board) == 2
    for row in board:
        cfg = build_config(yaml.safe_load((Path(row["run_dir"]) / "config.yaml").read_text()))
        assert cfg.optimizer.lr == pytest.approx(float(row["optimizer.lr"]))
        assert cfg.optimizer.weight_decay == pytest.approx(float(row["optimizer.weight_decay"]))
        assert cfg.optimizer.lr != cfg.optimizer.weight_decay
        assert cfg.model.embedding_size == int(row["model.embedding_size"])
        assert cfg.loss.name == row["loss.name"]
        assert cfg.train.epochs == 1
    top = board[0]
    assert result["trial"] == int(top["trial"])
    assert result["params"]["loss.name"] == top["loss.name"]
    assert result["params"]["optimizer.lr"] == pytest.approx(float(top["optimizer.lr"]))
    # The mapping itself, for values no sampler would pick by chance:
    cfg = trial_config(base, {"optimizer.lr": 0.123, "optimizer.weight_decay": 0.0456})
    assert (cfg.optimizer.lr, cfg.optimizer.weight_decay) == (0.123, 0.0456)


def test_umap_plot_of_a_tiny_set(tmp_path: Path) -> None:
    emb = np.random.default_rng(0).normal(size=(12, 16)).astype(np.float32)
    labels = [f"bear-{i % 3}" for i in range(12)]
    known = np.arange(12) < 9
    assert plot_umap(tmp_path / "u.png", emb, labels, known, seed=0)
    assert (tmp_path / "u.png").stat().st_size > 1000
    assert not plot_umap(tmp_path / "v.png", emb[:3], labels[:3], known[:3], seed=0)
    assert not (tmp_path / "v.png").exists()


def test_early_stopping_counts_epochs_without_improvement() -> None:
    state = LoopState()
    values = [0.2, 0.5, 0.5, 0.4, 0.6, math.nan]
    news = []
    for epoch, value in enumerate(values, 1):
        state.epoch = epoch
        news.append(state.update("val_chip_acc1", {"val_chip_acc1": value}))
    assert news == [True, True, False, False, True, False]
    assert (state.best_epoch, state.best_value, state.bad_epochs) == (5, 0.6, 1)
    assert LoopState.from_dict(state.to_dict()) == state
    with pytest.raises(TrainConfigError) as e:
        state.update("val_acc1", {"epoch": 1.0, "val_chip_acc1": 0.5, "train_loss": 1.0})
    assert str(e.value) == (
        "train.early_stop_metric 'val_acc1' is not a metric: choose one of train_loss, "
        "val_chip_acc1"
    )


def test_head_started_by_lda_beats_a_random_head_before_any_step(
    trained: FitResult, split_dir: Path, tmp_path: Path
) -> None:
    """Same backbone weights (same seed), only the head differs at epoch 0."""
    cfg = build_config(tree(split_dir, **{"model.head_init": "lda", "train.epochs": 1}))
    result = fit(cfg, tmp_path / "run")
    random_head = trained.history[0]["val_chip_acc1"]
    lda_head = result.history[0]["val_chip_acc1"]
    assert lda_head >= random_head + 0.15, (random_head, lda_head)
    # The checkpoint builds the same model back (the LDA head is in its weights).
    reloaded = load_checkpoint(result.best).build_model()
    assert reloaded.embedding_size == 128


@pytest.mark.parametrize("level", ["encounter", "chip"])
def test_rule_is_calibrated_on_the_queries_the_agent_decides_on(
    trained: FitResult, split_dir: Path, tmp_path: Path, level: str
) -> None:
    """Encounter means by default (the agent decides per encounter), chips when configured."""
    if level == "encounter":
        result = trained
    else:
        cfg = build_config(tree(split_dir, **{"calibration.level": "chip", "train.epochs": 1}))
        result = fit(cfg, tmp_path / "run")
    ckpt = load_checkpoint(result.best)
    assert ckpt.decision is not None and ckpt.decision.validation_set is not None
    val = measure(
        ckpt.build_model(),
        read_split(split_dir),
        ckpt.input_spec,
        "val",
        (1,),
        device=torch.device("cpu"),
    )
    queries = val.level(level)
    assert len(queries.strangers) > 0
    assert len(queries.genuine) == (8 if level == "encounter" else val.metrics["val_known_queries"])
    choice = choose_rule(calibrate_scores(queries, 0.05, 0.05))
    assert ckpt.decision.score == choice.chosen
    assert ckpt.decision.known_threshold == pytest.approx(choice.calibration.known, abs=1e-5)
    assert ckpt.decision.unknown_threshold == pytest.approx(choice.calibration.unknown, abs=1e-5)
    assert ckpt.decision.level == level
    assert ("encounters" in ckpt.decision.validation_set) is (level == "encounter")
    calibration = json.loads((result.run_dir / "calibration.json").read_text())
    assert set(calibration["scores"]) == set(CARD_SCORES)
    assert calibration["decision"]["score"] == choice.chosen
    assert "Decision rule (val: " in (result.run_dir / "README.md").read_text()


def test_a_format_1_checkpoint_still_loads_as_a_rule_without_review_band(
    trained: FitResult, tmp_path: Path
) -> None:
    raw = torch.load(trained.best, map_location="cpu", weights_only=True)
    raw["format"] = 1
    del raw["decision"], raw["tracks"]
    raw["threshold"] = {"value": 0.61, "method": "calibrated", "target_false_unknown_rate": 0.05}
    torch.save(raw, tmp_path / "old.pt")
    ckpt = load_checkpoint(tmp_path / "old.pt")
    assert ckpt.decision is not None and ckpt.tracks is None
    assert (ckpt.decision.score, ckpt.decision.known_threshold) == ("best", 0.61)
    assert ckpt.decision.unknown_threshold == 0.61
    raw["format"] = 7
    torch.save(raw, tmp_path / "future.pt")
    with pytest.raises(CheckpointError, match="has checkpoint format 7, this bearid reads 1, 2"):
        load_checkpoint(tmp_path / "future.pt")


def test_a_fine_tuning_that_only_hurts_ends_with_its_starting_point(
    split_dir: Path, tmp_path: Path
) -> None:
    """Epoch 0 (the LDA start) competes for best.pt: a wrecking learning rate cannot win."""
    cfg = build_config(
        tree(split_dir, **{"model.head_init": "lda", "train.epochs": 1, "optimizer.lr": 5.0,
                           "optimizer.backbone_lr_ratio": 1, "schedule.warmup_epochs": 0})
    )  # fmt: skip
    result = fit(cfg, tmp_path / "run")
    start, trained = result.history[0]["val_chip_acc1"], result.history[1]["val_chip_acc1"]
    assert trained < start, (start, trained)
    assert result.best_epoch == 0
    assert load_checkpoint(result.best).epoch == 0
    assert result.decision is not None  # calibrated on the model it ends with
