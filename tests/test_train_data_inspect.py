"""``bear-train inspect`` and ``bear-train split``: the report, the plot, the split folder."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from beartrain.data import DataConfig
from beartrain.data.inspect import format_report, inspect_folder
from beartrain.data.splitfile import SUBSETS, read_split
from beartrain.synthetic import ChipRecord, SyntheticConfig, write_population

BEAR_TRAIN = Path(sys.executable).parent / "bear-train"
SMALL = SyntheticConfig(individuals=6, min_encounters=3, max_encounters=4, size=32, cameras=2)


@pytest.fixture(scope="module")
def population(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[ChipRecord]]:
    root = tmp_path_factory.mktemp("pop") / "bears"
    return root, write_population(root, SMALL)


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BEAR_TRAIN), *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


def test_report_counts_what_the_generator_wrote(
    population: tuple[Path, list[ChipRecord]],
) -> None:
    root, records = population
    report = inspect_folder(DataConfig(), root)
    per_chips = Counter(r.individual for r in records)
    per_encounters = Counter(i for i, _ in {(r.individual, r.encounter) for r in records})
    assert [(i.name, i.chips, i.encounters) for i in report.individuals] == [
        (name, per_chips[name], per_encounters[name]) for name in sorted(per_chips)
    ]
    assert (report.chips, report.encounters) == (len(records), len({r.encounter for r in records}))
    assert report.encounter_sizes == dict(
        sorted(Counter(Counter(r.encounter for r in records).values()).items())
    )
    assert report.cameras == sorted({r.camera for r in records})
    assert report.sources == {
        "metadata": 0,
        "exif": len(records),
        "filename": 0,
        "mtime": 0,
        "none": 0,
    }
    assert report.skipped == ["metadata.csv"]
    assert sum(n for _, n in report.bucketed_sizes()) == report.encounters


def test_report_lists_what_could_not_be_dated(tmp_path: Path) -> None:
    for name in ("a/001.jpg", "a/002.jpg", "b/003.jpg"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        Image.new("RGB", (8, 8)).save(tmp_path / name)
    report = inspect_folder(DataConfig(use_mtime=False), tmp_path)
    assert report.undated == ["a/001.jpg", "a/002.jpg", "b/003.jpg"]
    text = format_report(report, limit=2)
    assert "could not be dated: 3\n  a/001.jpg\n  a/002.jpg\n  ... and 1 more" in text
    assert inspect_folder(DataConfig(), tmp_path).mtime_only == report.undated


def test_inspect_command_prints_counts_and_saves_the_plot(
    population: tuple[Path, list[ChipRecord]], tmp_path: Path
) -> None:
    root, records = population
    result = run("inspect", str(root), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    n_encounters = len({r.encounter for r in records})
    assert f"{len(records)} chips of 6 individuals in {n_encounters} encounters" in result.stdout
    assert "capture time from: metadata 0, exif" in result.stdout
    plot = tmp_path / "inspect-bears.png"
    assert result.stdout.strip().endswith(f"plot: {Path('inspect-bears.png')}")
    with Image.open(plot) as image:
        assert image.format == "PNG" and image.width >= 600
    elsewhere = run("inspect", str(root), "--out", str(tmp_path / "plots"))
    assert elsewhere.returncode == 0 and (tmp_path / "plots" / "inspect-bears.png").is_file()


def test_inspect_command_reports_an_empty_folder_in_one_line(tmp_path: Path) -> None:
    result = run("inspect", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"Error: no chips in {tmp_path}: expected <root>/<individual>/<image> with an extension "
        "among .jpg, .jpeg, .png, .webp, .bmp, or a metadata table (--metadata) that lists them"
    )


@pytest.mark.parametrize("kind", ["open", "disjoint"])
def test_split_command_writes_a_split_folder(
    population: tuple[Path, list[ChipRecord]], tmp_path: Path, kind: str
) -> None:
    root, records = population
    out = tmp_path / kind
    result = run("split", str(root), "--kind", kind, "--seed", "4", "--out", str(out))
    assert result.returncode == 0, result.stderr
    split = read_split(out)
    assert (split.kind, split.seed, split.root) == (kind, 4, root.resolve())
    truth = {r.path: r.encounter for r in records}
    side: dict[str, set[str]] = {}
    for name in SUBSETS:
        for row in split.subset(name):
            side.setdefault(truth[row.path], set()).add(name)
    assert sorted(truth) == sorted(p for n in SUBSETS for p in (r.path for r in split.subset(n)))
    assert all(len(s) == 1 for s in side.values()), "a generated burst crosses a boundary"
    meta = json.loads((out / "split.json").read_text())
    assert meta["summary"]["totals"]["chips"] == len(records)
    assert meta["summary"]["data"]["time_sources"] == {"exif": len(records)}
    assert f"wrote {out}" in result.stdout
    again = tmp_path / f"{kind}-again"
    run("split", str(root), "--kind", kind, "--seed", "4", "--out", str(again))
    assert all(
        (out / f).read_bytes() == (again / f).read_bytes()
        for f in ("train.csv", "val.csv", "test.csv")
    )


def test_split_command_errors_are_one_line(
    population: tuple[Path, list[ChipRecord]], tmp_path: Path
) -> None:
    root, _ = population
    base = ("split", str(root), "--seed", "0", "--out", str(tmp_path / "s"))
    too_many = run(*base, "--kind", "open", "--holdout-share", "0.99")
    assert too_many.returncode == 1
    assert too_many.stderr.strip() == (
        "Error: an open split with holdout share 0.99 holds out 6 individuals but the data has "
        "6: it needs at least 7 (one to train on); add individuals or lower --holdout-share"
    )
    shares = run(*base, "--kind", "disjoint", "--val-share", "0.5", "--test-share", "0.5")
    assert shares.returncode == 1
    assert shares.stderr.strip() == (
        "Error: invalid split: val_share + test_share must stay below 1 to leave chips for "
        "train, got 0.5 + 0.5"
    )
    holdout = run(*base, "--kind", "disjoint", "--holdout-share", "0.1")
    assert holdout.returncode == 2
    assert "--holdout-share applies to open splits only" in holdout.stderr
