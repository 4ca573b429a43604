"""bear-train's detector: scenes rendered deterministically with true face boxes, training
that gives the same weights for the same seed and learns, an ONNX export in the YOLOv8
raw layout that the agent reads, and the detection metrics against naive loops."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from bearagent.detection.onnx_detector import OnnxDetector
from beartrain.cli import main
from beartrain.detector.data import batch_tensors, load_scenes
from beartrain.detector.loss import detection_loss
from beartrain.detector.metrics import (
    Matched,
    average_precision,
    best_threshold,
    match_image,
    recall_precision,
)
from beartrain.detector.model import TinyDetector, decode_all
from beartrain.detector.train import DetectorTrainConfig, fit_detector, load_detector
from beartrain.scenes import (
    BearPose,
    Look,
    SceneConfig,
    face_art,
    iter_scenes,
    paint,
    read_scenes,
    write_scenes,
)

SMALL = SceneConfig(count=10, width=256, height=192, face_min=24, face_max=80, seed=3)


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("scenes")
    write_scenes(root, SMALL)
    return root


def test_scenes_are_deterministic_and_labelled_in_yolo_format(scenes: Path) -> None:
    records = read_scenes(scenes)
    assert len(records) == 10
    assert any(not r.faces for r in records) and any(len(r.faces) >= 2 for r in records)
    first = next(iter_scenes(SMALL))
    again = next(iter_scenes(SMALL))
    assert np.array_equal(first[1], again[1]) and first[2] == again[2]
    for record in records:
        label = (scenes / "labels" / Path(record.file).with_suffix(".txt").name).read_text()
        rows = [list(map(float, line.split())) for line in label.splitlines()]
        assert len(rows) == len(record.faces)
        for (cls, cx, cy, w, h), face in zip(rows, record.faces, strict=True):
            assert cls == 0 and 0 <= face.x1 < face.x2 <= 256 and 0 <= face.y1 < face.y2 <= 192
            assert cx * 256 == pytest.approx((face.x1 + face.x2) / 2, abs=0.01)
            assert cy * 192 == pytest.approx((face.y1 + face.y2) / 2, abs=0.01)
            assert w * 256 == pytest.approx(face.x2 - face.x1, abs=0.01)
            assert h * 192 == pytest.approx(face.y2 - face.y1, abs=0.01)
    assert "names:\n  0: face" in (scenes / "data.yaml").read_text()


def test_a_face_box_is_the_faces_own() -> None:
    """The box is the painted face's extent: the pixels change inside it, not around it."""
    art = face_art(0, 0)
    background = np.full((200, 300, 3), 90.0, np.float32)
    pose = BearPose(art, cx=150, cy=100, size=80, facing=1)
    with_face, (box,) = paint(background, [pose], Look(noise=0.0), np.random.default_rng(0))
    no_face = np.full((200, 300, 3), 90, np.uint8)
    changed = np.argwhere((with_face != no_face).any(axis=2))
    # The body, below the face, changes pixels too: look at the face's upper half.
    above = changed[changed[:, 0] < box.y1 + 0.5 * (box.y2 - box.y1)]
    assert above[:, 1].min() >= box.x1 - 1 and above[:, 1].max() <= box.x2
    assert above[:, 0].min() >= box.y1 - 1
    assert 60 <= box.x2 - box.x1 <= 85 and 60 <= box.y2 - box.y1 <= 85


def tiny_run(scenes: Path, out: Path, steps: int) -> Path:
    cfg = DetectorTrainConfig(input_size=128, epochs=5, batch_size=4, max_steps=steps, seed=7)
    return fit_detector(scenes, out, cfg, say=lambda _line: None).checkpoint


def test_the_same_seed_trains_the_same_weights(scenes: Path, tmp_path: Path) -> None:
    a, _, _ = load_detector(tiny_run(scenes, tmp_path / "a", 2))
    b, _, _ = load_detector(tiny_run(scenes, tmp_path / "b", 2))
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(x, y), name
    config = json.loads((tmp_path / "a" / "config.json").read_text())
    assert config["seed"] == 7 and config["classes"] == ["face"]


