"""`bear-export --timm NAME`: any timm model as a bearid embedder, with its own preprocessing.

The network is ``timm.create_model(NAME, pretrained=..., num_classes=0)`` (pooled
features), L2-normalised inside the graph. Its input size, mean, std,
interpolation and resize rule come from timm's pretrained config
(`timm.data.resolve_model_data_config`), each overridable. NAME is anything timm
takes: an architecture (``swin_tiny_patch4_window7_224``, with timm's default
weights), ``hf-hub:OWNER/REPO`` (e.g. ``hf-hub:BVRA/MegaDescriptor-T-224``: config
and weights downloaded from the Hugging Face hub) or ``local-dir:FOLDER`` (the
same files, downloaded beforehand). The card has no thresholds: the box
calibrates them on its gallery. Imports torch and timm (with `torch_export`, the
only bearexport modules that do).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import timm
import torch
import torch.nn.functional as F
from timm.data.config import resolve_model_data_config
from timm.layers.config import set_layer_config
from torch import nn

from bearagent.modelcard import ColourOrder, InputSpec, Interpolation, ResizeRule
from bearexport.card import build_card, uncalibrated_decision
from bearexport.errors import ExportOptionError, TimmModelUnavailable
from bearexport.input_options import Preprocessing, input_spec
from bearexport.pipeline import ExportOptions, ExportResult, export_model

log = logging.getLogger(__name__)

#: timm's interpolation names -> the card's (OpenCV's); the rest are approximated.
INTERPOLATIONS: dict[str, Interpolation] = {
    "bicubic": Interpolation.CUBIC,
    "bilinear": Interpolation.LINEAR,
    "nearest": Interpolation.NEAREST,
    "box": Interpolation.AREA,
    "lanczos": Interpolation.CUBIC,
    "hamming": Interpolation.LINEAR,
    "random": Interpolation.LINEAR,
}
#: timm's crop modes -> the card's resize rules.
CROP_MODES: dict[str, ResizeRule] = {
    "center": ResizeRule.CENTER_CROP,
    "squash": ResizeRule.STRETCH,
    "border": ResizeRule.LETTERBOX,
}
#: The model sources timm reads from files (their own config and weights).
_FILE_SOURCES = ("hf-hub:", "local-dir:")


@dataclass(frozen=True)
class TimmSource:
    """Which timm model, with which weights."""

    name: str
    pretrained: bool = True
    checkpoint: Path | None = None

    def __post_init__(self) -> None:
        if self.checkpoint is None:
            return
        if not self.pretrained:
            raise ExportOptionError(
                "--checkpoint loads weights, --no-pretrained asks for random ones: give one"
            )
        if self.name.startswith(_FILE_SOURCES):
            raise ExportOptionError(
                f"--checkpoint loads weights into a timm architecture, but {self.name} brings "
                "its own: drop --checkpoint, or name the architecture (e.g. "
                "swin_tiny_patch4_window7_224)"
            )
        if not self.checkpoint.is_file():
            raise ExportOptionError(f"--checkpoint {self.checkpoint} does not exist")

    @property
    def default_name(self) -> str:
        """A model name for the card: the hub repository, the folder or the architecture."""
        tail = self.name.split(":", 1)[1] if self.name.startswith(_FILE_SOURCES) else self.name
        base = Path(tail.rstrip("/")).name or tail
        return base if self.pretrained else f"{base}-random"

    def describe(self, architecture: str) -> str:
        """Where the network and its weights came from, for the card."""
        if not self.pretrained:
            return f"timm {self.name} (random weights: for tests, not for bears)"
        if self.checkpoint is not None:
            return f"timm {self.name} (weights from {self.checkpoint.name})"
        if self.name.startswith(_FILE_SOURCES):
            return f"timm {self.name} ({architecture}, pretrained weights)"
        return f"timm {self.name} (pretrained weights)"


@dataclass(frozen=True)
class TimmExportOptions:
    """The timm-specific choices; `export` holds the parity and precision options."""

    export: ExportOptions = field(default_factory=ExportOptions)
    preprocessing: Preprocessing = field(default_factory=Preprocessing)
    score: str = "best"
    flip_tta: bool = False


class TimmEmbedder(nn.Module):
    """Pooled timm features, L2-normalised (with `flip_tta`: averaged with the mirror's)."""

    def __init__(self, backbone: nn.Module, flip_tta: bool = False) -> None:
        super().__init__()
        self.backbone = backbone
        self.flip_tta = flip_tta

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) -> (N, E) unit vectors."""
        out = F.normalize(self.backbone(x), dim=1)
        if self.flip_tta:
            out = F.normalize(out + F.normalize(self.backbone(x.flip(-1)), dim=1), dim=1)
        return out


def create_backbone(source: TimmSource) -> nn.Module:
    """``timm.create_model(name, pretrained, num_classes=0)`` in eval mode, export-friendly."""
    kwargs: dict[str, Any] = {"pretrained": source.pretrained, "num_classes": 0}
    if source.checkpoint is not None:
        kwargs["pretrained_cfg_overlay"] = {"file": str(source.checkpoint)}
    try:
        # exportable=True: layers that trace to plain ONNX operators.
        with set_layer_config(exportable=True, scriptable=False, no_jit=True):
            model: nn.Module = timm.create_model(source.name, **kwargs)
    except RuntimeError as e:
        if str(e).startswith("Unknown model"):
            raise TimmModelUnavailable(
                f"timm has no model {source.name!r}: give an architecture timm lists "
                "(timm.list_models()), hf-hub:OWNER/REPO or local-dir:FOLDER"
            ) from e
        raise TimmModelUnavailable(
            f"timm could not build {source.name} with its weights ({e})"
        ) from e
    except OSError as e:  # huggingface_hub's download errors, missing files
        raise TimmModelUnavailable(
            f"could not fetch {source.name} ({type(e).__name__}: {e}). Run this on a machine "
            "that reaches the model hub, or download the model's folder (config.json and "
            "weights) there and give --timm local-dir:FOLDER"
        ) from e
    return model.eval()


def _resize_rule(data_cfg: dict[str, Any]) -> ResizeRule:
    mode = str(data_cfg.get("crop_mode") or "center")
    rule = CROP_MODES.get(mode, ResizeRule.CENTER_CROP)
    crop_pct = float(data_cfg.get("crop_pct") or 1.0)
    if rule is ResizeRule.CENTER_CROP and crop_pct < 1.0:
        log.info(
            "timm evaluates at crop_pct %.3f (cuts a %.0f %% border); a chip is already cut to "
            "the face, so the card keeps the whole chip (center_crop: aspect kept, overhang "
            "cut). Choose another rule with --resize.",
            crop_pct,
            100 * (1 - crop_pct),
        )
    return rule


def timm_input_spec(data_cfg: dict[str, Any], given: Preprocessing) -> InputSpec:
    """The card's `InputSpec` from timm's data config, with what the user gave instead."""
    channels, height, width = (int(v) for v in data_cfg["input_size"])
    mean, std = tuple(data_cfg["mean"]), tuple(data_cfg["std"])
    if channels != 3 or len(mean) != 3 or len(std) != 3:
        raise ExportOptionError(
            f"the model takes {channels}-channel input: bearid feeds colour chips (3 channels)"
        )
    timm_interp = str(data_cfg.get("interpolation") or "bilinear")
    interpolation = INTERPOLATIONS.get(timm_interp, Interpolation.LINEAR)
    if given.interpolation is None and timm_interp not in ("bicubic", "bilinear", "nearest"):
        log.info("timm interpolation %r is %s in the card", timm_interp, interpolation.value)
    return input_spec(
        given.size or (height, width),
        given.mean or (float(mean[0]), float(mean[1]), float(mean[2])),
        given.std or (float(std[0]), float(std[1]), float(std[2])),
        colour=given.colour or ColourOrder.RGB,
        resize=given.resize or _resize_rule(data_cfg),
        interpolation=given.interpolation or interpolation,
    )


def embedding_size(model: nn.Module, spec: InputSpec, name: str) -> int:
    """Run one zero batch: the model must take the card's input and give (N, E) features."""
    try:
        with torch.inference_mode():
            out = model(torch.zeros(2, 3, spec.height, spec.width))
    except (RuntimeError, AssertionError, ValueError) as e:
        raise ExportOptionError(
            f"{name} does not take {spec.height}x{spec.width} input ({e}); leave --input out "
            "to use the model's own size"
        ) from e
    if out.ndim != 2 or out.shape[1] < 2:
        raise TimmModelUnavailable(
            f"{name} gives output of shape {tuple(out.shape)} with num_classes=0, not pooled "
            "features (N, E): bear-export --timm needs a model with a global pool"
        )
    return int(out.shape[1])


def export_timm(source: TimmSource, out: Path, options: TimmExportOptions) -> ExportResult:
    """Export the timm model `source` to `out`, checked for parity; nothing written on failure."""
    backbone = create_backbone(source)
    pretrained_cfg: dict[str, Any] = getattr(backbone, "pretrained_cfg", None) or {}
    architecture = str(pretrained_cfg.get("architecture") or source.name)
    data_cfg: dict[str, Any] = resolve_model_data_config(backbone, use_test_size=True)  # type: ignore[no-untyped-call]
    spec = timm_input_spec(data_cfg, options.preprocessing)
    size = embedding_size(backbone, spec, source.name)
    if not source.pretrained:
        log.warning(
            "%s has random weights (--no-pretrained): it cannot tell bears apart", source.name
        )
    name = options.export.name or source.default_name + ("-flip" if options.flip_tta else "")
    card = build_card(
        name=name,
        backbone=architecture,
        input_spec=spec,
        embedding_size=size,
        decision=uncalibrated_decision(options.score),
        tracks=None,
        training=None,
        source=source.describe(architecture),
    )
    return export_model(TimmEmbedder(backbone, options.flip_tta).eval(), card, out, options.export)
