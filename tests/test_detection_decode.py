"""Decoding YOLO outputs, NMS and the letterbox: each checked against a naive loop, and
the three output layouts of one real ONNX detector found to give the same boxes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bearagent.detection.card import DetectorInput
from bearagent.detection.decoders import Boxes, decode, layout_hint, shape_fits
from bearagent.detection.letterbox import place, prepare
from bearagent.detection.nms import iou_matrix, suppress
from bearagent.detection.onnx_detector import OnnxDetector
from support.detector_frames import compose, slot_box
from support.detector_models import write_grid_detector


def naive_decode(
    rows: np.ndarray, fmt: str, classes: int, keep: list[int], threshold: float
) -> list[tuple[list[float], float, int]]:
    """One candidate at a time, the way the formats are documented."""
    out = []
    candidates = rows[0].T if fmt == "yolov8" else rows[0]
    for row in candidates:
        if fmt == "nms":
            box, score, cls = list(row[:4]), float(row[4]), round(float(row[5]))
        else:
            first = 4 if fmt == "yolov8" else 5
            scores = [float(s) * (float(row[4]) if fmt == "yolov5" else 1.0)
                      for s in row[first : first + classes]]  # fmt: skip
            cls = int(np.argmax(scores))
            score = scores[cls]
            cx, cy, w, h = (float(v) for v in row[:4])
            box = [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]
        if score >= threshold and cls in keep:
            out.append(([float(v) for v in box], score, cls))
    return out


@pytest.mark.parametrize("fmt", ["yolov8", "yolov5", "nms"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_decoding_matches_a_naive_loop(fmt: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    classes, n = 3, 200
    boxes = np.concatenate([rng.uniform(0, 640, (n, 2)), rng.uniform(4, 100, (n, 2))], axis=1)
    scores = rng.random((n, classes))
    if fmt == "yolov8":
        output = np.concatenate([boxes, scores], axis=1).T[None]
    elif fmt == "yolov5":
        output = np.concatenate([boxes, rng.random((n, 1)), scores], axis=1)[None]
    else:
        xyxy = np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], axis=1)
        output = np.concatenate([xyxy, scores[:, :1], rng.integers(0, 3, (n, 1))], axis=1)[None]
    output = output.astype(np.float32)
    got = decode(output, fmt, classes, (0, 2), 0.4)  # type: ignore[arg-type]
    want = naive_decode(output, fmt, classes, [0, 2], 0.4)
    assert len(got) == len(want) > 10
    for (box, score, cls), g_box, g_score, g_cls in zip(
        want, got.xyxy, got.scores, got.classes, strict=True
    ):
        assert g_box == pytest.approx(box, abs=1e-3)
        assert float(g_score) == pytest.approx(score, abs=1e-6) and int(g_cls) == cls


def naive_nms(boxes: Boxes, iou: float) -> list[int]:
    """Greedy NMS, class by class, best score first."""
    kept: list[int] = []
    for i in np.argsort(-boxes.scores, kind="stable"):
        same = [k for k in kept if boxes.classes[k] == boxes.classes[i]]
        overlaps = iou_matrix(boxes.xyxy[i : i + 1], boxes.xyxy[same])[0] if same else []
        if all(o <= iou for o in overlaps):
            kept.append(int(i))
    return kept


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_nms_matches_greedy_suppression_class_by_class(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 60
    corner = rng.uniform(0, 200, (n, 2))
    xyxy = np.concatenate([corner, corner + rng.uniform(20, 80, (n, 2))], axis=1)
    boxes = Boxes(
        xyxy.astype(np.float32),
        rng.random(n).astype(np.float32),
        rng.integers(0, 2, n).astype(np.int64),
    )
    kept = suppress(boxes, 0.45, 1000)
    want = boxes.take(naive_nms(boxes, 0.45))
    assert sorted(kept.scores.tolist()) == sorted(want.scores.tolist())
    assert kept.scores.tolist() == sorted(kept.scores.tolist(), reverse=True)
    assert len(suppress(boxes, 0.45, 3)) == 3


@pytest.mark.parametrize("resize", ["letterbox", "stretch"])
@pytest.mark.parametrize("frame", [(480, 640), (3000, 4000), (640, 360), (100, 100)])
def test_boxes_come_back_to_frame_pixels(resize: str, frame: tuple[int, int]) -> None:
    spec = DetectorInput(height=256, width=320, resize=resize)
    image = np.zeros((*frame, 3), np.uint8)
    placed, where = place(image, spec)
    assert placed.shape == (256, 320, 3)
    h, w = frame
    box = np.array([[0.1 * w, 0.2 * h, 0.6 * w, 0.9 * h]], np.float32)
    in_input = box.copy()
    in_input[:, [0, 2]] = box[:, [0, 2]] * where.scale_x + where.left
    in_input[:, [1, 3]] = box[:, [1, 3]] * where.scale_y + where.top
    assert where.to_frame(in_input) == pytest.approx(box, rel=1e-4)
    if resize == "letterbox":  # the padding is YOLO's grey, the frame sits in the middle
        assert where.scale_x == pytest.approx(where.scale_y, rel=0.02)
        assert (placed == 114).all(axis=2).any() or where.left == where.top == 0


def test_the_tensor_is_rgb_scaled_nchw() -> None:
    image = np.zeros((64, 64, 3), np.uint8)
    image[..., 2] = 255  # red in BGR
    tensor, _ = prepare(image, DetectorInput(height=64, width=64))
    assert tensor.shape == (1, 3, 64, 64) and tensor.dtype == np.float32
    assert (tensor[0, 0] == 1.0).all() and (tensor[0, 1:] == 0.0).all()


@pytest.mark.parametrize("fmt", ["yolov8", "yolov5", "nms"])
def test_the_three_layouts_of_one_detector_find_the_same_faces(fmt: str, tmp_path: Path) -> None:
    chip = np.random.default_rng(0).integers(0, 255, (64, 64, 3)).astype(np.uint8)
    detector = OnnxDetector(write_grid_detector(tmp_path / f"{fmt}.onnx", fmt=fmt))
    found = detector.detect(compose([chip, chip]))
    boxes = sorted(found.xyxy.round(1).tolist())
    want = sorted([[x, y, x + w, y + h] for x, y, w, h in (slot_box(0), slot_box(1))])
    assert boxes == want
    assert len(detector.detect(compose([]))) == 0


def test_shapes_and_hints() -> None:
    assert shape_fits([1, 5, "anchors"], "yolov8", 1)
    assert shape_fits(["batch", 84, 8400], "yolov8", 80)
    assert not shape_fits([1, 84, 8400], "yolov8", 1)
    assert shape_fits([1, 25200, 8], "yolov5", 3)
    assert shape_fits([1, 300, 6], "nms", 80)
    assert not shape_fits([1, 300, 6, 1], "nms", 1)
    assert layout_hint([1, 84, 8400]) == "it looks like a 'yolov8' output with 80 classes"
    assert layout_hint([1, 25200, 8]) == "it looks like a 'yolov5' output with 3 classes"
    assert (
        layout_hint([1, 300, 6]) == "it looks like an 'nms' output (or a 'yolov5' one with 1 class)"
    )
