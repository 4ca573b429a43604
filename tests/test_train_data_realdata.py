"""Indexing and splitting the real cattle-faces set: frames of one clip stay one encounter."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pytest

from beartrain.data import ChipIndex, DataConfig, index_folder
from beartrain.data.splitfile import SUBSETS
from beartrain.splits import SplitConfig, make_split

pytestmark = pytest.mark.realdata

# What each naming scheme of the set says belongs together, written independently of the
# default pattern: video clip (start_end), camera recording (J29_<date>), manual shot series.
CLIP_NAMES = (
    re.compile(r"^(\d{14}_\d{14})_"),
    re.compile(r"^(J\d+_[\d.]+_\d\d_\d\d)_manual_"),
    re.compile(r"^(\d+(?:-\d+)*?)[-_]?\(\d+\)\.jpg$"),
    re.compile(r"^(\d+-\d+-\d+-\d+)-\d+\.jpg$"),
    re.compile(r"^(\d+(?:-\d+)+)\.jpg$"),  # 326-1.jpg goes with 326-1(1).jpg
)
TIMED_NAMES = re.compile(r"^(\d{14}_\d{14}_|J\d+_[\d.]+_\d\d_\d\d_manual_)")


@pytest.fixture(scope="module")
def cattle(shared_datasets: Path) -> Path:
    root = shared_datasets / "cattle-faces" / "identities"
    if not root.is_dir():
        pytest.skip(f"{root} is absent")
    return root


@pytest.fixture(scope="module")
def index(cattle: Path) -> ChipIndex:
    return index_folder(DataConfig(), cattle)


def clip_of(path: str) -> str | None:
    name = path.rsplit("/", 1)[1]
    for pattern in CLIP_NAMES:
        match = pattern.match(name)
        if match:
            return match.group(1)
    return None


def test_every_clip_is_one_encounter(index: ChipIndex) -> None:
    rows = index.rows
    assert len(rows) == 3621 and len({r.individual for r in rows}) == 82  # as its README says
    encounters_of_clip: defaultdict[tuple[str, str], set[str]] = defaultdict(set)
    loose: list[str] = []
    for row in rows:
        clip = clip_of(row.path)
        if clip is None:
            loose.append(row.encounter)
        else:
            encounters_of_clip[(row.individual, clip)].add(row.encounter)
    assert all(len(e) == 1 for e in encounters_of_clip.values())
    # numbered photos (001.jpg) carry nothing to tell them apart: one series per cow
    numbered: defaultdict[str, set[str]] = defaultdict(set)
    for row in rows:
        if clip_of(row.path) is None:
            numbered[row.individual].add(row.encounter)
    assert numbered and all(len(e) == 1 for e in numbered.values())
    n_encounters = len({r.encounter for r in rows})
    # consecutive clips of a cow may chain into one burst, never the other way round
    assert n_encounters <= len(encounters_of_clip) + len(numbered) < len(rows)


def test_cli_default_split_keeps_every_shot_series_on_one_side(
    cattle: Path, tmp_path: Path
) -> None:
    """The CLI's default split: every clip, shot series and numbered series on one side."""
    from click.testing import CliRunner

    from beartrain.cli import main
    from beartrain.data.splitfile import read_split

    out = tmp_path / "split"
    args = ["split", str(cattle), "--kind", "open", "--seed", "0", "--out", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    split = read_split(out)
    sides: defaultdict[tuple[str, str], set[str]] = defaultdict(set)
    for name in SUBSETS:
        for row in split.subset(name):
            series = clip_of(row.path) or "numbered"
            sides[(row.individual, series)].add(name)
    assert len(sides) > 600 and all(len(s) == 1 for s in sides.values())


def test_dating_sources_match_the_names(index: ChipIndex, cattle: Path) -> None:
    timed = {c.path for c in index.chips if TIMED_NAMES.match(c.path.rsplit("/", 1)[1])}
    by_source: defaultdict[str, set[str]] = defaultdict(set)
    for chip in index.chips:
        by_source[chip.source].add(chip.path)
    assert by_source["filename"] == timed
    assert by_source["mtime"] == {c.path for c in index.chips} - timed
    undated = index_folder(DataConfig(use_mtime=False), cattle)
    assert {c.path for c in undated.chips if c.captured_at is None} == by_source["mtime"]


def test_open_split_never_puts_a_clip_on_two_sides(index: ChipIndex) -> None:
    split = make_split(index.rows, SplitConfig("open", seed=0), Path("cattle"))
    sides: defaultdict[tuple[str, str], set[str]] = defaultdict(set)
    for name in SUBSETS:
        for row in split.subset(name):
            clip = clip_of(row.path)
            if clip is not None:
                sides[(row.individual, clip)].add(name)
    assert sides and all(len(s) == 1 for s in sides.values())
    assert len(split.summary["held_out"]) == round(0.2 * 82)
