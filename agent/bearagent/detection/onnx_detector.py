"""A YOLO-style ONNX detector run with ONNX Runtime, checked against its card at start.

At start the graph's input and output are compared with the card, and one dry run
on a blank input checks the shape the model really returns (exports often leave
dimensions symbolic). A detector whose output does not fit its declared format is
refused with the file, the expected and actual shapes, and the fix.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bearagent.detection.card import DetectorCard
from bearagent.detection.cardio import load_detector_card
from bearagent.detection.decoders import (
    Boxes,
    classes_text,
    decode,
    expected_shape,
    layout_hint,
    shape_fits,
)
from bearagent.detection.errors import DetectorIncompatible
from bearagent.detection.letterbox import prepare
from bearagent.detection.nms import suppress
from bearagent.modelcard.io import sidecar_path
from bearagent.runtime.onnx_backend import _import_onnxruntime, _ort_errors
from bearagent.runtime.providers import choose_providers

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SessionSettings:
    """How ONNX Runtime runs a detector, and threshold overrides (None: the card's)."""

    providers: Sequence[str] = ("CPUExecutionProvider",)
    intra_op_threads: int = 0
    score_threshold: float | None = None
    iou_threshold: float | None = None


def _dims(shape: Sequence[Any]) -> list[int | str | None]:
    return [d if isinstance(d, int | str) or d is None else str(d) for d in shape]


class OnnxDetector:
    """Finds the card's kept classes in a BGR image; boxes come back in image pixels."""

    def __init__(self, path: Path, settings: SessionSettings = SessionSettings()) -> None:
        self.path = path
        self.card: DetectorCard = load_detector_card(path)
        thresholds = self.card.thresholds
        score, iou = settings.score_threshold, settings.iou_threshold
        self.score_threshold = thresholds.score if score is None else score
        self.iou_threshold = thresholds.iou if iou is None else iou
        self._session = _open_session(path, settings)
        self._input, self._input_dtype = self._check_input()
        self._output = self._check_output()
        self._dry_run()
        log.info(
            "detector ready: %s (%s, %s, keeps %s) on %s",
            self.card.model.name,
            self.card.role,
            self.card.output.format,
            ", ".join(self.card.keep_classes),
            self._session.get_providers()[0],
        )

    @property
    def name(self) -> str:
        """The card's model name (the ``detector`` field of the chips' sidecars)."""
        return self.card.model.name

    def detect(self, image_bgr: np.ndarray) -> Boxes:
        """Kept boxes in `image_bgr` pixels (x1 y1 x2 y2), after NMS, best first."""
        tensor, placement = prepare(image_bgr, self.card.input, self._input_dtype)
        boxes = self._candidates(self._run(tensor))
        boxes = suppress(boxes, self.iou_threshold, self.card.max_detections)
        return Boxes(placement.to_frame(boxes.xyxy), boxes.scores, boxes.classes)

    def _candidates(self, output: np.ndarray) -> Boxes:
        card = self.card
        return decode(
            output, card.output.format, len(card.classes), card.keep_ids, self.score_threshold
        )

    def _run(self, tensor: np.ndarray) -> np.ndarray:
        (out,) = self._session.run([self._output], {self._input: tensor})
        return np.asarray(out, dtype=np.float32)

    def _check_input(self) -> tuple[str, type]:
        spec = self.card.input
        inputs = {i.name: i for i in self._session.get_inputs()}
        name = spec.name or next(iter(inputs))
        if name not in inputs:
            raise DetectorIncompatible(
                f"detector {self.path} has inputs {sorted(inputs)}, but its card names input "
                f"{name!r}: fix input.name in {sidecar_path(self.path).name} (or leave it out)"
            )
        shape = _dims(inputs[name].shape)
        wanted = [None, 3, spec.height, spec.width]
        if len(shape) != 4 or any(
            isinstance(a, int) and w is not None and a != w
            for a, w in zip(shape, wanted, strict=True)
        ):
            raise DetectorIncompatible(
                f"detector {self.path} takes input of shape {shape}, but its card says "
                f"[1, 3, {spec.height}, {spec.width}]: set input.height and input.width in "
                f"{sidecar_path(self.path).name} to the size the model was exported with"
            )
        dtype = np.float16 if inputs[name].type == "tensor(float16)" else np.float32
        return name, dtype

    def _check_output(self) -> str:
        outputs = {o.name: o for o in self._session.get_outputs()}
        name = self.card.output.name or next(iter(outputs))
        if name not in outputs:
            raise DetectorIncompatible(
                f"detector {self.path} has outputs {sorted(outputs)}, but its card names output "
                f"{name!r}: fix output.name in {sidecar_path(self.path).name} (or leave it out)"
            )
        self._refuse_unless_fits(name, _dims(outputs[name].shape))
        return name

    def _dry_run(self) -> None:
        spec = self.card.input
        blank: np.ndarray = np.zeros((1, 3, spec.height, spec.width), self._input_dtype)
        try:
            out = self._run(blank)
        except _ort_errors(_import_onnxruntime()) as e:
            raise DetectorIncompatible(
                f"detector {self.path} fails on a blank {spec.height}x{spec.width} input "
                f"({type(e).__name__}: {e}): check input.height and input.width in its card"
            ) from e
        self._refuse_unless_fits(self._output, list(out.shape))

    def _refuse_unless_fits(self, name: str, shape: list[int | str | None]) -> None:
        card = self.card
        fmt, classes = card.output.format, len(card.classes)
        if shape_fits(shape, fmt, classes):
            return
        raise DetectorIncompatible(
            f"detector {self.path} does not fit its card: output '{name}' has shape {shape}, "
            f"but format '{fmt}' with {classes_text(classes)} needs {expected_shape(fmt, classes)} "
            f"({layout_hint(shape)}). Fix {sidecar_path(self.path).name}: set output.format to "
            "the model's layout ('yolov8' [1, 4+nc, N], 'yolov5' [1, N, 5+nc], 'nms' [1, N, 6]) "
            "and list in 'classes' every class the model was trained on"
        )

    def close(self) -> None:
        """Release the session."""
        self._session = None


def _open_session(path: Path, settings: SessionSettings) -> Any:
    ort = _import_onnxruntime()
    choice = choose_providers(
        list(settings.providers), ort.get_available_providers(), ort.get_all_providers()
    )
    options = ort.SessionOptions()
    options.intra_op_num_threads = settings.intra_op_threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    try:
        return ort.InferenceSession(str(path), sess_options=options, providers=choice.chosen)
    except _ort_errors(ort) as e:
        raise DetectorIncompatible(
            f"ONNX Runtime cannot load the detector {path} ({type(e).__name__}: {e}): "
            "export it again"
        ) from e
