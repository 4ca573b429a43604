"""The files of an export: names, the parity record, and writing them all or none.

Everything is first written to a staging folder inside the output folder and
moved into place only when every parity check passed, so a refused export leaves
the output folder as it was.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bearagent.modelcard import sidecar_path
from bearexport.parity import MIN_COSINE, REFERENCE_FILE, ParityReport

#: File name of each precision's ONNX model.
MODEL_FILES: dict[str, str] = {
    "fp32": "embedder.onnx",
    "fp16": "embedder.fp16.onnx",
    "int8": "embedder.int8.onnx",
}
#: The parity record: which file has which precision and what its export measured.
PARITY_FILE = "parity.json"


def model_files(folder: Path, precision: str) -> list[Path]:
    """The model file of `precision` in `folder` and its sidecar card."""
    model = folder / MODEL_FILES[precision]
    return [model, sidecar_path(model)]


@contextmanager
def staging(out: Path) -> Iterator[Path]:
    """A fresh folder inside `out`, removed afterwards whatever happens."""
    out.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=".bear-export-", dir=out))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def publish(stage: Path, out: Path) -> list[Path]:
    """Move every file of `stage` into `out` (replacing older ones); returns their paths."""
    moved = []
    for path in sorted(stage.iterdir()):
        target = out / path.name
        path.chmod(0o644)  # temporary files are private; exported models are meant to be shared
        os.replace(path, target)
        moved.append(target)
    return moved


def remove_stale(out: Path, exported: set[str]) -> list[Path]:
    """Delete variants an earlier export left in `out` that this export did not make.

    Their cards are self-consistent, but the parity record and reference now belong
    to another model: keeping them would let `verify` check them against it.
    """
    removed = []
    for precision in MODEL_FILES.keys() - exported:
        for path in model_files(out, precision):
            if path.exists():
                path.unlink()
                removed.append(path)
    return removed


def write_parity_record(folder: Path, reports: dict[str, ParityReport]) -> Path:
    """Record, per model file, its precision, the required cosine and the export's figures."""
    record: dict[str, Any] = {"reference": REFERENCE_FILE, "models": {}}
    for precision, report in reports.items():
        record["models"][MODEL_FILES[precision]] = {
            "precision": precision,
            "required_min_cosine": report.required,
            "export": report.as_dict(),
        }
    path = folder / PARITY_FILE
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return path


def precision_of(model: Path) -> tuple[str, float]:
    """The precision of `model` and its required cosine, from the parity record beside it."""
    path = model.parent / PARITY_FILE
    if path.is_file():
        entry = json.loads(path.read_text(encoding="utf-8"))["models"].get(model.name)
        if entry is not None:
            return str(entry["precision"]), float(entry["required_min_cosine"])
    for precision, name in MODEL_FILES.items():
        if model.name == name:
            return precision, MIN_COSINE[precision]
    return "fp32", MIN_COSINE["fp32"]
