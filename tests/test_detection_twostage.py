"""The two-stage setup: an animal detector (MegaDetector-like: YOLOv5 layout, classes
animal/person/vehicle) finds the animal, the face detector searches its crop, and the
face comes back in frame pixels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bearagent.detection import DetectorConfig, DetectorIncompatible
from bearagent.detection.finders import OneStage, TwoStage
from bearagent.detection.onnx_detector import OnnxDetector
from bearagent.detection.wiring import open_finder
from support.detector_models import grid_card, write_grid_detector

FRAME = 512


def animal_detector(path: Path, classes: tuple[str, ...]) -> Path:
    """A grid detector (64 px cells) whose first class carries the score, MegaDetector-like."""
    card = grid_card(
        fmt="yolov5",
        classes=classes,
        role="animal",
        keep_classes=["animal"],
        model={"name": "animals"},
    )
    return write_grid_detector(path, fmt="yolov5", cell=64, graph_classes=3, card=card)


def face_detector(path: Path) -> Path:
    """A grid detector with 128 px cells: one face fills a quarter of its input."""
    return write_grid_detector(path, cell=128, card=grid_card(model={"name": "faces"}))


def frame_with_a_bear() -> np.ndarray:
    frame = np.full((FRAME, FRAME, 3), 70, np.uint8)
    frame[128:192, 256:320] = np.random.default_rng(0).integers(0, 255, (64, 64, 3))
    return frame


def test_the_face_is_found_in_the_animals_crop_and_mapped_back(tmp_path: Path) -> None:
    animals = OnnxDetector(animal_detector(tmp_path / "md.onnx", ("animal", "person", "vehicle")))
    faces = OnnxDetector(face_detector(tmp_path / "faces.onnx"))
    found = TwoStage(animals, faces, margin=0.0).find(frame_with_a_bear())
    assert found.animals == 1
    assert found.faces.xyxy.round(1).tolist() == [[256.0, 128.0, 320.0, 192.0]]
    assert TwoStage(animals, faces, 0.0).find(np.full((FRAME, FRAME, 3), 70, np.uint8)).animals == 0


def test_only_the_kept_animal_classes_are_searched(tmp_path: Path) -> None:
    # The same graph, but its scoring class is 'person': nobody is searched for a face.
    animals = OnnxDetector(animal_detector(tmp_path / "md.onnx", ("person", "animal", "vehicle")))
    faces = OnnxDetector(face_detector(tmp_path / "faces.onnx"))
    found = TwoStage(animals, faces, margin=0.0).find(frame_with_a_bear())
    assert (found.animals, len(found.faces)) == (0, 0)
    assert len(OneStage(faces).find(frame_with_a_bear()).faces) == 1  # alone, it sees the face


def test_the_configuration_builds_the_two_stages(tmp_path: Path) -> None:
    cfg = DetectorConfig(
        model=face_detector(tmp_path / "faces.onnx"),
        animal_model=animal_detector(tmp_path / "md.onnx", ("animal", "person", "vehicle")),
        animal_margin=0.0,
        providers=["CPUExecutionProvider"],
    )
    finder = open_finder(cfg)
    assert finder.name == "animals+faces"
    assert finder.find(frame_with_a_bear()).faces.xyxy.round(1).tolist() == [
        [256.0, 128.0, 320.0, 192.0]
    ]


def test_swapped_detectors_are_refused(tmp_path: Path) -> None:
    faces = face_detector(tmp_path / "faces.onnx")
    animals = animal_detector(tmp_path / "md.onnx", ("animal", "person", "vehicle"))
    cfg = DetectorConfig(model=animals, animal_model=faces, providers=["CPUExecutionProvider"])
    with pytest.raises(DetectorIncompatible) as e:
        open_finder(cfg)
    assert str(e.value) == (
        f"detector.animal_model {faces} is a detector of role 'face', but detector.animal_model "
        "needs role 'animal': swap detector.model and detector.animal_model, or fix 'role' in "
        "its card"
    )
