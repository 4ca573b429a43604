"""Reading and writing model cards: JSON text, the sidecar file, ONNX metadata_props.

A card lives in two places: inside the ONNX file (``metadata_props`` under
`METADATA_KEY`, so the model can never lose it) and beside it as
``<model file>.json`` with the file's SHA-256 (so a swapped or damaged model is
caught before it produces wrong sightings). `load_model_card` checks both.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import onnx
from pydantic import ValidationError

from bearagent.modelcard.errors import (
    ModelCardInvalid,
    ModelCardMismatch,
    ModelCardMissing,
    ModelCardVersionError,
)
from bearagent.modelcard.legacy import upgrade_v1
from bearagent.modelcard.schema import SUPPORTED_FORMAT_VERSIONS, ModelCard

#: Key of the card in the ONNX model's metadata_props.
METADATA_KEY = "bearid.model_card"

_REEXPORT = "Export the model again with `bear-export`."


def sidecar_path(model_path: Path) -> Path:
    """Where the sidecar card of `model_path` lives: the file name plus ``.json``."""
    return model_path.with_name(model_path.name + ".json")


def sha256_file(path: Path, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def card_to_json(card: ModelCard) -> str:
    """Serialise a card as indented JSON (stable key order, for diffs)."""
    return card.model_dump_json(indent=2) + "\n"


def card_from_json(text: str, source: str) -> ModelCard:
    """Parse and validate a card; `source` names where it came from, for messages."""
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as e:
        raise ModelCardInvalid(
            f"model card in {source} is not valid JSON ({e}). {_REEXPORT}"
        ) from e
    if not isinstance(data, dict):
        raise ModelCardInvalid(f"model card in {source} is not a JSON object. {_REEXPORT}")
    _check_version(data, source)
    try:
        if data["format_version"] == 1:
            data = upgrade_v1(data, source)
        return ModelCard.model_validate(data)
    except ValidationError as e:
        problems = "; ".join(_describe(err) for err in e.errors())
        raise ModelCardInvalid(f"model card in {source} is invalid: {problems}. {_REEXPORT}") from e


def _check_version(data: dict[str, Any], source: str) -> None:
    version = data.get("format_version")
    if version is None:
        raise ModelCardInvalid(
            f"model card in {source} is invalid: missing field 'format_version'. {_REEXPORT}"
        )
    if version not in SUPPORTED_FORMAT_VERSIONS:
        supported = " and ".join(str(v) for v in SUPPORTED_FORMAT_VERSIONS)
        raise ModelCardVersionError(
            f"model card in {source} has format version {version!r}, but this bearid reads "
            f"versions {supported}. Export the model with the same bearid release as the agent, "
            "or upgrade the agent."
        )


def _describe(err: Any) -> str:
    where = ".".join(str(p) for p in err["loc"])
    if err["type"] == "missing":
        return f"missing field '{where}'"
    if err["type"] == "extra_forbidden":
        return f"unknown field '{where}'"
    return f"field '{where}': {err['msg']}"


def read_sidecar(path: Path) -> ModelCard:
    """Read a sidecar card file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise ModelCardMissing(f"model card {path} does not exist. {_REEXPORT}") from e
    return card_from_json(text, str(path))


def write_sidecar(card: ModelCard, path: Path) -> None:
    """Write a sidecar card atomically (a reader never sees half a file)."""
    _atomic_write(path, card_to_json(card).encode("utf-8"))


def read_onnx_card(model_path: Path) -> ModelCard | None:
    """The card embedded in an ONNX file, or None if it has none."""
    model = _load_onnx(model_path)
    for prop in model.metadata_props:
        if prop.key == METADATA_KEY:
            return card_from_json(prop.value, f"{model_path} (metadata_props)")
    return None


def write_onnx_card(model_path: Path, card: ModelCard) -> None:
    """Embed `card` in the ONNX file, replacing any earlier card, atomically.

    The embedded copy carries no sha256: a file cannot contain its own hash.
    """
    model = _load_onnx(model_path)
    keep = [p for p in model.metadata_props if p.key != METADATA_KEY]
    del model.metadata_props[:]
    model.metadata_props.extend(keep)
    onnx.helper.set_model_props(
        model,
        {**{p.key: p.value for p in keep}, METADATA_KEY: card_to_json(card.with_sha256(None))},
    )
    _atomic_write(model_path, model.SerializeToString())


def write_model_card(model_path: Path, card: ModelCard) -> ModelCard:
    """Embed the card in the ONNX file and write the sidecar with the file's sha256.

    Returns the card as written to the sidecar (with `model.sha256` set).
    """
    write_onnx_card(model_path, card)
    final = card.with_sha256(sha256_file(model_path))
    write_sidecar(final, sidecar_path(model_path))
    return final


def load_model_card(model_path: Path) -> ModelCard:
    """The verified card of an ONNX model, with `model.sha256` set to the file's hash.

    Reads the embedded card and the sidecar; raises `ModelCardMissing` when there
    is neither, `ModelCardMismatch` when the sidecar's sha256 is not the file's or
    the two copies disagree.
    """
    if not model_path.is_file():
        raise ModelCardMissing(f"model file {model_path} does not exist.")
    embedded = read_onnx_card(model_path)
    side_path = sidecar_path(model_path)
    sidecar = read_sidecar(side_path) if side_path.exists() else None
    card = embedded if embedded is not None else sidecar
    if card is None:
        raise ModelCardMissing(
            f"{model_path} has no bearid model card: no '{METADATA_KEY}' entry in its ONNX "
            f"metadata and no sidecar {side_path.name}. {_REEXPORT}"
        )
    actual = sha256_file(model_path)
    if sidecar is not None:
        expected = sidecar.model.sha256
        if expected is not None and expected != actual:
            raise ModelCardMismatch(
                f"{model_path} does not match its model card {side_path.name}: the file's "
                f"sha256 is {actual[:12]}..., the card says {expected[:12]}.... The model or "
                "its card was replaced or damaged: copy both from the same `bear-export` output."
            )
        if embedded is not None and embedded != sidecar.with_sha256(None):
            fields = _differing_fields(embedded, sidecar.with_sha256(None))
            raise ModelCardMismatch(
                f"the card inside {model_path} and {side_path.name} differ in "
                f"{', '.join(fields)}. Copy both from the same `bear-export` output."
            )
    return card.with_sha256(actual)


def _differing_fields(a: ModelCard, b: ModelCard) -> list[str]:
    da, db = a.model_dump(mode="json"), b.model_dump(mode="json")
    return [k for k in da if da[k] != db.get(k)]


def _load_onnx(model_path: Path) -> onnx.ModelProto:
    try:
        return onnx.load(str(model_path), load_external_data=False)
    except FileNotFoundError as e:
        raise ModelCardMissing(f"model file {model_path} does not exist.") from e
    except Exception as e:  # onnx raises DecodeError and others for a non-ONNX file
        raise ModelCardInvalid(
            f"{model_path} is not an ONNX model ({type(e).__name__}). Point the agent at the "
            "embedder.onnx written by `bear-export`."
        ) from e


def _atomic_write(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over `path`."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
