"""The detector card: stored like the embedder's (inside the ONNX file and beside it),
checked against the file, and the exact refusals a user meets when it is wrong."""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import pytest
from click.testing import CliRunner

from bearagent.detection import (
    DetectorCardInvalid,
    DetectorCardMismatch,
    DetectorCardMissing,
    DetectorIncompatible,
    draft,
)
from bearagent.detection.cardio import card_json, load_detector_card
from bearagent.detection.onnx_detector import OnnxDetector
from bearagent.modelcard.io import sha256_file
from support.detector_models import grid_card, write_grid_detector, write_grid_onnx
from support.models import card_dict


def test_a_written_card_loads_back_with_the_files_hash(tmp_path: Path) -> None:
    path = write_grid_detector(tmp_path / "faces.onnx")
    card = load_detector_card(path)
    assert card == grid_card().with_sha256(sha256_file(path))
    sidecar = json.loads((tmp_path / "faces.onnx.json").read_text())
    assert sidecar["model"]["sha256"] == sha256_file(path)
    assert sidecar["output"] == {"format": "yolov8"}


def test_a_hand_written_sidecar_for_a_foreign_export_is_enough(tmp_path: Path) -> None:
    path = write_grid_detector(tmp_path / "best.onnx", embed=False)
    assert load_detector_card(path).model.sha256 == sha256_file(path)


def test_a_replaced_detector_is_refused(tmp_path: Path) -> None:
    path = write_grid_detector(tmp_path / "faces.onnx")
    write_grid_onnx(path, cell=64)  # another graph under the same name, the old card beside it
    with pytest.raises(DetectorCardMismatch) as e:
        load_detector_card(path)
    assert str(e.value).startswith(f"{path} does not match its card faces.onnx.json: the file's")
    assert str(e.value).endswith(
        "The detector or its card was replaced: copy both from the same export, or remove "
        "model.sha256 from a card you wrote by hand"
    )


def test_the_two_copies_must_agree(tmp_path: Path) -> None:
    path = write_grid_detector(tmp_path / "faces.onnx")
    changed = grid_card(thresholds={"score": 0.7, "iou": 0.45})
    (tmp_path / "faces.onnx.json").write_text(card_json(changed))  # no sha256: hand-edited
    with pytest.raises(DetectorCardMismatch) as e:
        load_detector_card(path)
    assert str(e.value) == (
        f"the card inside {path} and faces.onnx.json differ: copy both from the same export, "
        "or delete the sidecar to use the embedded card"
    )


def test_a_detector_without_a_card(tmp_path: Path) -> None:
    path = write_grid_onnx(tmp_path / "best.onnx")
    with pytest.raises(DetectorCardMissing) as e:
        load_detector_card(path)
    assert str(e.value) == (
        f"{path} has no detector card: no sidecar best.onnx.json and no "
        "'bearid.detector_card' in its ONNX metadata. Write the card as docs/detector.md "
        "shows (or export the detector again with bear-train)."
    )


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda c: c.update(keep_classes=["Face"]),
         "field '(card)': Value error, keep_classes ['Face'] are not among classes ['face']: "
         "name kept classes exactly as in 'classes'"),
        (lambda c: c.update(thresold={"score": 0.3}), "unknown field 'thresold'"),
        (lambda c: c["output"].update(format="yolov11"),
         "field 'output.format': Input should be 'yolov8', 'yolov5' or 'nms'"),
        (lambda c: c.pop("classes"), "missing field 'classes'"),
    ],
)  # fmt: skip
def test_common_mistakes_in_a_hand_written_card(tmp_path: Path, edit: object, problem: str) -> None:
    path = write_grid_onnx(tmp_path / "best.onnx")
    data = json.loads(card_json(grid_card()))
    edit(data)  # type: ignore[operator]
    (tmp_path / "best.onnx.json").write_text(json.dumps(data))
    with pytest.raises(DetectorCardInvalid) as e:
        load_detector_card(path)
    assert str(e.value) == (
        f"detector card {tmp_path / 'best.onnx.json'} is invalid: {problem}. Write the card as "
        "docs/detector.md shows (or export the detector again with bear-train)."
    )


