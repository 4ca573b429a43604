"""Decision thresholds calibrated on the gallery the box actually holds.

bear-train's thresholds were chosen on its val gallery; the box's gallery has
other individuals and another size, so the scores shift. Here the gallery's
own named individuals stand in for the queries:

- *genuine*: each encounter's normalised mean embedding, searched with that
  encounter's references left out (leave-one-encounter-out) — its individual is
  still there through its other encounters;
- *strangers*: the same query with all of its individual's references left out
  (leave-one-individual-out) — whoever it matches is wrong.

`calibrate_references` is the pure function (bear-train's bench calls it too);
`calibrate_gallery` runs it on the database and stores the result in the
``calibrations`` table with the gallery key it was computed on, so the agent
knows when it is stale. Provisional individuals (the agent's own guesses) take
no part. A gallery too small to calibrate on keeps the model card's thresholds.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import numpy as np
import sqlite_utils
from numpy.typing import NDArray

from bearagent.decisions import Calibration, calibrate, open_set_score
from bearagent.decisions.config import DecisionConfig
from bearagent.decisions.scores import NEIGHBOURS
from bearagent.gallery.codec import stack_blobs
from bearagent.gallery.reference_encounters import group_encounters
from bearagent.gallery.schema import gallery_state
from bearagent.gallery.writes import now_iso, reading, writing

log = logging.getLogger(__name__)

#: Queries per similarity block (block x references float32 stays small).
_BLOCK = 16
#: Reference rows read from SQLite at a time.
_FETCH = 8192


@dataclass(frozen=True)
class CalibrationSettings:
    """How the gallery is calibrated on, and when it is large enough to win."""

    target_error: float = 0.05
    target_false_unknown: float = 0.05
    min_individuals: int = 8
    min_encounters: int = 30
    max_queries: int = 1000
    seed: int = 0


def settings_from(cfg: DecisionConfig) -> CalibrationSettings:
    """Gallery calibration settings from the agent's ``decision`` section."""
    return CalibrationSettings(
        target_error=cfg.target_error_rate,
        target_false_unknown=cfg.target_false_unknown_rate,
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
    figures: dict[str, float | int]


def _factorize(values: list[str]) -> tuple[NDArray[np.int64], int]:
    """Each value's index among the distinct values (first seen first), and how many."""
    index: dict[str, int] = {}
    codes = np.fromiter((index.setdefault(v, len(index)) for v in values), np.int64, len(values))
    return codes, len(index)


def leave_out_scores(
    embeddings: NDArray[np.float32],
    individuals: list[str],
    encounters: list[str],
    score: str,
    max_queries: int = 1000,
    seed: int = 0,
) -> tuple[NDArray[np.float64], NDArray[np.bool_], NDArray[np.float64], int]:
    """(genuine scores, genuine top-1 correct, stranger scores, eligible individuals).

    Memory stays near the references themselves: only the sampled encounters' means
    are formed, and each block of queries masks its own rows in place.
    """
    owner_of, _ = _factorize(individuals)
    order = np.argsort(owner_of, kind="stable")
    grouped = bool(np.all(order == np.arange(len(order))))  # as the database returns them
    refs = np.asarray(embeddings, np.float32)
    refs = refs if grouped else refs[order]  # no second copy of a large gallery when grouped
    owner = owner_of[order]
    encounter_of, n_encounters = _factorize(
        [f"{individuals[i]}\x00{encounters[i]}" for i in order.tolist()]
    )
    starts = np.flatnonzero(np.append(True, owner[1:] != owner[:-1]))
    enc_owner = np.zeros(n_encounters, np.int64)
    enc_owner[encounter_of] = owner
    per_individual = np.bincount(enc_owner, minlength=len(starts))
    queries = np.arange(n_encounters)
    if n_encounters > max_queries:
        queries = np.sort(np.random.default_rng(seed).choice(queries, max_queries, replace=False))
    rows_of = _rows_of_encounters(encounter_of, queries)
    genuine, correct, strangers = [], [], []
    for lo in range(0, len(queries), _BLOCK):
        q = queries[lo : lo + _BLOCK]
        means = np.stack([refs[rows_of[e]].sum(axis=0) for e in q.tolist()])
        means /= np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-12)
        sims = means @ refs.T  # (B, N)
        own = enc_owner[q]
        block = np.arange(len(q))
        alone = np.maximum.reduceat(sims, starts, axis=1)  # (B, M)
        alone[block, own] = -np.inf  # leave the whole individual out: a stranger
        strangers.append(_scores(alone, score))
        for r, e in enumerate(q.tolist()):
            sims[r, rows_of[e]] = -np.inf  # leave the query's own encounter out
        has_more = per_individual[own] >= 2
        if has_more.any():
            left = np.maximum.reduceat(sims[has_more], starts, axis=1)
            genuine.append(_scores(left, score))
            correct.append(np.argmax(left, axis=1) == own[has_more])
    cat = np.concatenate
    return (
        cat(genuine) if genuine else np.zeros(0),
        cat(correct) if correct else np.zeros(0, bool),
        cat(strangers) if strangers else np.zeros(0),
        int((per_individual >= 2).sum()),
    )


