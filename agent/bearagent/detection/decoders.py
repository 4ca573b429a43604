"""Decoding YOLO outputs into boxes, and checking an output's shape against its card.

The formats (`bearagent.detection.card`): ``yolov8`` ``[1, 4+nc, N]``, ``yolov5``
``[1, N, 5+nc]``, ``nms`` ``[1, N, 6]``. Boxes come out as x1, y1, x2, y2 in input
pixels with their score and class, already limited to the kept classes and the
score threshold; non-maximum suppression is `bearagent.detection.nms`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bearagent.detection.card import BOX_COLUMNS, OutputFormat


@dataclass(frozen=True)
class Boxes:
    """Candidate boxes: (N, 4) x1 y1 x2 y2, (N,) scores, (N,) class indices."""

    xyxy: np.ndarray
    scores: np.ndarray
    classes: np.ndarray

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    def take(self, index: np.ndarray | Sequence[int]) -> Boxes:
        """The boxes at `index`, in that order."""
        i = np.asarray(index, dtype=np.int64)
        return Boxes(self.xyxy[i], self.scores[i], self.classes[i])

    @staticmethod
    def empty() -> Boxes:
        """No boxes."""
        return Boxes(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))

    @staticmethod
    def concat(parts: Sequence[Boxes]) -> Boxes:
        """All boxes of `parts`, in order."""
        if not parts:
            return Boxes.empty()
        return Boxes(
            np.concatenate([p.xyxy for p in parts]).astype(np.float32),
            np.concatenate([p.scores for p in parts]).astype(np.float32),
            np.concatenate([p.classes for p in parts]).astype(np.int64),
        )


def expected_shape(fmt: OutputFormat, classes: int) -> str:
    """The output shape a card promises, as text: ``[1, 5, N]``."""
    if fmt == "yolov8":
        return f"[1, {4 + classes}, N]"
    if fmt == "yolov5":
        return f"[1, N, {5 + classes}]"
    return "[1, N, 6]"


def shape_fits(shape: Sequence[int | str | None], fmt: OutputFormat, classes: int) -> bool:
    """Whether an output shape (dimensions may be symbolic: str or None) fits the card."""
    if len(shape) != 3:
        return False
    batch, rows, cols = shape
    want_rows, want_cols = (4 + classes, None) if fmt == "yolov8" else (None, _width(fmt, classes))
    return (
        (not isinstance(batch, int) or batch == 1)
        and (want_rows is None or not isinstance(rows, int) or rows == want_rows)
        and (want_cols is None or not isinstance(cols, int) or cols == want_cols)
    )


def _width(fmt: OutputFormat, classes: int) -> int:
    return 6 if fmt == "nms" else BOX_COLUMNS[fmt] + classes


def layout_hint(shape: Sequence[int | str | None]) -> str:
    """What a concrete output shape looks like, to put in an error message."""
    if len(shape) != 3 or not all(isinstance(d, int) for d in shape):
        return f"an output of rank {len(shape)} is none of the YOLO layouts"
    _, rows, cols = (int(d) for d in shape)  # type: ignore[arg-type]
    if rows < cols and rows > 4:
        return f"it looks like a 'yolov8' output with {classes_text(rows - 4)}"
    if cols == 6 and rows > cols:
        return "it looks like an 'nms' output (or a 'yolov5' one with 1 class)"
    if cols > 5:
        return f"it looks like a 'yolov5' output with {classes_text(cols - 5)}"
    return "it looks like none of the YOLO layouts"


def classes_text(n: int) -> str:
    """'1 class', '2 classes'."""
    return f"{n} class" if n == 1 else f"{n} classes"


def decode(
    output: np.ndarray,
    fmt: OutputFormat,
    classes: int,
    keep: Sequence[int],
    score_threshold: float,
) -> Boxes:
    """The candidates of one image's output above `score_threshold` whose best class is kept."""
    rows = np.asarray(output, dtype=np.float32)[0]
    if fmt == "yolov8":
        rows = rows.T  # (N, 4 + nc)
        class_scores = rows[:, 4 : 4 + classes]
        centres = rows[:, :4]
    elif fmt == "yolov5":
        class_scores = rows[:, 5 : 5 + classes] * rows[:, 4:5]  # objectness x class score
        centres = rows[:, :4]
    else:
        return _decode_nms(rows, keep, score_threshold)
    best = class_scores.argmax(axis=1) if len(rows) else np.zeros(0, np.int64)
    scores = class_scores[np.arange(len(rows)), best] if len(rows) else np.zeros(0, np.float32)
    chosen = (scores >= score_threshold) & np.isin(best, np.asarray(keep))
    return Boxes(_xyxy(centres[chosen]), scores[chosen], best[chosen].astype(np.int64))


def _decode_nms(rows: np.ndarray, keep: Sequence[int], score_threshold: float) -> Boxes:
    classes = np.rint(rows[:, 5]).astype(np.int64)
    chosen = (rows[:, 4] >= score_threshold) & np.isin(classes, np.asarray(keep))
    return Boxes(rows[chosen, :4].copy(), rows[chosen, 4].copy(), classes[chosen])


def _xyxy(cxcywh: np.ndarray) -> np.ndarray:
    out = np.empty_like(cxcywh)
    half = cxcywh[:, 2:4] / 2
    out[:, :2] = cxcywh[:, :2] - half
    out[:, 2:] = cxcywh[:, :2] + half
    return out
