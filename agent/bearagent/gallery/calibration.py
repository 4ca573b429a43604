"""Decision thresholds calibrated on the gallery the box actually holds.

bear-train's thresholds were chosen on its val gallery; the box's gallery has
other individuals and another size, so the scores shift. Here the gallery's
own named individuals stand in for the queries:

- *genuine*: each encounter's normalised mean embedding, searched with that
  encounter's references left out (leave-one-encounter-out) — its individual is
  still there through its other encounters;
- *strangers*: the same query with all of its individual's references left out
  (leave-one-individual-out) — whoever it matches is wrong.

(`bearagent.gallery.leave_out`). Each threshold is kept only where the upper
confidence bound of its error rate is within its target
(`bearagent.decisions.thresholds`); a gallery large enough to calibrate on whose
scores cannot keep a promise withholds that kind of automatic decision, and the
stored calibration says why (both withheld: everything goes to review). The
cohort scores' per-individual statistics are stored with it.

`calibrate_references` is the pure function (bear-train's bench calls it too);
`calibrate_gallery` runs it on the database and stores the result in the
``calibrations`` table with the gallery key it was computed on, so the agent
knows when it is stale. Provisional individuals (the agent's own guesses) take
no part. A gallery too small to calibrate on keeps the model card's thresholds.
"When the gallery changed" is one policy: `bearagent.gallery.recalibrate`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sqlite_utils
from numpy.typing import NDArray

from bearagent.decisions import Calibration, CohortSummary, calibrate
from bearagent.decisions.bounds import DEFAULT_CONFIDENCE
from bearagent.decisions.config import DecisionConfig
from bearagent.gallery.codec import stack_blobs
from bearagent.gallery.leave_out import leave_out
from bearagent.gallery.reference_encounters import group_encounters
from bearagent.gallery.schema import gallery_state
from bearagent.gallery.writes import now_iso, reading, writing

log = logging.getLogger(__name__)

#: Reference rows read from SQLite at a time.
_FETCH = 8192


@dataclass(frozen=True)
class CalibrationSettings:
    """How the gallery is calibrated on, and when it is large enough to win."""

    target_error: float = 0.05
    target_false_unknown: float = 0.05
    confidence: float | None = DEFAULT_CONFIDENCE
    min_individuals: int = 8
    min_encounters: int = 30
    max_queries: int = 1000
    seed: int = 0


def settings_from(cfg: DecisionConfig) -> CalibrationSettings:
    """Gallery calibration settings from the agent's ``decision`` section."""
    return CalibrationSettings(
        target_error=cfg.target_error_rate,
        target_false_unknown=cfg.target_false_unknown_rate,
        confidence=cfg.confidence,
        min_individuals=cfg.min_individuals,
        min_encounters=cfg.min_encounters,
        max_queries=cfg.max_queries,
    )


@dataclass(frozen=True)
class GalleryCalibration:
    """The outcome of calibrating on a gallery: thresholds, or why there are none."""

    calibration: Calibration | None
    individuals: int  # named individuals with two or more encounters
    encounters: int  # genuine queries used
    reason: str  # what was done, or why the card's thresholds stay in force
    cohort: CohortSummary | None = None  # the cohort scores' statistics of its individuals


@dataclass(frozen=True)
class StoredCalibration:
    """A row of the ``calibrations`` table."""

    id: int
    created_at: str
    score: str
    known: float
    unknown: float
    individuals: int
    encounters: int
    figures: dict[str, Any]
    cohort: CohortSummary | None = field(default=None, compare=False)

    @property
    def why(self) -> str:
        """What the stored thresholds promise, or why decisions are withheld."""
        return str(self.figures.get("why", ""))


def leave_out_scores(
    embeddings: NDArray[np.float32],
    individuals: list[str],
    encounters: list[str],
    score: str,
    max_queries: int = 1000,
    seed: int = 0,
) -> tuple[NDArray[np.float64], NDArray[np.bool_], NDArray[np.float64], int]:
    """(genuine scores, genuine top-1 correct, stranger scores, eligible individuals)."""
    queries = leave_out(embeddings, individuals, encounters, max_queries, seed)
    genuine, strangers = queries.scores(score)
    return genuine, queries.correct, strangers, queries.eligible


def calibrate_references(
    embeddings: NDArray[np.float32],
    individuals: list[str],
    encounters: list[str],
    score: str,
    settings: CalibrationSettings = CalibrationSettings(),
) -> GalleryCalibration:
    """Thresholds of `score` on these references, or why the gallery is too small."""
    if len(set(individuals)) < 2:
        return GalleryCalibration(None, 0, 0, "fewer than 2 named individuals")
    queries = leave_out(embeddings, individuals, encounters, settings.max_queries, settings.seed)
    eligible, cohort = queries.eligible, queries.cohort.summary
    genuine, strangers = queries.scores(score)
    if eligible < settings.min_individuals or len(genuine) < settings.min_encounters:
        return GalleryCalibration(
            None,
            eligible,
            len(genuine),
            f"too small to calibrate on: {eligible} individuals with two or more encounters "
            f"(need {settings.min_individuals}) and {len(genuine)} such encounters (need "
            f"{settings.min_encounters})",
            cohort,
        )
    result = calibrate(
        score, genuine, queries.correct, strangers, settings.target_error,
        settings.target_false_unknown, settings.confidence,
    )  # fmt: skip
    return GalleryCalibration(
        result,
        eligible,
        len(genuine),
        f"calibrated on {eligible} individuals, {len(genuine)} encounters "
        "(leave-one-encounter-out) and their leave-one-individual-out strangers",
        cohort,
    )


