"""Split properties (hypothesis): no burst or (disjoint) individual crosses a boundary."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from beartrain.data.records import ChipRow
from beartrain.data.splitfile import SUBSETS, Split, read_split, write_split
from beartrain.splits import (
    SplitConfig,
    SplitConfigError,
    SplitImpossible,
    SplitInputError,
    make_split,
)

ROOT = Path("/data/chips")
T0 = datetime(2026, 5, 1, 5, 0, tzinfo=UTC)


def make_rows(layout: list[list[int]]) -> list[ChipRow]:
    """Rows for individuals given as lists of encounter sizes."""
    rows = []
    for i, sizes in enumerate(layout):
        for e, size in enumerate(sizes):
            for c in range(size):
                rows.append(
                    ChipRow(
                        path=f"bear-{i:02d}/e{e}-{c}.jpg",
                        individual=f"bear-{i:02d}",
                        camera=f"cam{e % 3}",
                        captured_at=T0 + timedelta(days=e, seconds=c) if c % 4 else None,
                        encounter=f"bear-{i:02d}/e{e}",
                    )
                )
    return rows


def layouts(min_individuals: int, min_encounters: int) -> st.SearchStrategy[list[list[int]]]:
    individual = st.lists(st.integers(1, 4), min_size=min_encounters, max_size=5)
    return st.lists(individual, min_size=min_individuals, max_size=9)


shares = st.floats(0.0, 0.3, allow_nan=False)
seeds = st.integers(0, 2**32 - 1)


def subset_of(split: Split) -> dict[str, str]:
    """Path -> subset; fails when a chip sits in two subsets."""
    out: dict[str, str] = {}
    for name in SUBSETS:
        for row in split.subset(name):
            assert row.path not in out, f"{row.path} is in {out[row.path]} and {name}"
            out[row.path] = name
    return out


def check_common(rows: list[ChipRow], split: Split) -> None:
    where = subset_of(split)
    assert set(where) == {r.path for r in rows}  # every chip exactly once
    sides: defaultdict[str, set[str]] = defaultdict(set)
    for row in rows:
        sides[row.encounter].add(where[row.path])
    assert all(len(s) == 1 for s in sides.values()), "an encounter crosses a boundary"
    train = {r.individual for r in split.train}
    for name in SUBSETS:
        for row in split.subset(name):
            assert row.known == (row.individual in train)


@settings(max_examples=60, deadline=None)
@given(layout=layouts(3, 3), seed=seeds, val=shares, test=shares, holdout=shares)
def test_open_split_properties(
    layout: list[list[int]], seed: int, val: float, test: float, holdout: float
) -> None:
    assume(holdout == 0 or val + test > 0)  # held-out bears need val or test (a config error)
    rows = make_rows(layout)
    cfg = SplitConfig("open", seed, val, test, holdout)
    split = make_split(rows, cfg, ROOT)
    check_common(rows, split)
    held_out = set(split.summary["held_out"])
    everyone = {r.individual for r in rows}
    train = {r.individual for r in split.train}
    assert train == everyone - held_out  # known ones always keep an encounter in train
    assert held_out.isdisjoint(train)
    if holdout > 0:
        assert held_out, "a positive holdout share holds somebody out"
        val_out = {r.individual for r in split.val if not r.known}
        test_out = {r.individual for r in split.test if not r.known}
        assert val_out | test_out == held_out and not val_out & test_out
        assert bool(val_out) == (val > 0) and bool(test_out) == (test > 0)
    assert make_split(list(reversed(rows)), cfg, ROOT) == split  # deterministic, order-free


@settings(max_examples=60, deadline=None)
@given(layout=layouts(5, 1), seed=seeds, val=shares, test=shares)
def test_disjoint_split_properties(
    layout: list[list[int]], seed: int, val: float, test: float
) -> None:
    rows = make_rows(layout)
    cfg = SplitConfig("disjoint", seed, val, test)
    split = make_split(rows, cfg, ROOT)
    check_common(rows, split)
    people = {name: {r.individual for r in split.subset(name)} for name in SUBSETS}
    assert not people["train"] & people["val"]
    assert not people["train"] & people["test"]
    assert not people["val"] & people["test"]
    assert people["train"] and bool(people["val"]) == (val > 0)
    assert bool(people["test"]) == (test > 0)
    assert make_split(rows, cfg, ROOT) == split


def test_other_seeds_give_other_splits() -> None:
    rows = make_rows([[2, 3, 1, 2]] * 8)
    splits = {
        tuple(r.path for r in make_split(rows, SplitConfig("open", seed), ROOT).train)
        for seed in range(5)
    }
    assert len(splits) > 1


def test_open_split_hits_the_shares_and_summarises() -> None:
    rows = make_rows([[2, 3, 2, 1, 2, 3, 2, 2]] * 20)
    split = make_split(rows, SplitConfig("open", 0, 0.15, 0.15, 0.2), ROOT)
    summary = split.summary
    assert summary["config"] == {
        "kind": "open",
        "seed": 0,
        "val_share": 0.15,
        "test_share": 0.15,
        "holdout_share": 0.2,
    }
    assert len(summary["held_out"]) == 4
    assert summary["totals"] == {"chips": len(rows), "encounters": 160, "individuals": 20}
    known_total = sum(summary["subsets"][n]["known_chips"] for n in SUBSETS)
    for name, share in (("val", 0.15), ("test", 0.15)):
        counts = summary["subsets"][name]
        assert abs(counts["known_chips"] / known_total - share) < 0.03
        assert counts["unknown_individuals"] == 2
        assert counts["chips"] == counts["known_chips"] + counts["unknown_chips"]
    assert summary["subsets"]["train"]["unknown_chips"] == 0


def test_split_folder_round_trips(tmp_path: Path) -> None:
    rows = make_rows([[2, 3, 1]] * 6)
    split = make_split(rows, SplitConfig("open", 3), ROOT)
    write_split(split, tmp_path / "split")
    assert read_split(tmp_path / "split") == split


def test_impossible_requests_name_the_numbers_and_the_fix() -> None:
    with pytest.raises(SplitImpossible) as few:
        make_split(make_rows([[1, 1, 1]] * 2), SplitConfig("open"), ROOT)
    assert str(few.value) == (
        "an open split with holdout share 0.2 holds out 2 individuals but the data has 2: it "
        "needs at least 3 (one to train on); add individuals or lower --holdout-share"
    )
    with pytest.raises(SplitImpossible) as single:
        make_split(make_rows([[3]] * 10), SplitConfig("open"), ROOT)
    assert str(single.value) == (
        "an open split needs at least 2 encounters of known individuals beyond the one each "
        "keeps in train, to give val and test known chips; the 8 known individuals have 0: "
        "add encounters, or set --val-share/--test-share to 0"
    )
    with pytest.raises(SplitImpossible) as disjoint:
        make_split(make_rows([[2]] * 2), SplitConfig("disjoint"), ROOT)
    assert str(disjoint.value) == (
        "a disjoint split with val share 0.15 and test share 0.15 needs at least 3 individuals "
        "(val 1, test 1, train 1) but the data has 2: add individuals or lower the shares"
    )
    with pytest.raises(SplitImpossible, match=r"needs at least 2 individuals but the data has 1"):
        make_split(make_rows([[2, 2]]), SplitConfig("open", holdout_share=0), ROOT)
    # without val and test a single encounter each is enough
    split = make_split(make_rows([[1]] * 3), SplitConfig("open", 0, 0, 0, 0), ROOT)
    assert len(split.train) == 3


def test_bad_settings_and_rows_are_named() -> None:
    with pytest.raises(SplitConfigError) as caught:
        SplitConfig("open", 0, 0.6, 0.5, 1.2)
    assert str(caught.value) == (
        "invalid split: holdout_share must be at least 0 and below 1, got 1.2; val_share + "
        "test_share must stay below 1 to leave chips for train, got 0.6 + 0.5"
    )
    rows = make_rows([[2, 2]] * 4)
    with pytest.raises(SplitInputError, match=r"^chip bear-00/e0-0.jpg appears twice"):
        make_split([*rows, rows[0]], SplitConfig("open"), ROOT)
    mixed = [*rows, ChipRow("bear-01/x.jpg", "bear-01", "", None, "bear-00/e0")]
    with pytest.raises(SplitInputError) as two:
        make_split(mixed, SplitConfig("open"), ROOT)
    assert str(two.value) == (
        "encounter bear-00/e0 holds chips of 2 individuals (bear-00, bear-01): give each "
        "individual its own encounter id"
    )