def test_the_loss_falls_on_one_batch(scenes: Path) -> None:
    torch.manual_seed(0)
    data = load_scenes(scenes, 128)
    index = np.array([i for i, b in enumerate(data.boxes) if len(b)][:2])
    images, targets = batch_tensors(data, index, None)
    model = TinyDetector(1, 8)
    optimiser = torch.optim.AdamW(model.parameters(), lr=5e-3)
    losses = []
    for _ in range(20):
        maps = model(images)
        boxes, logits = decode_all(maps)
        loss, _ = detection_loss(boxes, logits, targets, [m.shape[-2:] for m in maps])
        optimiser.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        optimiser.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.5 * losses[0]


def test_the_export_is_yolov8_raw_and_the_agent_runs_it(scenes: Path, tmp_path: Path) -> None:
    tiny_run(scenes, tmp_path / "run", 2)
    out = tmp_path / "faces.onnx"
    result = CliRunner().invoke(
        main,
        ["detector", "export", str(tmp_path / "run"), "--out", str(out), "--name", "tiny",
         "--validation", str(scenes), "--scenes", str(scenes)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"exported {out} (ONNX Runtime vs PyTorch: ")
    assert result.output.splitlines()[1].startswith("mAP@0.5 ")
    detector = OnnxDetector(out)  # the card is checked, the output too
    card = detector.card
    assert (card.output.format, card.classes, card.input.height) == ("yolov8", ["face"], 128)
    assert card.model.sha256 is not None and card.thresholds.score >= 0.3
    assert card.quality is not None and card.quality.evaluation_set.startswith("scenes")
    import onnxruntime

    session = onnxruntime.InferenceSession(str(out))
    assert session.get_outputs()[0].shape == [1, 5, 16 * 16 + 8 * 8 + 4 * 4]
    found = detector.detect(np.zeros((192, 256, 3), np.uint8))
    assert found.xyxy.shape[1] == 4 and (found.xyxy[:, 2:] <= [256, 192]).all()


def test_the_cli_renders_scenes(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        [
            "detector",
            "scenes",
            str(tmp_path / "s"),
            "--count",
            "3",
            "--size",
            "320",
            "240",
            "--face-size",
            "20",
            "100",
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith("wrote 3 scenes (")
    assert len(list((tmp_path / "s" / "images").glob("*.jpg"))) == 3


def naive_ap(scores: np.ndarray, hits: np.ndarray, faces: int) -> float:
    """VOC all-point AP: for each recall reached, the best precision at that recall or more."""
    order = np.argsort(-scores, kind="stable")
    points = []
    tp = fp = 0
    for i in order:
        tp, fp = tp + int(hits[i]), fp + int(not hits[i])
        points.append((tp / faces, tp / (tp + fp)))
    ap, previous = 0.0, 0.0
    for recall in sorted({r for r, _ in points}):
        best = max(p for r, p in points if r >= recall)
        ap += (recall - previous) * best
        previous = recall
    return ap


@pytest.mark.parametrize("seed", range(5))
def test_average_precision_matches_the_naive_definition(seed: int) -> None:
    rng = np.random.default_rng(seed)
    scores = rng.random(40)
    hits = rng.random(40) < 0.6
    faces = int(hits.sum()) + 5
    assert average_precision(Matched(scores, hits, faces)) == pytest.approx(
        naive_ap(scores, hits, faces)
    )


def test_matching_and_recall_precision() -> None:
    gt = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], float)
    pred = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 31, 31], [50, 50, 60, 60]], float)
    hits = match_image(pred, np.array([0.9, 0.8, 0.7, 0.6]), gt)
    assert hits.tolist() == [True, False, True, False]  # the second box is a duplicate
    m = Matched(np.array([0.9, 0.8, 0.7, 0.6]), hits, 2)
    assert recall_precision(m, 0.75) == (0.5, 0.5)
    assert recall_precision(m, 0.65) == (1.0, 2 / 3)
    assert average_precision(Matched(np.array([0.9, 0.7]), np.array([True, True]), 2)) == 1.0


def test_the_threshold_with_the_best_f1_is_chosen() -> None:
    # Faces score 0.9, 0.8, 0.6; strays 0.7 and 0.4: above 0.75, F1 = 0.8; above 0.55, 0.857.
    m = Matched(np.array([0.9, 0.8, 0.7, 0.6, 0.4]), np.array([True, True, False, True, False]), 3)
    assert best_threshold(m, floor=0.3) == 0.6
    assert best_threshold(m, floor=0.65) == 0.8
