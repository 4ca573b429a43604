"""The training loop's own state: epoch, best value, patience counter, history."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from beartrain.config import TrainConfigError


@dataclass
class LoopState:
    """What `--resume` needs to continue the loop where it stopped."""

    epoch: int = 0
    best_value: float = -math.inf
    best_epoch: int = 0
    bad_epochs: int = 0
    history: list[dict[str, float]] = field(default_factory=list)

    def update(self, metric: str, metrics: dict[str, float]) -> bool:
        """Record an epoch's value of `metric`; True when it is a new best (higher is better)."""
        check_metric(metric, metrics)
        value = metrics[metric]
        if not math.isnan(value) and value > self.best_value:
            self.best_value, self.best_epoch, self.bad_epochs = value, self.epoch, 0
            return True
        self.bad_epochs += 1
        return False

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the checkpoint."""
        return {
            "epoch": self.epoch,
            "best_value": self.best_value,
            "best_epoch": self.best_epoch,
            "bad_epochs": self.bad_epochs,
            "history": self.history,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> LoopState:
        """Inverse of `to_dict`."""
        return cls(
            epoch=int(raw["epoch"]),
            best_value=float(raw["best_value"]),
            best_epoch=int(raw["best_epoch"]),
            bad_epochs=int(raw["bad_epochs"]),
            history=[dict(row) for row in raw["history"]],
        )


def check_metric(metric: str, metrics: dict[str, float]) -> None:
    """Refuse an early-stopping metric that the evaluation does not produce."""
    if metric not in metrics:
        raise TrainConfigError(
            f"train.early_stop_metric {metric!r} is not a metric: choose one of "
            + ", ".join(sorted(k for k in metrics if k not in ("epoch", "train_s")))
        )


def seed_everything(seed: int) -> None:
    """Seed Python, numpy (MPerClassSampler draws from both) and torch."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
