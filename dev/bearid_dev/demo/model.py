"""The workstation half of the demo: split, train a small embedder, export it to ONNX."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from bearexport.pipeline import ExportOptions, export_checkpoint
from bearid_dev.demo.options import DemoOptions
from beartrain.config import build_config
from beartrain.data.config import DataConfig
from beartrain.splits import SplitConfig, split_folder
from beartrain.training.loop import fit

Say = Callable[[str], None]


def demo_training_config(opts: DemoOptions, split: Path, individuals: int) -> dict[str, Any]:
    """A small, CPU-friendly run: lite0 with its offline ImageNet weights, a triplet loss
    with semi-hard mining and a gentle learning rate (a few hundred chips: ArcFace with
    its class weights overfits them).

    `individuals` in train bounds the batch: 4 chips of each of up to 8 bears. The
    unknown threshold is calibrated for a 10% false-unknown rate rather than the usual
    5%: on a validation set this small, 5% is one or two chips, and the threshold ends
    up below most strangers.
    """
    size = opts.input_size
    return {
        "data": {"split": str(split), "dataset": "demo"},
        "model": {
            "backbone": "tf_efficientnet_lite0",
            "pretrained": "package",
            "embedding_size": 128,
            "head_init": "lda",
            "input": {"height": size, "width": size, "resize": "stretch"},
        },
        "loss": {"name": "triplet_margin"},
        "miner": {"name": "semi_hard"},
        "optimizer": {"lr": 3e-4},
        "calibration": {"target_false_unknown_rate": 0.1},
        "sampler": {"batch_size": 4 * min(8, individuals), "m_per_class": 4},
        "schedule": {"warmup_epochs": 1, "freeze_backbone_epochs": 1},
        "train": {
            "epochs": opts.epochs,
            "patience": 4,
            "seed": opts.seed,
            "umap": False,
            "num_workers": 0,
            "device": "auto",
        },
    }


def train_and_export(opts: DemoOptions, chips: Path, say: Say) -> Path:
    """Split `chips`, fit, export; returns the exported embedder.onnx."""
    split_dir = opts.workdir / "split"
    split = split_folder(
        chips, DataConfig(root=chips), SplitConfig(kind="open", seed=opts.seed), split_dir
    )
    say(
        f"split: {len(split.train)} train, {len(split.val)} val, {len(split.test)} test chips "
        f"({split_dir})"
    )
    individuals = len({row.individual for row in split.train})
    cfg = build_config(demo_training_config(opts, split_dir, individuals))
    result = fit(cfg, opts.workdir / "run")
    best = next((h for h in result.history if h.get("epoch") == result.best_epoch), {})
    acc = best.get("val_chip_acc1", float("nan"))
    say(f"trained: best epoch {result.best_epoch}, val accuracy@1 per chip {acc:.3f}")
    if result.decision is not None:
        d = result.decision
        say(
            f"decision rule: score {d.score}, known >= {d.known_threshold:.3f}, unknown < "
            f"{d.unknown_threshold:.3f} (calibrated on val, AUROC {d.auroc})"
        )
    model_dir = opts.workdir / "model"
    exported = export_checkpoint(result.run_dir, model_dir, ExportOptions(name="bearid-demo"))
    say(f"exported {model_dir / 'embedder.onnx'}")
    for report in exported.parity.values():
        say(f"  {report.line()}")
    return model_dir / "embedder.onnx"
