"""The checkpoint contract between ``bear-train`` and ``bear-export``.

A checkpoint is one ``torch.save`` file of plain data (loadable with
``weights_only=True``, so opening one never runs code):

- ``format``: `CHECKPOINT_FORMAT`; ``config``: the resolved `TrainConfig` as a dict;
- ``epoch``, ``metrics`` (that epoch's val figures);
- ``input_spec``, ``decision`` and ``tracks`` (each None before calibration),
  ``training``: the model card's `InputSpec`, `DecisionSpec`, `TrackSpec`,
  `TrainingSummary` as dicts;
- ``backbone``, ``embedding_size``, ``label_names`` (train individuals, in label order);
- ``model``: the `Embedder` state dict; ``resume``: optimizer, scheduler, loss and
  loop state for ``bear-train fit --resume`` (bear-export ignores it).

Use `load_checkpoint` and `Checkpoint.build_model`, not the dict. Format 1 (one
``threshold``, a format-1 card's `ThresholdSpec`) still loads: its threshold
becomes a `DecisionSpec` without a review band (`decision_from_threshold`) and it
has no ``tracks``.
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
from bearagent.modelcard import (
    DecisionSpec,
    InputSpec,
    ThresholdSpec,
    TrackSpec,
    TrainingSummary,
    decision_from_threshold,
)
from beartrain.config import TrainConfig
from beartrain.model import Embedder, build_embedder

#: Version of the checkpoint layout; a change bear-export cannot follow bumps it.
CHECKPOINT_FORMAT = 2
#: Formats this bearid reads (1: a single unknown threshold, upgraded on reading).
READABLE_FORMATS = (1, 2)


class CheckpointError(BearIdError):
    """A checkpoint file that is missing, unreadable or of another format."""


@dataclass
class Checkpoint:
    """A loaded bear-train checkpoint."""

    config: TrainConfig
    epoch: int
    metrics: dict[str, float]
    input_spec: InputSpec
    decision: DecisionSpec | None
    tracks: TrackSpec | None
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
    decision: DecisionSpec | None,
    tracks: TrackSpec | None,
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
        "decision": decision.model_dump(mode="json") if decision else None,
        "tracks": tracks.model_dump(mode="json") if tracks else None,
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
    if not isinstance(raw, dict) or raw.get("format") not in READABLE_FORMATS:
        found = raw.get("format") if isinstance(raw, dict) else None
        raise CheckpointError(
            f"{path} has checkpoint format {found!r}, this bearid reads "
            f"{', '.join(map(str, READABLE_FORMATS))}: use the bearid version that wrote it"
        )
    try:
        return Checkpoint(
            config=TrainConfig.model_validate(raw["config"]),
            epoch=int(raw["epoch"]),
            metrics={k: float(v) for k, v in raw["metrics"].items()},
            input_spec=InputSpec.model_validate(raw["input_spec"]),
            decision=_decision(raw),
            tracks=TrackSpec.model_validate(raw["tracks"]) if raw.get("tracks") else None,
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


def _decision(raw: dict[str, Any]) -> DecisionSpec | None:
    """The checkpoint's decision rule; a format-1 threshold becomes one without review band."""
    if raw["format"] == 1:
        threshold = raw.get("threshold")
        return (
            decision_from_threshold(ThresholdSpec.model_validate(threshold)) if threshold else None
        )
    return DecisionSpec.model_validate(raw["decision"]) if raw.get("decision") else None


def store_calibration(path: Path, decision: DecisionSpec | None, tracks: TrackSpec | None) -> None:
    """Put the calibrated decision rule and track similarity into an existing checkpoint."""
    raw = torch.load(path, map_location="cpu", weights_only=True)
    raw["decision"] = decision.model_dump(mode="json") if decision else None
    raw["tracks"] = tracks.model_dump(mode="json") if tracks else None
    tmp = path.with_name(path.name + ".tmp")
    torch.save(raw, tmp)
    os.replace(tmp, path)
