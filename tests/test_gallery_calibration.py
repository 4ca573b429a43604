"""Calibrating the decision thresholds on the gallery the box holds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bearagent.decisions import open_set_score
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
    individuals: int = 12, encounters: int = 3, chips: int = 2, seed: int = 0
) -> tuple[np.ndarray, list[str], list[str]]:
    """Each individual a direction, each encounter a perturbation of it, chips near that."""
    rng = np.random.default_rng(seed)
    rows, owners, keys = [], [], []
    for i in range(individuals):
        centre = rng.normal(size=DIM)
        for e in range(encounters):
            visit = centre + rng.normal(scale=0.6, size=DIM)
            for _ in range(chips):
                v = visit + rng.normal(scale=0.1, size=DIM)
                rows.append(v / np.linalg.norm(v))
                owners.append(f"bear-{i:04d}")
                keys.append(f"e{i}-{e}")
    return np.asarray(rows, np.float32), owners, keys


def naive_scores(
    emb: np.ndarray, owners: list[str], keys: list[str], score: str
) -> tuple[list[float], list[bool], list[float]]:
    """Leave-one-encounter-out and leave-one-individual-out, one query at a time."""
    genuine, correct, strangers = [], [], []
    for key in sorted(set(keys)):
        idx = [i for i, k in enumerate(keys) if k == key]
        who = owners[idx[0]]
        mean = emb[idx].sum(axis=0)
        mean /= np.linalg.norm(mean)

        def ranked(exclude: set[int], q: np.ndarray = mean) -> tuple[list[str], list[float]]:
            best: dict[str, float] = {}
            for j, (o, v) in enumerate(zip(owners, emb, strict=True)):
                if j not in exclude:
                    best[o] = max(best.get(o, -9.0), float(q @ v))
            order = sorted(best, key=lambda o: -best[o])
            return order, [best[o] for o in order]

        own = {i for i, o in enumerate(owners) if o == who}
        _, sims = ranked(own)
        strangers.append(float(open_set_score(score, np.array([sims[:4]]))[0]))
        if len({keys[i] for i in own}) >= 2:
            names, sims = ranked(set(idx))
            genuine.append(float(open_set_score(score, np.array([sims[:4]]))[0]))
            correct.append(names[0] == who)
    return genuine, correct, strangers


def naive_thresholds(
    genuine: list[float], correct: list[bool], strangers: list[float], target: float
) -> tuple[float, float]:
    """The documented rule, by brute force over every candidate threshold."""
    g = np.array(genuine)
    unknown = max(t for t in np.unique(g) if np.mean(g < t) <= target)
    scores = np.concatenate([g, strangers])
    wrong = np.concatenate([~np.array(correct), np.ones(len(strangers), bool)])
    ok = [t for t in np.unique(scores) if wrong[scores >= t].mean() <= target]
    known = min(ok) if ok else np.inf
    return max(known, unknown), unknown


@pytest.mark.parametrize("score", ["best", "margin3"])
def test_leave_out_scores_match_a_naive_loop(score: str) -> None:
    emb, owners, keys = constructed_gallery()
    genuine, correct, strangers, eligible = leave_out_scores(emb, owners, keys, score)
    g, c, s = naive_scores(emb, owners, keys, score)
    assert eligible == 12
    assert sorted(genuine) == pytest.approx(sorted(g), abs=1e-5)
    assert sorted(strangers) == pytest.approx(sorted(s), abs=1e-5)
    assert int(correct.sum()) == sum(c)


def test_gallery_calibration_picks_the_documented_thresholds() -> None:
    emb, owners, keys = constructed_gallery(individuals=14, encounters=4)
    result = calibrate_references(emb, owners, keys, "margin3")
    assert result.calibration is not None
    g, c, s = naive_scores(emb, owners, keys, "margin3")
    known, unknown = naive_thresholds(g, c, s, 0.05)
    assert result.calibration.unknown == pytest.approx(unknown, abs=1e-5)
    assert result.calibration.known == pytest.approx(known, abs=1e-5)
    assert (result.individuals, result.encounters) == (14, 56)


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
