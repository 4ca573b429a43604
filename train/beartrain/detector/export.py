"""Exporting a trained detector to ONNX in the ultralytics YOLOv8 raw layout, with its card.

The graph takes ``images`` (1, 3, S, S), RGB 0-1, letterboxed with grey 114, and
returns ``output0`` (1, 4 + nc, N): what ``yolo export format=onnx`` writes for a
YOLOv8 detector, so the agent reads it with the same decoder. The export is
checked against PyTorch on a real scene before the card is written.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

from bearagent import __version__
from bearagent.detection.card import DetectorCard, DetectorQuality
from bearagent.detection.cardio import write_detector_card
from bearagent.errors import BearIdError
from beartrain.detector.data import input_spec
from beartrain.detector.model import YoloV8Output
from beartrain.detector.train import load_detector

#: ONNX opset (the dynamo exporter's native one, as bear-export writes).
OPSET = 18
#: Largest difference between PyTorch and ONNX Runtime outputs accepted.
TOLERANCE = 1e-3


class DetectorExportError(BearIdError):
    """The exported graph does not reproduce the trained detector."""


@dataclass(frozen=True)
class ExportedDetector:
    """The written detector, its card and how closely ONNX Runtime reproduces PyTorch."""

    path: Path
    card: DetectorCard
    max_difference: float


def _card(
    name: str, run_dir: Path, size: int, classes: list[str], score: float, iou: float
) -> DetectorCard:
    return DetectorCard(
        model={"name": name, "source": f"bear-train detector fit ({run_dir.name})"},
        role="face",
        input=input_spec(size),
        output={"format": "yolov8", "name": "output0"},
        classes=classes,
        keep_classes=classes,
        thresholds={"score": score, "iou": iou},
        created_at=datetime.now(UTC),
        software={
            "bearid": __version__,
            "torch": torch.__version__,
            "python": platform.python_version(),
        },
    )


def export_detector(
    checkpoint: Path,
    out: Path,
    *,
    name: str = "bearid-faces",
    score: float = 0.5,
    iou: float = 0.45,
    sample: np.ndarray | None = None,
) -> ExportedDetector:
    """Write `out` (ONNX) and its card from a `bear-train detector fit` checkpoint.

    `sample`: an input (1, 3, S, S) to compare PyTorch and ONNX Runtime on (default:
    a seeded random one).
    """
    import onnxruntime

    model, cfg, classes = load_detector(checkpoint)
    wrapped = YoloV8Output(model).eval()
    size = cfg.input_size
    if sample is None:
        sample = np.random.default_rng(0).random((1, 3, size, size), dtype=np.float32)
    example = torch.from_numpy(np.ascontiguousarray(sample, dtype=np.float32))
    out.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(
            wrapped, (example,), str(out), input_names=["images"], output_names=["output0"],
            opset_version=OPSET, dynamo=True, external_data=False, verbose=False,
        )  # fmt: skip
        expected = wrapped(example).numpy()
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (actual,) = session.run(["output0"], {"images": example.numpy()})
    difference = float(np.max(np.abs(actual - expected)))
    if difference > TOLERANCE:
        raise DetectorExportError(
            f"the ONNX export of {checkpoint} differs from PyTorch by {difference:.2g} "
            f"(more than {TOLERANCE}): report this with the torch and onnx versions"
        )
    card = write_detector_card(out, _card(name, checkpoint.parent, size, classes, score, iou))
    return ExportedDetector(out, card, difference)


def record_quality(path: Path, card: DetectorCard, quality: DetectorQuality) -> DetectorCard:
    """Put measured quality into the detector's card (embedded and sidecar)."""
    return write_detector_card(path, card.model_copy(update={"quality": quality}).with_sha256(None))


def record_threshold(path: Path, card: DetectorCard, score: float) -> DetectorCard:
    """Put a calibrated score threshold into the detector's card (embedded and sidecar)."""
    thresholds = card.thresholds.model_copy(update={"score": round(score, 4)})
    return write_detector_card(
        path, card.model_copy(update={"thresholds": thresholds}).with_sha256(None)
    )
