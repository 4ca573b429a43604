"""The checkpoint contract between ``bear-train`` and ``bear-export``.

A checkpoint is one ``torch.save`` file of plain data (loadable with
``weights_only=True``, so opening one never runs code):

- ``format``: `CHECKPOINT_FORMAT`; ``config``: the resolved `TrainConfig` as a dict;
- ``epoch``, ``metrics`` (that epoch's val figures);
- ``input_spec``, ``threshold`` (or None before calibration), ``training``: the
  model card's `InputSpec`, `ThresholdSpec`, `TrainingSummary` as dicts;
- ``backbone``, ``embedding_size``, ``label_names`` (train individuals, in label order);
- ``model``: the `Embedder` state dict; ``resume``: optimizer, scheduler, loss and
  loop state for ``bear-train fit --resume`` (bear-export ignores it).

Use `load_checkpoint` and `Checkpoint.build_model`, not the dict.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from pydantic import ValidationError

from bearagent.errors import BearIdError
from bearagent.modelcard import InputSpec, ThresholdSpec, TrainingSummary
from beartrain.config import TrainConfig
from beartrain.model import Embedder, build_embedder

#: Version of the checkpoint layout; a change bear-export cannot follow bumps it.
CHECKPOINT_FORMAT = 1


class CheckpointError(BearIdError):
    """A checkpoint file that is missing, unreadable or of another format."""


@dataclass
class Checkpoint:
    """A loaded bear-train checkpoint."""

    config: TrainConfig
    epoch: int
    metrics: dict[str, float]
    input_spec: InputSpec
    threshold: ThresholdSpec | None
    training: TrainingSummary
    backbone: str
    embedding_size: int
    label_names: list[str]
    model_state: dict[str, torch.Tensor]
    resume: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    def build_model(self) -> Embedder:
        """The embedder in eval mode: (N, 3, H, W) float32 normalised -> (N, E) unit-norm."""
        model = build_embedder(self.config.model, pretrained="none")
        model.load_state_dict(self.model_state)
        return model.eval()


def save_checkpoint(
    path: Path,
    *,
    config: TrainConfig,
    epoch: int,
    metrics: dict[str, float],
    input_spec: InputSpec,
    threshold: ThresholdSpec | None,
    training: TrainingSummary,
    model: Embedder,
    label_names: list[str],
    resume: dict[str, Any] | None = None,
) -> None:
    """Write a checkpoint atomically (a crash leaves the previous file intact)."""
    payload = {
        "format": CHECKPOINT_FORMAT,
        "config": config.model_dump(mode="json"),
        "epoch": epoch,
        "metrics": {k: float(v) for k, v in metrics.items()},
        "input_spec": input_spec.model_dump(mode="json"),
        "threshold": threshold.model_dump(mode="json") if threshold else None,
        "training": training.model_dump(mode="json"),
        "backbone": config.model.backbone,
        "embedding_size": config.model.embedding_size,
        "label_names": list(label_names),
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "resume": resume or {},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path) -> Checkpoint:
    """Read a checkpoint written by `save_checkpoint`."""
    if path.is_dir():
        path = path / "best.pt"
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist: give a run folder or a .pt file")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, OSError, EOFError, ValueError, pickle.UnpicklingError) as e:
        raise CheckpointError(f"{path} is not a readable bear-train checkpoint ({e})") from e
    if not isinstance(raw, dict) or raw.get("format") != CHECKPOINT_FORMAT:
        found = raw.get("format") if isinstance(raw, dict) else None
        raise CheckpointError(
            f"{path} has checkpoint format {found!r}, this bearid reads {CHECKPOINT_FORMAT}: "
            "use the bearid version that wrote it"
        )
    try:
        return Checkpoint(
            config=TrainConfig.model_validate(raw["config"]),
            epoch=int(raw["epoch"]),
            metrics={k: float(v) for k, v in raw["metrics"].items()},
            input_spec=InputSpec.model_validate(raw["input_spec"]),
            threshold=ThresholdSpec.model_validate(raw["threshold"]) if raw["threshold"] else None,
            training=TrainingSummary.model_validate(raw["training"]),
            backbone=str(raw["backbone"]),
            embedding_size=int(raw["embedding_size"]),
            label_names=[str(n) for n in raw["label_names"]],
            model_state=raw["model"],
            resume=raw.get("resume", {}),
            path=path,
        )
    except (KeyError, ValidationError) as e:
        raise CheckpointError(f"{path} is a damaged checkpoint ({e})") from e


def store_threshold(path: Path, threshold: ThresholdSpec) -> None:
    """Put a calibrated threshold into an existing checkpoint file."""
    raw = torch.load(path, map_location="cpu", weights_only=True)
    raw["threshold"] = threshold.model_dump(mode="json")
    tmp = path.with_name(path.name + ".tmp")
    torch.save(raw, tmp)
    os.replace(tmp, path)