def test_the_embedders_card_given_as_the_detectors(tmp_path: Path) -> None:
    path = write_grid_onnx(tmp_path / "embedder.onnx")
    (tmp_path / "embedder.onnx.json").write_text(json.dumps(card_dict()))
    with pytest.raises(DetectorCardInvalid) as e:
        load_detector_card(path)
    assert str(e.value) == (
        f"{tmp_path / 'embedder.onnx.json'} is an embedder's model card, not a detector card: "
        "give the detector's ONNX file to --detector / detector.model and the embedder to --model"
    )


def test_an_input_size_that_is_not_the_exports_is_refused(tmp_path: Path) -> None:
    path = write_grid_detector(tmp_path / "faces.onnx", card=grid_card(size=320), size=256)
    with pytest.raises(DetectorIncompatible) as e:
        OnnxDetector(path)
    assert str(e.value) == (
        f"detector {path} takes input of shape [1, 3, 256, 256], but its card says "
        "[1, 3, 320, 320]: set input.height and input.width in faces.onnx.json to the size the "
        "model was exported with"
    )


@pytest.mark.parametrize(
    ("graph", "declared", "shape", "hint"),
    [
        ("yolov5", "yolov8", "[1, 64, 6]", "it looks like an 'nms' output (or a 'yolov5' one "
         "with 1 class)"),
        ("nms", "yolov8", "[1, 64, 6]", "it looks like an 'nms' output (or a 'yolov5' one "
         "with 1 class)"),
        ("yolov8", "nms", "[1, 5, 64]", "it looks like a 'yolov8' output with 1 class"),
    ],
)  # fmt: skip
def test_an_output_layout_that_is_not_the_cards_is_refused(
    tmp_path: Path, graph: str, declared: str, shape: str, hint: str
) -> None:
    path = write_grid_detector(tmp_path / "x.onnx", fmt=graph, card=grid_card(fmt=declared))
    needs = {"yolov8": "[1, 5, N]", "nms": "[1, N, 6]"}[declared]
    with pytest.raises(DetectorIncompatible) as e:
        OnnxDetector(path)
    assert str(e.value).startswith(
        f"detector {path} does not fit its card: output 'output0' has shape {shape}, but format "
        f"'{declared}' with 1 class needs {needs} ({hint}). Fix x.onnx.json: set output.format"
    )


def ultralytics_like(path: Path, fmt: str, names: str, args: str = "{'nms': False}") -> Path:
    """A grid detector carrying the metadata ultralytics writes into its ONNX exports."""
    write_grid_onnx(path, fmt=fmt, classes=2)
    model = onnx.load(str(path))
    onnx.helper.set_model_props(
        model, {"names": names, "imgsz": "[256, 256]", "task": "detect", "args": args,
                "description": "Ultralytics YOLOv8n model trained on bears.yaml"},
    )  # fmt: skip
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize("fmt", ["yolov8", "yolov5", "nms"])
def test_a_card_is_drafted_from_an_ultralytics_export(tmp_path: Path, fmt: str) -> None:
    path = ultralytics_like(tmp_path / "best.onnx", fmt, "{0: 'face', 1: 'cub_face'}")
    result = CliRunner().invoke(draft.main, [str(path), "--keep", "face", "--keep", "cub_face"])
    assert result.exit_code == 0, result.output
    card = load_detector_card(path)
    assert (card.output.format, card.classes, card.keep_classes) == (
        fmt, ["face", "cub_face"], ["face", "cub_face"],
    )  # fmt: skip
    assert (card.input.height, card.input.width, card.role) == (256, 256, "face")
    assert card.model.source == "Ultralytics YOLOv8n model trained on bears.yaml"
    OnnxDetector(path)  # and the agent takes it


def test_a_draft_names_what_is_missing(tmp_path: Path) -> None:
    path = write_grid_onnx(tmp_path / "bare.onnx")
    result = CliRunner().invoke(draft.main, [str(path), "--keep", "face"])
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {path} names no classes in its metadata (an ultralytics export does): give "
        "them with --classes, in the model's output order\n"
    )
    path = ultralytics_like(tmp_path / "md.onnx", "yolov5", "{0: 'animal', 1: 'person'}")
    result = CliRunner().invoke(draft.main, [str(path), "--keep", "Animal", "--role", "animal"])
    assert (
        result.exit_code == 1 and "keep_classes ['Animal'] are not among classes" in result.output
    )
