"""One policy for "calibrate the decision thresholds again, the gallery changed".

The command line (after enrol, import, remove, promote, re-embed, and `bearagent
gallery calibrate`), the agent's start-up (only when stale) and the review page
(after a person's action) all call `recalibrate`.

Which model: the one in use (``runtime.model``; for a TensorRT engine, the ONNX
model it was built from, whose card the engine's sidecar carries). Its SHA-256
is what the agent reads calibrations by and what it checks the gallery's
references against; a calibration for another model (one whose references the
gallery still holds, not yet re-embedded) would never be read. When the gallery
holds no reference made with the model in use, nothing is calibrated and the
result says how to fix it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import sqlite_utils

from bearagent.decisions.config import DecisionConfig
from bearagent.gallery.calibration import (
    GalleryCalibration,
    StoredCalibration,
    calibrate_gallery,
    current_calibration,
    settings_from,
)
from bearagent.gallery.references import gallery_models
from bearagent.gallery.writes import reading
from bearagent.modelcard import DecisionSpec, load_model_card

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recalibration:
    """What `recalibrate` did: the model and score, the calibration run (None when none ran),
    the calibration now current, and one line for people."""

    model_sha256: str
    score: str
    result: GalleryCalibration | None
    current: StoredCalibration | None
    note: str


def _other_models(db: sqlite_utils.Database, model_sha256: str) -> str | None:
    """Why the gallery cannot be calibrated for this model, when it only holds others'."""
    with reading(db):
        models = gallery_models(db)
    if not models or model_sha256 in models:
        return None
    return (
        f"the gallery's references were made with another model (sha256 {models[0][:12]}...), "
        f"not with the model in use (sha256 {model_sha256[:12]}...): re-embed them with "
        "`bearagent gallery reembed` to calibrate"
    )


def recalibrate(
    db: sqlite_utils.Database,
    model_sha256: str,
    card: DecisionSpec,
    decision: DecisionConfig,
    *,
    when: Literal["changed", "stale"] = "changed",
) -> Recalibration:
    """Calibrate the gallery's thresholds for the model in use (`model_sha256`) and the score
    in use (``decision.score``, else the card's).

    ``when="changed"`` calibrates now (the gallery just changed); ``"stale"`` only when
    no current calibration matches the gallery (the agent's start). Nothing runs when
    ``decision.calibrate_on_gallery`` is off.
    """
    score = decision.score or card.score
    if not decision.calibrate_on_gallery:
        off = "decision.calibrate_on_gallery is off"
        return Recalibration(model_sha256, score, None, None, off)
    if when == "stale":
        stored = current_calibration(db, model_sha256, score)
        if stored is not None:
            return Recalibration(model_sha256, score, None, stored, "current")
    if (mismatch := _other_models(db, model_sha256)) is not None:
        result = GalleryCalibration(None, 0, 0, mismatch)
    else:
        result = calibrate_gallery(db, model_sha256, score, settings_from(decision))
    current = current_calibration(db, model_sha256, score)
    return Recalibration(model_sha256, score, result, current, describe(result))


def recalibrate_model(
    db: sqlite_utils.Database,
    model: Path,
    decision: DecisionConfig,
    *,
    when: Literal["changed", "stale"] = "changed",
) -> Recalibration:
    """`recalibrate` for the ONNX model file in use (its card gives its SHA-256 and score)."""
    card = load_model_card(model)
    return recalibrate(db, card.model.sha256 or "", card.decision, decision, when=when)


def describe(result: GalleryCalibration) -> str:
    """One line: the thresholds and what they promise, or why the card's stay in force."""
    c = result.calibration
    if c is None:
        return f"the model card's stay in force ({result.reason})"
    p = c.point
    known = f"known >= {c.known:.4f}" if c.decides_known else "no automatic known"
    unknown = f"unknown < {c.unknown:.4f}" if c.decides_unknown else "no automatic unknown"
    return (
        f"{known}, {unknown} ({result.reason}); {c.why}; on the gallery: automatic error "
        f"{p.automatic_error:.3f} (upper bound {c.error_bound:.3f}), false-unknown "
        f"{p.false_unknown_rate:.3f} (upper bound {c.false_unknown_bound:.3f}), unknown "
        f"detection {p.unknown_detection_rate:.3f}, review {p.review_share:.3f}"
    )
