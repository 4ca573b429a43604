"""Reading and writing detector cards: the sidecar ``<detector>.onnx.json`` and the copy
in the ONNX file's ``metadata_props``, checked against each other and the file's hash."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import onnx
from pydantic import ValidationError

from bearagent.detection.card import DetectorCard
from bearagent.detection.errors import (
    DetectorCardInvalid,
    DetectorCardMismatch,
    DetectorCardMissing,
)
from bearagent.detection.files import atomic_write
from bearagent.modelcard.io import sha256_file, sidecar_path

#: Key of the card in the detector's ONNX metadata_props.
DETECTOR_CARD_KEY = "bearid.detector_card"

_HOW = "Write the card as docs/detector.md shows (or export the detector again with bear-train)."


def card_json(card: DetectorCard) -> str:
    """The card as indented JSON (unset optional fields left out)."""
    return card.model_dump_json(indent=2, exclude_none=True) + "\n"


def parse_card(text: str, source: str) -> DetectorCard:
    """Parse and validate a card; `source` names where it came from, for messages."""
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as e:
        raise DetectorCardInvalid(f"detector card {source} is not valid JSON ({e}). {_HOW}") from e
    if not isinstance(data, dict):
        raise DetectorCardInvalid(f"detector card {source} is not a JSON object. {_HOW}")
    if "embedding" in data:
        raise DetectorCardInvalid(
            f"{source} is an embedder's model card, not a detector card: give the detector's "
            "ONNX file to --detector / detector.model and the embedder to --model"
        )
    try:
        return DetectorCard.model_validate(data)
    except ValidationError as e:
        problems = "; ".join(_describe(err) for err in e.errors())
        raise DetectorCardInvalid(f"detector card {source} is invalid: {problems}. {_HOW}") from e


def _describe(err: Any) -> str:
    where = ".".join(str(p) for p in err["loc"]) or "(card)"
    if err["type"] == "missing":
        return f"missing field '{where}'"
    if err["type"] == "extra_forbidden":
        return f"unknown field '{where}'"
    return f"field '{where}': {err['msg']}"


def _load_onnx(path: Path) -> onnx.ModelProto:
    try:
        return onnx.load(str(path), load_external_data=False)
    except FileNotFoundError as e:
        raise DetectorCardMissing(f"detector file {path} does not exist") from e
    except Exception as e:  # onnx raises DecodeError and others for a non-ONNX file
        raise DetectorCardInvalid(
            f"{path} is not an ONNX model ({type(e).__name__}): give the detector's .onnx file"
        ) from e


def metadata_of(path: Path) -> dict[str, str]:
    """The ONNX file's metadata_props as a dict (ultralytics keeps names and imgsz there)."""
    return {p.key: p.value for p in _load_onnx(path).metadata_props}


def write_detector_card(path: Path, card: DetectorCard) -> DetectorCard:
    """Embed the card in the ONNX file, then write the sidecar with the file's SHA-256."""
    model = _load_onnx(path)
    keep = {p.key: p.value for p in model.metadata_props if p.key != DETECTOR_CARD_KEY}
    del model.metadata_props[:]
    onnx.helper.set_model_props(
        model, {**keep, DETECTOR_CARD_KEY: card_json(card.with_sha256(None))}
    )
    atomic_write(path, model.SerializeToString())
    final = card.with_sha256(sha256_file(path))
    atomic_write(sidecar_path(path), card_json(final).encode("utf-8"))
    return final


def load_detector_card(path: Path) -> DetectorCard:
    """The detector's verified card, with `model.sha256` set to the file's hash.

    Reads the embedded copy and the sidecar; refuses a detector with neither, a
    sidecar whose SHA-256 is not the file's, and two copies that disagree.
    """
    if not path.is_file():
        raise DetectorCardMissing(f"detector file {path} does not exist: check detector.model")
    embedded_text = metadata_of(path).get(DETECTOR_CARD_KEY)
    embedded = parse_card(embedded_text, f"{path} (metadata_props)") if embedded_text else None
    side = sidecar_path(path)
    sidecar = parse_card(side.read_text(encoding="utf-8"), str(side)) if side.is_file() else None
    card = sidecar if sidecar is not None else embedded
    if card is None:
        raise DetectorCardMissing(
            f"{path} has no detector card: no sidecar {side.name} and no '{DETECTOR_CARD_KEY}' "
            f"in its ONNX metadata. {_HOW}"
        )
    actual = sha256_file(path)
    if sidecar is not None and sidecar.model.sha256 not in (None, actual):
        raise DetectorCardMismatch(
            f"{path} does not match its card {side.name}: the file's sha256 is {actual[:12]}..., "
            f"the card says {str(sidecar.model.sha256)[:12]}.... The detector or its card was "
            "replaced: copy both from the same export, or remove model.sha256 from a card you "
            "wrote by hand"
        )
    if sidecar is not None and embedded is not None and embedded != sidecar.with_sha256(None):
        raise DetectorCardMismatch(
            f"the card inside {path} and {side.name} differ: copy both from the same export, "
            "or delete the sidecar to use the embedded card"
        )
    return card.with_sha256(actual)