def calibration_figures(result: GalleryCalibration) -> dict[str, Any]:
    """What is stored beside the thresholds: figures, bounds, why, and the cohort."""
    c = result.calibration
    if c is None:
        return {}
    return {
        **c.point.as_dict(),
        "auroc": c.auroc,
        "target_error": c.target_error,
        "target_false_unknown": c.target_false_unknown,
        "confidence": c.confidence,
        "error_bound": c.error_bound,
        "false_unknown_bound": c.false_unknown_bound,
        "withheld": list(c.withheld),
        "why": c.why,
        "cohort": result.cohort.as_json() if result.cohort is not None else None,
    }


def gallery_key(db: sqlite_utils.Database, model_sha256: str) -> str:
    """What a calibration depends on: the named individuals' references and the layout."""
    count, last = db.execute(
        "SELECT count(*), coalesce(max(r.id), 0) FROM reference_embeddings r"
        " JOIN individuals i ON i.id = r.individual_id"
        " WHERE i.kind = 'known' AND r.model_sha256 = ?",
        [model_sha256],
    ).fetchone()
    return f"{model_sha256[:16]}:{count}:{last}:{gallery_state(db)[1]}"


def named_references(
    db: sqlite_utils.Database, model_sha256: str
) -> tuple[NDArray[np.float32], list[str], list[str]]:
    """Embeddings, owners and encounter keys of the named individuals' references.

    Read in chunks into one preallocated matrix (a gallery of 10^5 references is
    50 MB; the BLOBs are never all held at once). References enrolled before
    encounters were recorded are grouped on the fly (near-duplicates of one
    individual form one encounter).
    """
    where = (
        " FROM reference_embeddings r JOIN individuals i ON i.id = r.individual_id"
        " WHERE i.kind = 'known' AND r.model_sha256 = ?"
    )
    count, dim = db.execute(f"SELECT count(*), max(r.dim){where}", [model_sha256]).fetchone()
    if not count:
        return np.zeros((0, 1), np.float32), [], []
    matrix = np.empty((int(count), int(dim)), np.float32)
    owners: list[str] = []
    keys: list[str] = []
    cursor = db.execute(
        f"SELECT r.individual_id, r.encounter, r.embedding{where} ORDER BY r.individual_id, r.id",
        [model_sha256],
    )
    row = 0
    while chunk := cursor.fetchmany(_FETCH):
        matrix[row : row + len(chunk)] = stack_blobs([c[2] for c in chunk], int(dim))
        owners += [str(c[0]) for c in chunk]
        keys += [str(c[1]) if c[1] is not None else "" for c in chunk]
        row += len(chunk)
    matrix = matrix[:row]
    undated: dict[str, list[int]] = {}
    for i, (owner, key) in enumerate(zip(owners, keys, strict=True)):
        if not key:
            undated.setdefault(owner, []).append(i)
    for idx in undated.values():
        for i, key in zip(idx, group_encounters([None] * len(idx), matrix[idx]), strict=True):
            keys[i] = f"grouped:{key}"
    return matrix, owners, keys


def calibrate_gallery(
    db: sqlite_utils.Database,
    model_sha256: str,
    score: str,
    settings: CalibrationSettings = CalibrationSettings(),
) -> GalleryCalibration:
    """Calibrate `score` on the gallery and store it (when it is large enough)."""
    with reading(db):
        key = gallery_key(db, model_sha256)
        matrix, owners, keys = named_references(db, model_sha256)
    result = calibrate_references(matrix, owners, keys, score, settings)
    if result.calibration is not None:
        c = result.calibration
        figures = json.dumps(calibration_figures(result), allow_nan=True)
        with writing(db):
            db.execute(
                "INSERT INTO calibrations (created_at, model_sha256, gallery_key, score, known,"
                " unknown, individuals, encounters, figures) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [now_iso(), model_sha256, key, score, c.known, c.unknown, result.individuals,
                 result.encounters, figures],
            )  # fmt: skip
        log.info("gallery calibration (%s): %s; %s", score, result.reason, c.why)
    return result


def current_calibration(
    db: sqlite_utils.Database, model_sha256: str, score: str
) -> StoredCalibration | None:
    """The newest stored calibration of `score` that still matches the gallery, if any."""
    row = db.execute(
        "SELECT id, created_at, score, known, unknown, individuals, encounters, figures,"
        " gallery_key FROM calibrations WHERE model_sha256 = ? AND score = ?"
        " ORDER BY id DESC LIMIT 1",
        [model_sha256, score],
    ).fetchone()
    if row is None or row[8] != gallery_key(db, model_sha256):
        return None
    figures = json.loads(row[7])
    cohort = figures.pop("cohort", None)
    return StoredCalibration(
        int(row[0]), str(row[1]), str(row[2]), float(row[3]), float(row[4]), int(row[5]),
        int(row[6]), figures,
        CohortSummary.from_json(cohort, f"calibration {row[0]}") if cohort else None,
    )  # fmt: skip


def ensure_calibration(
    db: sqlite_utils.Database,
    model_sha256: str,
    score: str,
    settings: CalibrationSettings = CalibrationSettings(),
) -> StoredCalibration | None:
    """The current calibration, calibrating first when it is missing or stale."""
    stored = current_calibration(db, model_sha256, score)
    if stored is None:
        calibrate_gallery(db, model_sha256, score, settings)
        stored = current_calibration(db, model_sha256, score)
    return stored
