"""systemd/bear-station.service: `systemd-analyze verify` accepts it, its security exposure
stays "OK" or better, it keeps its contract with the installer and the station, and the
station's libraries really run with MemoryDenyWriteExecute= (PR_SET_MDWE)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from support.station_systemd import (
    EXEC_START,
    GOOD_LEVELS,
    UNIT,
    directives,
    exposure,
    stage,
    verify_problems,
)

REPO = Path(__file__).resolve().parent.parent


def test_unit_verifies_without_a_complaint(tmp_path: Path) -> None:
    stage(tmp_path)
    assert verify_problems(tmp_path) == ""


def test_verify_catches_a_typo(tmp_path: Path) -> None:
    stage(tmp_path, UNIT.read_text().replace("ProtectSystem=strict", "ProtectSytem=strict"))
    assert "Unknown key 'ProtectSytem'" in verify_problems(tmp_path)


def test_security_exposure_is_ok_or_better_and_measures_the_sandbox(tmp_path: Path) -> None:
    stage(tmp_path / "hardened")
    score, level = exposure(tmp_path / "hardened")
    print(f"systemd-analyze security bear-station: {score} {level}")
    assert level in GOOD_LEVELS and score < 2.0
    lines = UNIT.read_text().splitlines()
    bare = [*lines[: lines.index("NoNewPrivileges=yes")], "[Install]"]
    stage(tmp_path / "bare", "\n".join(bare) + "\n")
    score, level = exposure(tmp_path / "bare")
    assert level not in GOOD_LEVELS and score > 5.0


def test_unit_keeps_the_contract_with_the_station_and_installer() -> None:
    unit = directives(UNIT.read_text())
    assert unit["Type"] == ["notify"]
    assert unit["ExecStart"] == [f"{EXEC_START} run --config /etc/bear-station/config.toml"]
    assert unit["User"] == ["bear-station"] and unit["Group"] == ["bear-station"]
    assert unit["StateDirectory"] == ["bear-station"]
    assert unit["LoadCredential"] == ["mqtt-password:/etc/bear-station/mqtt-password"]
    assert unit["Restart"] == ["on-failure"] and unit["UMask"] == ["0027"]
    assert int(unit["WatchdogSec"][0].removesuffix("s")) >= 10


# In a child: turn PR_SET_MDWE on, prove it holds, then do what the station does natively:
# SQLite through SQLAlchemy, psycopg's C extension, paho, jsonschema on a real payload.
_MDWE_PROBE = """
import ctypes, mmap, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(65, 1, 0, 0, 0) != 0:
    print("UNSUPPORTED"); sys.exit(0)
try:
    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    print("NOT ENFORCED"); sys.exit(1)
except OSError:
    pass
sys.path[:0] = [sys.argv[2], sys.argv[3]]
import psycopg, paho.mqtt.client
from support.station_payloads import T0, FakeBox
from support.station_world import fresh_engine, ingest
engine = fresh_engine("sqlite:///" + sys.argv[1])
print("OK", ingest(engine, FakeBox("den-01").encounter("cam01", T0, individual="bear-0001")))
"""


def test_station_libraries_run_with_memory_deny_write_execute(tmp_path: Path) -> None:
    assert directives(UNIT.read_text())["MemoryDenyWriteExecute"] == ["yes"]
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            _MDWE_PROBE,
            str(tmp_path / "s.db"),
            str(REPO / "tests"),
            str(REPO / "dev"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.stdout.startswith("UNSUPPORTED"):
        pytest.skip("this kernel has no PR_SET_MDWE (Linux 6.3 or newer)")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "OK ['stored', 'stored']"