def _rows_of_encounters(
    encounter_of: NDArray[np.int64], wanted: NDArray[np.int64]
) -> dict[int, NDArray[np.int64]]:
    """The reference rows of each wanted encounter."""
    keep = np.isin(encounter_of, wanted)
    rows = np.flatnonzero(keep)
    out: dict[int, list[int]] = {}
    for row, e in zip(rows.tolist(), encounter_of[keep].tolist(), strict=True):
        out.setdefault(e, []).append(row)
    return {e: np.asarray(r, np.int64) for e, r in out.items()}


def _scores(by_individual: NDArray[np.float32], score: str) -> NDArray[np.float64]:
    k = min(NEIGHBOURS, by_individual.shape[1])
    if by_individual.shape[1] > k:
        by_individual = -np.partition(-by_individual, k - 1, axis=1)[:, :k]
    top = -np.sort(-by_individual, axis=1)[:, :k].astype(np.float64)
    top[~np.isfinite(top)] = np.nan
    return open_set_score(score, top)


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
    genuine, correct, strangers, eligible = leave_out_scores(
        embeddings, individuals, encounters, score, settings.max_queries, settings.seed
    )
    if eligible < settings.min_individuals or len(genuine) < settings.min_encounters:
        return GalleryCalibration(
            None,
            eligible,
            len(genuine),
            f"too small to calibrate on: {eligible} individuals with two or more encounters "
            f"(need {settings.min_individuals}) and {len(genuine)} such encounters (need "
            f"{settings.min_encounters})",
        )
    result = calibrate(
        score, genuine, correct, strangers, settings.target_error, settings.target_false_unknown
    )
    return GalleryCalibration(
        result,
        eligible,
        len(genuine),
        f"calibrated on {eligible} individuals, {len(genuine)} encounters "
        "(leave-one-encounter-out) and their leave-one-individual-out strangers",
    )


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
        figures = {**c.point.as_dict(), "auroc": c.auroc, "target_error": c.target_error,
                   "target_false_unknown": c.target_false_unknown}  # fmt: skip
        with writing(db):
            db.execute(
                "INSERT INTO calibrations (created_at, model_sha256, gallery_key, score, known,"
                " unknown, individuals, encounters, figures) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [now_iso(), model_sha256, key, score, c.known, c.unknown, result.individuals,
                 result.encounters, json.dumps(figures, allow_nan=True)],
            )  # fmt: skip
        log.info("gallery calibration (%s): %s", score, result.reason)
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
    return StoredCalibration(
        int(row[0]), str(row[1]), str(row[2]), float(row[3]), float(row[4]), int(row[5]),
        int(row[6]), json.loads(row[7]),
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
