"""Real ONNX detectors for tests, built with onnx.helper: no training, known answers.

The "grid detector" splits its input into square cells and scores each cell by
the variance of its grey levels (a sigmoid around `threshold`): a cell holding a
pasted face chip scores near 1, a cell of flat background or letterbox padding
near 0. Every cell is one candidate whose box is the cell itself, so a chip pasted
exactly on a cell comes back as exactly its own box. The same graph is written in
each output layout a real export has: ``yolov8`` [1, 4+nc, N], ``yolov5``
[1, N, 5+nc] and ``nms`` [1, N, 6].
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from bearagent.detection.card import DetectorCard
from bearagent.detection.cardio import card_json, write_detector_card
from bearagent.modelcard.io import sidecar_path

#: Variance of grey levels (0-1 scale) above which a cell counts as a face.
THRESHOLD = 0.002


def _cell_boxes(size: int, cell: int) -> np.ndarray:
    """(N, 4) cx, cy, w, h of every cell, row by row."""
    grid = size // cell
    ys, xs = np.meshgrid(np.arange(grid), np.arange(grid), indexing="ij")
    centres = np.stack([(xs.ravel() + 0.5) * cell, (ys.ravel() + 0.5) * cell], axis=1)
    sides = np.full((grid * grid, 2), float(cell))
    return np.concatenate([centres, sides], axis=1).astype(np.float32)


def _score_nodes(size: int, cell: int, classes: int) -> tuple[list[Any], list[Any]]:
    """Nodes computing 'scores' [1, classes, N]: class 0 is the variance score, others 0."""
    n = (size // cell) ** 2
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["grey"], axes=[1], keepdims=1),
        helper.make_node("AveragePool", ["grey"], ["mean"], kernel_shape=[cell, cell],
                         strides=[cell, cell]),
        helper.make_node("Mul", ["grey", "grey"], ["grey2"]),
        helper.make_node("AveragePool", ["grey2"], ["mean2"], kernel_shape=[cell, cell],
                         strides=[cell, cell]),
        helper.make_node("Mul", ["mean", "mean"], ["mean_sq"]),
        helper.make_node("Sub", ["mean2", "mean_sq"], ["var"]),
        helper.make_node("Sub", ["var", "threshold"], ["above"]),
        helper.make_node("Mul", ["above", "gain"], ["logit"]),
        helper.make_node("Sigmoid", ["logit"], ["face_score"]),
        helper.make_node("Reshape", ["face_score", "score_shape"], ["face_row"]),
    ]  # fmt: skip
    inits = [
        helper.make_tensor("threshold", TensorProto.FLOAT, [], [THRESHOLD]),
        helper.make_tensor("gain", TensorProto.FLOAT, [], [4000.0]),
        helper.make_tensor("score_shape", TensorProto.INT64, [3], [1, 1, n]),
    ]
    if classes == 1:
        nodes.append(helper.make_node("Identity", ["face_row"], ["scores"]))
    else:
        inits.append(numpy_helper.from_array(np.zeros((1, classes - 1, n), np.float32), "others"))
        nodes.append(helper.make_node("Concat", ["face_row", "others"], ["scores"], axis=1))
    return nodes, inits


def _layout_nodes(fmt: str, size: int, cell: int, classes: int) -> tuple[list[Any], list[Any]]:
    """Nodes turning 'scores' and the cell boxes into 'output0' in the layout `fmt`."""
    boxes = _cell_boxes(size, cell)  # (N, 4) cx cy w h
    n = boxes.shape[0]
    if fmt == "yolov8":
        inits = [numpy_helper.from_array(boxes.T[None], "boxes")]
        return [helper.make_node("Concat", ["boxes", "scores"], ["output0"], axis=1)], inits
    if fmt == "yolov5":
        inits = [
            numpy_helper.from_array(boxes[None], "boxes"),
            numpy_helper.from_array(np.ones((1, n, 1), np.float32), "objectness"),
        ]
        nodes = [
            helper.make_node("Transpose", ["scores"], ["scores_t"], perm=[0, 2, 1]),
            helper.make_node("Concat", ["boxes", "objectness", "scores_t"], ["output0"], axis=2),
        ]
        return nodes, inits
    xyxy = np.concatenate([boxes[:, :2] - boxes[:, 2:] / 2, boxes[:, :2] + boxes[:, 2:] / 2], 1)
    inits = [
        numpy_helper.from_array(xyxy[None].astype(np.float32), "boxes"),
        numpy_helper.from_array(np.zeros((1, n, 1), np.float32), "class_ids"),
    ]
    nodes = [
        helper.make_node("Slice", ["scores", "s0", "s1", "s_axes"], ["face_only"]),
        helper.make_node("Transpose", ["face_only"], ["score_col"], perm=[0, 2, 1]),
        helper.make_node("Concat", ["boxes", "score_col", "class_ids"], ["output0"], axis=2),
    ]
    inits += [
        helper.make_tensor("s0", TensorProto.INT64, [1], [0]),
        helper.make_tensor("s1", TensorProto.INT64, [1], [1]),
        helper.make_tensor("s_axes", TensorProto.INT64, [1], [1]),
    ]
    return nodes, inits


def write_grid_onnx(
    path: Path, *, fmt: str = "yolov8", size: int = 256, cell: int = 32, classes: int = 1
) -> Path:
    """Write the grid detector's graph (no card) in layout `fmt` with `classes` score rows."""
    score_nodes, score_inits = _score_nodes(size, cell, classes)
    out_nodes, out_inits = _layout_nodes(fmt, size, cell, classes)
    n = (size // cell) ** 2
    out_shape = {"yolov8": [1, 4 + classes, n], "yolov5": [1, n, 5 + classes], "nms": [1, n, 6]}
    graph = helper.make_graph(
        score_nodes + out_nodes,
        "grid_detector",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, out_shape[fmt])],
        initializer=score_inits + out_inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def grid_card(
    *, fmt: str = "yolov8", size: int = 256, classes: tuple[str, ...] = ("face",), **over: Any
) -> DetectorCard:
    """A card for the grid detector (`over` replaces top-level fields)."""
    data: dict[str, Any] = {
        "model": {"name": f"grid-{fmt}", "source": "tests/support/detector_models.py"},
        "role": "face",
        "input": {"height": size, "width": size},
        "output": {"format": fmt},
        "classes": list(classes),
        "keep_classes": [classes[0]],
        "thresholds": {"score": 0.5, "iou": 0.45},
    }
    data.update(over)
    return DetectorCard.model_validate(data)


def write_grid_detector(
    path: Path,
    *,
    fmt: str = "yolov8",
    size: int = 256,
    cell: int = 32,
    graph_classes: int = 1,
    card: DetectorCard | None = None,
    embed: bool = True,
) -> Path:
    """The grid detector with its card: embedded and as the sidecar (`embed`), or the
    sidecar alone, as a user writes one by hand for a foreign export."""
    write_grid_onnx(path, fmt=fmt, size=size, cell=cell, classes=graph_classes)
    card = card or grid_card(fmt=fmt, size=size)
    if embed:
        write_detector_card(path, card)
    else:
        sidecar_path(path).write_text(card_json(card))
    return path
