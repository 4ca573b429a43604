"""Analysing systemd/bear-station.service offline in a staged root (as the agent's unit
tests do): the host's targets and slices beside it, and a stand-in for ExecStart's binary."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
UNIT = REPO / "systemd" / "bear-station.service"
EXEC_START = "/opt/bear-station/venv/bin/bear-station"
GOOD_LEVELS = ("PERFECT", "SAFE", "OK")
_HOST_UNITS = (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system"))
_OVERALL = re.compile(r"Overall exposure level for \S+: ([0-9.]+) ([A-Z]+)")


def systemd_analyze() -> str:
    """systemd-analyze: a skip on a developer machine without it, a failure in CI."""
    found = shutil.which("systemd-analyze")
    if found is None:
        message = "systemd-analyze not found (tools/setup.sh installs Debian's 'systemd')"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def stage(root: Path, text: str | None = None, *, executable: bool = True) -> None:
    """The unit (or `text`) in DIR/etc/systemd/system, with what verify needs around it."""
    target = root / "etc/systemd/system/bear-station.service"
    target.parent.mkdir(parents=True, exist_ok=True)
    if text is not None or not target.exists():
        target.write_text(UNIT.read_text() if text is None else text)
    units = root / "usr/lib/systemd/system"
    units.mkdir(parents=True, exist_ok=True)
    host = next((d for d in _HOST_UNITS if (d / "multi-user.target").exists()), None)
    if host is None:
        pytest.skip("the host has no systemd targets to analyse against")
    for pattern in ("*.target", "*.slice"):
        for unit in host.glob(pattern):
            if unit.is_file():
                shutil.copyfile(unit, units / unit.name)
    binary = root / EXEC_START.lstrip("/")
    if executable and not binary.exists():
        binary.parent.mkdir(parents=True, exist_ok=True)
        binary.write_text("#!/bin/sh\nexit 0\n")
        binary.chmod(0o755)


def analyze(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """systemd-analyze `args` on bear-station.service below `root`."""
    return subprocess.run(
        [systemd_analyze(), *args, "--no-pager", f"--root={root}", "bear-station.service"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SYSTEMD_COLORS": "0", "SYSTEMD_LOG_COLOR": "0"},
        check=False,
    )


def verify_problems(root: Path) -> str:
    """What `systemd-analyze verify` complains about ('' for a clean unit)."""
    result = analyze(root, "verify", "--man=no")
    return (result.stderr + result.stdout).strip() + ("" if result.returncode == 0 else " (rc)")


def exposure(root: Path) -> tuple[float, str]:
    """The overall score and level of `systemd-analyze security --offline=yes`."""
    result = analyze(root, "security", "--offline=yes")
    found = _OVERALL.search(result.stdout)
    assert found, f"no overall exposure in: {result.stdout[-500:]} {result.stderr}"
    return float(found.group(1)), found.group(2)


def directives(text: str) -> dict[str, list[str]]:
    """Each key of a unit file and its values in order."""
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key.strip(), []).append(value.strip())
    return found
