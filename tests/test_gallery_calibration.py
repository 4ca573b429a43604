"""Calibrating the decision thresholds on the gallery the box holds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.stats import beta

from bearagent.decisions import COHORT_SCORES, NEVER_KNOWN, NEVER_UNKNOWN, open_set_score
from bearagent.decisions.scores import COHORT_SIZE, SPREAD_FLOOR
from bearagent.gallery import add_references, create_known, create_provisional, open_gallery
from bearagent.gallery.calibration import (
    CalibrationSettings,
    calibrate_gallery,
    calibrate_references,
    current_calibration,
    ensure_calibration,
    leave_out_scores,
)

SHA = "ab" * 32
DIM = 16


def constructed_gallery(
    individuals: int = 12, encounters: int = 3, chips: int = 2, seed: int = 0, visits: float = 0.6
) -> tuple[np.ndarray, list[str], list[str]]:
    """Each individual a direction, each encounter a perturbation of it, chips near that."""
    rng = np.random.default_rng(seed)
    rows, owners, keys = [], [], []
    for i in range(individuals):
        centre = rng.normal(size=DIM)
        for e in range(encounters):
            visit = centre + rng.normal(scale=visits, size=DIM)
            for _ in range(chips):
                v = visit + rng.normal(scale=0.1, size=DIM)
                rows.append(v / np.linalg.norm(v))
                owners.append(f"bear-{i:04d}")
                keys.append(f"e{i}-{e}")
    return np.asarray(rows, np.float32), owners, keys


def encounter_mean(emb: np.ndarray, idx: list[int]) -> np.ndarray:
    mean = emb[idx].sum(axis=0)
    out: np.ndarray = mean / np.linalg.norm(mean)
    return out


def best_by_individual(
    q: np.ndarray, emb: np.ndarray, owners: list[str], exclude: set[int]
) -> dict[str, float]:
    best: dict[str, float] = {}
    for j, (o, v) in enumerate(zip(owners, emb, strict=True)):
        if j not in exclude:
            best[o] = max(best.get(o, -9.0), float(q @ v))
    return best


def naive_individual_stats(
    emb: np.ndarray,
    owners: list[str],
    keys: list[str],
    who: str,
    *,
    leave_individual: str | None = None,
    leave_encounter: str | None = None,
) -> tuple[float, float, float, int]:
    """(cohort mean, cohort spread, genuine sum, genuine count) of `who`, one loop at a time."""
    values, own_sum, own_n = [], 0.0, 0
    for key in sorted({k for k, o in zip(keys, owners, strict=True) if o == who}):
        if key == leave_encounter:
            continue
        idx = [i for i, k in enumerate(keys) if k == key]
        q = encounter_mean(emb, idx)
        others = best_by_individual(q, emb, owners, set(idx))
        own = others.pop(who, None)
        others.pop(leave_individual or "", None)
        values += sorted(others.values(), reverse=True)[:COHORT_SIZE]
        if own is not None:
            own_sum, own_n = own_sum + own, own_n + 1
    v = np.array(values)
    return float(v.mean()), max(float(v.std()), SPREAD_FLOOR), own_sum, own_n


def naive_threshold(mean: float, own_sum: float, own_n: int, gap: float) -> float:
    own_gap = own_sum / own_n - mean if own_n else gap
    w = own_n / (own_n + 1)
    return mean + 0.5 * (w * own_gap + (1 - w) * gap)


def naive_cohort_score(
    score: str,
    sims: list[float],
    stats: tuple[float, float, float, int],
    gap: float,
    typical: float,
) -> float:
    best = sims[0]
    mean, spread, own_sum, own_n = stats
    if score == "individual":
        return best - (naive_threshold(mean, own_sum, own_n, gap) - typical)
    cohort = np.array(sims[1 : 1 + COHORT_SIZE])
    candidate = (best - mean) / spread
    if len(cohort) < 2:
        return candidate
    query = (best - float(cohort.mean())) / max(float(cohort.std()), SPREAD_FLOOR)
    return float(0.5 * (query + candidate))


def naive_scores(
    emb: np.ndarray, owners: list[str], keys: list[str], score: str
) -> tuple[list[float], list[bool], list[float]]:
    """Leave-one-encounter-out and leave-one-individual-out, one query at a time."""
    full = {w: naive_individual_stats(emb, owners, keys, w) for w in sorted(set(owners))}
    gaps = [st[2] / st[3] - st[0] for st in full.values() if st[3]]
    gap = float(np.median(gaps)) if gaps else 0.0
    typical = float(np.median([naive_threshold(st[0], st[2], st[3], gap) for st in full.values()]))
    genuine, correct, strangers = [], [], []
    for key in sorted(set(keys)):
        idx = [i for i, k in enumerate(keys) if k == key]
        who = owners[idx[0]]
        mean = encounter_mean(emb, idx)

        def value(sims: list[float], best: str, **leave: str) -> float:
            if score not in COHORT_SCORES:
                return float(open_set_score(score, np.array([sims[:4]]))[0])
            stats = naive_individual_stats(emb, owners, keys, best, **leave)
            return naive_cohort_score(score, sims, stats, gap, typical)

        own = {i for i, o in enumerate(owners) if o == who}
        ranked = best_by_individual(mean, emb, owners, own)
        names = sorted(ranked, key=lambda o: -ranked[o])
        strangers.append(value([ranked[o] for o in names], names[0], leave_individual=who))
        if len({keys[i] for i in own}) >= 2:
            ranked = best_by_individual(mean, emb, owners, set(idx))
            names = sorted(ranked, key=lambda o: -ranked[o])
            leave = {"leave_encounter": key} if names[0] == who else {}
            genuine.append(value([ranked[o] for o in names], names[0], **leave))
            correct.append(names[0] == who)
    return genuine, correct, strangers


def naive_thresholds(
    genuine: list[float], correct: list[bool], strangers: list[float], target: float
) -> tuple[float, float]:
    """The point-estimate rule, by brute force over every candidate threshold."""
    g = np.array(genuine)
    unknown = max(t for t in np.unique(g) if np.mean(g < t) <= target)
    scores = np.concatenate([g, strangers])
    wrong = np.concatenate([~np.array(correct), np.ones(len(strangers), bool)])
    ok = [t for t in np.unique(scores) if wrong[scores >= t].mean() <= target]
    known = min(ok) if ok else np.inf
    return max(known, unknown), unknown


def cp_upper(k: int, n: int) -> float:
    return 1.0 if k >= n else float(beta.ppf(0.95, k + 1, n - k))


def cp_lower(k: int, n: int) -> float:
    return 0.0 if k == 0 else float(beta.ppf(0.05, k, n - k + 1))


def naive_bounded_thresholds(
    genuine: list[float], correct: list[bool], strangers: list[float], target: float
) -> tuple[float, float]:
    """The bounded rule (scipy's Clopper-Pearson), by brute force."""
    g, s = np.array(genuine), np.array(strangers)
    unknown = NEVER_UNKNOWN
    for t in np.unique(g):
        flagged, detected = int((g < t).sum()), int((s < t).sum())
        if cp_upper(flagged, len(g)) <= target and cp_lower(detected, len(s)) > cp_upper(
            flagged, len(g)
        ):
            unknown = max(unknown, float(t))
    scores = np.concatenate([g, s])
    wrong = np.concatenate([~np.array(correct), np.ones(len(s), bool)])
    ok = [
        t
        for t in np.unique(scores)
        if t >= unknown
        and cp_upper(int(wrong[scores >= t].sum()), int((scores >= t).sum())) <= target
    ]
    known = min(ok) if ok else NEVER_KNOWN
    return max(known, unknown), unknown


@pytest.mark.parametrize("score", ["best", "margin3", "asnorm", "individual"])
def test_leave_out_scores_match_a_naive_loop(score: str) -> None:
    emb, owners, keys = constructed_gallery()
    genuine, correct, strangers, eligible = leave_out_scores(emb, owners, keys, score)
    g, c, s = naive_scores(emb, owners, keys, score)
    assert eligible == 12
    assert sorted(genuine) == pytest.approx(sorted(g), abs=1e-5)
    assert sorted(strangers) == pytest.approx(sorted(s), abs=1e-5)
    assert int(correct.sum()) == sum(c)


@pytest.mark.parametrize("confidence", [None, 0.95])
def test_gallery_calibration_picks_the_documented_thresholds(confidence: float | None) -> None:
    emb, owners, keys = constructed_gallery(individuals=30, encounters=4, visits=0.35)
    settings = CalibrationSettings(confidence=confidence)
    result = calibrate_references(emb, owners, keys, "margin3", settings)
    assert result.calibration is not None
    g, c, s = naive_scores(emb, owners, keys, "margin3")
    naive = naive_thresholds if confidence is None else naive_bounded_thresholds
    known, unknown = naive(g, c, s, 0.05)
    assert result.calibration.unknown == pytest.approx(unknown, abs=1e-5)
    assert result.calibration.known == pytest.approx(known, abs=1e-5)
    assert (result.individuals, result.encounters) == (30, 120)
    if confidence is not None:
        assert result.calibration.decides_known and result.calibration.decides_unknown


def test_a_small_gallery_is_not_calibrated_on_and_says_why() -> None:
    emb, owners, keys = constructed_gallery(individuals=4)
    result = calibrate_references(emb, owners, keys, "best")
    assert result.calibration is None
    assert result.reason.startswith("too small to calibrate on: 4 individuals with two or more")


def test_calibration_is_stored_goes_stale_when_the_gallery_changes_and_ignores_provisionals(
    tmp_path: Path,
) -> None:
    db = open_gallery(tmp_path / "g.db")
    emb, owners, keys = constructed_gallery(individuals=10)
    ids = {who: create_known(db, who.replace("bear-", "Bear ")) for who in sorted(set(owners))}
    for who in sorted(set(owners)):
        idx = [i for i, o in enumerate(owners) if o == who]
        add_references(db, ids[who], emb[idx], SHA, [f"{who}/{i}.jpg" for i in idx],
                       encounters=[keys[i] for i in idx])  # fmt: skip
    settings = CalibrationSettings(min_individuals=8, min_encounters=20)
    assert current_calibration(db, SHA, "best") is None
    stored = ensure_calibration(db, SHA, "best", settings)
    assert stored is not None and (stored.individuals, stored.encounters) == (10, 30)
    # The agent's own provisional individuals do not change what it was computed on.
    create_provisional(db, emb[:2], SHA, ["x.jpg", "y.jpg"], agent_id="box")
    assert current_calibration(db, SHA, "best") == stored
    # A new reference of a named individual does.
    add_references(db, ids["bear-0000"], emb[:1], SHA, "new.jpg")
    assert current_calibration(db, SHA, "best") is None
    again = calibrate_gallery(db, SHA, "best", settings)
    assert again.calibration is not None
    assert current_calibration(db, SHA, "best") is not None
