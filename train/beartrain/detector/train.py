"""Training the small face detector on rendered scenes, on the CPU, deterministically.

The same seed, scenes and settings give the same weights: torch and numpy are
seeded, the thread count is fixed, and batches are drawn from a seeded generator.
The run folder gets ``config.json`` (the resolved settings), ``history.json``
(loss per epoch) and ``detector.pt`` (weights, settings and classes).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from beartrain.detector.data import batch_tensors, load_scenes
from beartrain.detector.loss import detection_loss
from beartrain.detector.model import TinyDetector, decode_all
from beartrain.scenes import CLASSES

CHECKPOINT = "detector.pt"


@dataclass(frozen=True)
class DetectorTrainConfig:
    """How the detector is trained."""

    input_size: int = 256
    width: int = 8  # channels of the first layer; later stages are multiples
    epochs: int = 20
    batch_size: int = 8
    lr: float = 3e-3
    weight_decay: float = 5e-4
    warmup_steps: int = 50
    seed: int = 0
    threads: int = 1  # more threads lose badly on a CPU shared with other work (40x)
    max_steps: int | None = None  # stop early (tests)


@dataclass(frozen=True)
class FitResult:
    """Where the trained detector is and how training went."""

    run_dir: Path
    checkpoint: Path
    history: list[dict[str, float]]
    seconds: float


def _learning_rate(step: int, total: int, cfg: DetectorTrainConfig) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps)
    return cfg.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def fit_detector(
    scenes: Path, run_dir: Path, cfg: DetectorTrainConfig, say: Callable[[str], None] = print
) -> FitResult:
    """Train on the scenes folder `scenes`; write the run into `run_dir`."""
    start = time.monotonic()
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    rng = np.random.default_rng(cfg.seed)
    data = load_scenes(scenes, cfg.input_size)
    model = TinyDetector(len(CLASSES), cfg.width)
    optimiser = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    per_epoch = max(1, len(data) // cfg.batch_size)
    total = (
        cfg.epochs * per_epoch
        if cfg.max_steps is None
        else min(cfg.max_steps, cfg.epochs * per_epoch)
    )
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.json").write_text(
        json.dumps({**asdict(cfg), "scenes": str(scenes), "classes": list(CLASSES)}, indent=2)
    )
    history: list[dict[str, float]] = []
    step = 0
    model.train()
    for epoch in range(cfg.epochs):
        order = rng.permutation(len(data))
        sums = {"loss": 0.0, "cls": 0.0, "box": 0.0}
        for b in range(per_epoch):
            if step >= total:
                break
            images, targets = batch_tensors(
                data, order[b * cfg.batch_size : (b + 1) * cfg.batch_size], rng
            )
            for group in optimiser.param_groups:
                group["lr"] = _learning_rate(step, total, cfg)
            maps = model(images)
            boxes, logits = decode_all(maps)
            loss, parts = detection_loss(boxes, logits, targets, [m.shape[-2:] for m in maps])
            optimiser.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            optimiser.step()
            step += 1
            sums["loss"] += float(loss.detach())
            sums["cls"] += parts["cls"]
            sums["box"] += parts["box"]
        batches = max(1, min(per_epoch, step - epoch * per_epoch))
        row = {"epoch": float(epoch), **{k: v / batches for k, v in sums.items()}}
        history.append(row)
        say(f"epoch {epoch}: loss {row['loss']:.3f} (class {row['cls']:.3f}, box {row['box']:.3f})")
        if step >= total:
            break
    checkpoint = run_dir / CHECKPOINT
    torch.save(
        {"state_dict": model.state_dict(), "config": asdict(cfg), "classes": list(CLASSES)},
        checkpoint,
    )
    (run_dir / "history.json").write_text(json.dumps(history, indent=2))
    return FitResult(run_dir, checkpoint, history, time.monotonic() - start)


def load_detector(checkpoint: Path) -> tuple[TinyDetector, DetectorTrainConfig, list[str]]:
    """A trained detector (eval mode), its settings and classes."""
    saved = torch.load(checkpoint, map_location="cpu", weights_only=True)
    cfg = DetectorTrainConfig(**saved["config"])
    model = TinyDetector(len(saved["classes"]), cfg.width)
    model.load_state_dict(saved["state_dict"])
    return model.eval(), cfg, list(saved["classes"])
