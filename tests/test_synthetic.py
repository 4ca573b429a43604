"""The synthetic population: deterministic, laid out like real chips, bursty, learnable."""

from __future__ import annotations

import csv
import hashlib
import re
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from bearagent.chips import read_capture_time
from beartrain.synthetic import ChipRecord, SyntheticConfig, iter_population, write_population

SMALL = SyntheticConfig(individuals=4, min_encounters=2, max_encounters=3, size=64)
NAME = re.compile(r"^(?P<camera>cam\d\d)_(?P<time>\d{8}-\d{6})_\d{5}\.jpg$")


def tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(root)).encode() + path.read_bytes())
    return digest.hexdigest()


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    write_population(tmp_path / "a", SMALL)
    write_population(tmp_path / "b", SMALL)
    write_population(tmp_path / "c", SyntheticConfig(**{**SMALL.__dict__, "seed": 1}))
    assert tree_digest(tmp_path / "a") == tree_digest(tmp_path / "b")
    assert tree_digest(tmp_path / "a") != tree_digest(tmp_path / "c")


def test_adding_individuals_leaves_existing_ones_unchanged() -> None:
    def chips_of(cfg: SyntheticConfig, who: str) -> list[bytes]:
        return [chip.tobytes() for r, chip in iter_population(cfg) if r.individual == who]

    bigger = SyntheticConfig(**{**SMALL.__dict__, "individuals": 6})
    assert chips_of(SMALL, "Holly") == chips_of(bigger, "Holly")


def test_layout_metadata_and_capture_times_agree(tmp_path: Path) -> None:
    records = write_population(tmp_path, SMALL)
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.jpg"))
    assert files == sorted(r.path for r in records)
    assert {p.split("/")[0] for p in files} == {"Otis", "Holly", "Grazer", "Walker"}
    with (tmp_path / "metadata.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["path"] for r in rows] == [r.path for r in records]
    for row, record in zip(rows, records, strict=True):
        assert row["individual"] == record.individual == record.path.split("/")[0]
        when = datetime.fromisoformat(row["captured_at"])
        name = NAME.match(Path(record.path).name)
        assert name is not None, record.path
        assert name["camera"] == row["camera"]
        assert datetime.strptime(name["time"], "%Y%m%d-%H%M%S") == when.replace(tzinfo=None)
        assert read_capture_time((tmp_path / record.path).read_bytes()) == when
        image = cv2.imread(str(tmp_path / record.path))
        assert image is not None and image.shape == (64, 64, 3)


def test_encounters_are_bursts_of_one_camera() -> None:
    cfg = SyntheticConfig(individuals=6, min_frames=2, max_frames=5)
    by_encounter: dict[str, list[ChipRecord]] = {}
    for record, _ in iter_population(cfg):
        by_encounter.setdefault(record.encounter, []).append(record)
    per_individual: dict[str, int] = {}
    for frames in by_encounter.values():
        assert 2 <= len(frames) <= 5
        assert len({f.camera for f in frames}) == 1 and len({f.individual for f in frames}) == 1
        times = [f.captured_at for f in frames]
        assert times == sorted(times) and times[-1] - times[0] <= timedelta(seconds=10)
        per_individual[frames[0].individual] = per_individual.get(frames[0].individual, 0) + 1
    assert all(cfg.min_encounters <= n <= cfg.max_encounters for n in per_individual.values())


def test_frames_of_a_burst_are_near_identical_but_not_equal() -> None:
    chips = [(r, c.astype(np.float32)) for r, c in iter_population(SMALL)]
    first = chips[0][0].encounter
    burst = [c for r, c in chips if r.encounter == first]
    other = [c for r, c in chips if r.encounter != first]
    within = np.abs(burst[0] - burst[1]).mean()
    assert 0 < within < np.mean([np.abs(burst[0] - o).mean() for o in other])


def pixel_features(cfg: SyntheticConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """16x16 pixels, standardised per chip: a deliberately simple space."""
    feats, individuals, encounters = [], [], []
    for record, chip in iter_population(cfg):
        small = cv2.resize(chip, (16, 16), interpolation=cv2.INTER_AREA).astype(np.float32).ravel()
        feats.append((small - small.mean()) / (small.std() + 1e-6))
        individuals.append(record.individual)
        encounters.append(record.encounter)
    return np.array(feats), np.array(individuals), np.array(encounters)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_encounters_of_one_individual_are_closer_than_two_individuals(seed: int) -> None:
    feats, ind, enc = pixel_features(SyntheticConfig(individuals=10, seed=seed))
    dist = np.linalg.norm(feats[:, None] - feats[None], axis=2)
    same_individual_other_encounter = (ind[:, None] == ind[None]) & (enc[:, None] != enc[None])
    other_individual = ind[:, None] != ind[None]
    assert dist[same_individual_other_encounter].mean() < dist[other_individual].mean()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_tiny_linear_model_recognises_unseen_encounters(seed: int) -> None:
    """Ridge regression on 16x16 pixels, tested on each individual's last encounter."""
    cfg = SyntheticConfig(individuals=10, seed=seed, min_encounters=4, max_encounters=6)
    feats, ind, enc = pixel_features(cfg)
    test = np.zeros(len(ind), bool)
    for who in set(ind):
        test |= enc == max(enc[ind == who])
    classes = sorted(set(ind))
    targets = np.eye(len(classes))[[classes.index(i) for i in ind]]
    x = np.hstack([feats, np.ones((len(feats), 1))])
    weights = np.linalg.solve(
        x[~test].T @ x[~test] + 10 * np.eye(x.shape[1]), x[~test].T @ targets[~test]
    )
    accuracy = ((x[test] @ weights).argmax(1) == targets[test].argmax(1)).mean()
    assert accuracy > 4 / len(classes)  # chance is 1 / 10


def test_config_errors_are_clear() -> None:
    with pytest.raises(ValueError, match=r"min_frames .* must not exceed max_frames"):
        SyntheticConfig(min_frames=5, max_frames=2)


def test_cli_writes_a_population(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "bear-train"), "synth", str(tmp_path / "pop"),
         "--individuals", "3", "--encounters", "2", "2", "--frames", "2", "2", "--size", "48"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert result.stdout.strip() == (
        f"wrote 12 chips of 3 individuals in 6 encounters to {tmp_path / 'pop'}"
    )
    assert len(list((tmp_path / "pop").rglob("*.jpg"))) == 12


def test_individual_names_are_readable_and_never_id_like() -> None:
    from beartrain.synthetic import individual_name

    assert [individual_name(i) for i in (0, 1, 39, 40, 81)] == [
        "Otis",
        "Holly",
        "Sorrel",
        "Otis1",
        "Holly2",
    ]
    assert len({individual_name(i) for i in range(200)}) == 200
