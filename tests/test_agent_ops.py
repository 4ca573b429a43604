"""One-off commands: ``bearagent embed``, ``identify`` and ``status``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from beartrain.synthetic import encode_jpeg
from support.agent_world import World, make_world

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return make_world(tmp_path_factory.mktemp("ops"))


def bearagent(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "bearagent"), *args], capture_output=True, text=True, timeout=120
    )


def chip_files(world: World, tmp_path: Path) -> tuple[str, list[Path], list[Path]]:
    who, chips = next(iter(world.unseen.items()))
    known = []
    for record, chip in chips[:2]:
        known.append(tmp_path / Path(record.path).name)
        known[-1].write_bytes(encode_jpeg(chip, record.captured_at))
    record, chip = world.stranger[0][0]
    stranger = tmp_path / "stranger.jpg"
    stranger.write_bytes(encode_jpeg(chip, record.captured_at))
    return who, known, [stranger]


def test_embed_prints_unit_vectors(world: World, tmp_path: Path) -> None:
    _, known, _ = chip_files(world, tmp_path)
    result = bearagent("embed", *map(str, known), "--model", str(world.model))
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["file"] for line in lines] == [str(p) for p in known]
    for line in lines:
        assert np.linalg.norm(line["embedding"]) == pytest.approx(1.0, abs=1e-4)


def test_identify_names_a_known_bear_and_not_a_stranger(world: World, tmp_path: Path) -> None:
    who, known, stranger = chip_files(world, tmp_path)
    common = ["--model", str(world.model), "--db", str(world.database)]
    result = bearagent("identify", *map(str, known + stranger), *common)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["name"] for line in lines[:2]] == [who, who]
    assert lines[2]["status"] == "unknown" and lines[2]["individual_id"] is None
    assert len(lines[0]["top_k"]) == 3


def test_identify_reports_a_bad_file_in_one_line(world: World, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"")
    result = bearagent(
        "identify", str(bad), "--model", str(world.model), "--db", str(world.database)
    )
    assert result.returncode == 1
    assert result.stderr.strip() == f"Error: {bad}: the file is empty (0 bytes)"


def test_status_reads_the_database(world: World) -> None:
    result = bearagent("status", "--db", str(world.database))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["outbox_size"] == 0 and report["sightings"] == 0
    assert report["live"] == "no status file: is the agent running?"


def test_status_without_a_database_says_so(tmp_path: Path) -> None:
    result = bearagent("status", "--db", str(tmp_path / "none.db"))
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"Error: database {tmp_path / 'none.db'} does not exist: the agent has not run with it "
        "yet (check agent.state_dir / --db)"
    )
