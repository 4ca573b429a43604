"""systemd/bearagent.service: `systemd-analyze verify` accepts it and its security exposure
stays "OK" or better; and the sandbox's MemoryDenyWriteExecute= really lets the agent run.

systemd is not PID 1 in CI's container, so the unit is analysed offline inside a staged
root: the unit in DIR/etc/systemd/system, the host's targets and slices beside it, and a
stand-in for /opt/bearagent/venv/bin/bearagent (verify checks that ExecStart= exists).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
UNIT = REPO / "systemd" / "bearagent.service"
REVIEW_UNIT = REPO / "systemd" / "bearagent-review.service"
EXEC_START = "/opt/bearagent/venv/bin/bearagent"
GOOD_LEVELS = ("PERFECT", "SAFE", "OK")
_HOST_UNITS = (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system"))
_OVERALL = re.compile(r"Overall exposure level for \S+: ([0-9.]+) ([A-Z]+)")


def systemd_analyze() -> str:
    """The systemd-analyze binary: a skip on a developer machine without it, a failure in CI."""
    found = shutil.which("systemd-analyze")
    if found is None:
        message = "systemd-analyze not found (tools/setup.sh installs Debian's 'systemd')"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def stage_systemd(root: Path, *, executable: bool = True) -> None:
    """Make `root` analysable offline: the host's targets and slices, and ExecStart's binary."""
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


def stage_unit(
    root: Path, text: str | None = None, *, executable: bool = True, unit: Path = UNIT
) -> None:
    """Put the unit (or `text` in its place) into a staged root."""
    target = root / "etc/systemd/system" / unit.name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(unit.read_text() if text is None else text)
    stage_systemd(root, executable=executable)


def analyze(
    root: Path, *args: str, unit: str = "bearagent.service"
) -> subprocess.CompletedProcess[str]:
    """Run systemd-analyze on `unit` (with its drop-ins) below `root`."""
    return subprocess.run(
        [systemd_analyze(), *args, "--no-pager", f"--root={root}", unit],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SYSTEMD_COLORS": "0", "SYSTEMD_LOG_COLOR": "0"},
        check=False,
    )


def verify_problems(root: Path, unit: str = "bearagent.service") -> str:
    """Everything `systemd-analyze verify` complains about ('' when the unit is clean)."""
    result = analyze(root, "verify", "--man=no", unit=unit)
    return (result.stderr + result.stdout).strip() + ("" if result.returncode == 0 else " (rc)")


def exposure(root: Path, unit: str = "bearagent.service") -> tuple[float, str]:
    """The overall exposure score and level of `systemd-analyze security --offline=yes`."""
    result = analyze(root, "security", "--offline=yes", unit=unit)
    found = _OVERALL.search(result.stdout)
    assert found, f"no overall exposure in: {result.stdout[-500:]} {result.stderr}"
    return float(found.group(1)), found.group(2)


def directives(text: str) -> dict[str, list[str]]:
    """Each key of a unit file and its values in order (keys may repeat)."""
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def test_unit_verifies_without_a_complaint(tmp_path: Path) -> None:
    stage_unit(tmp_path)
    assert verify_problems(tmp_path) == ""


def test_verify_catches_a_typo_and_a_missing_binary(tmp_path: Path) -> None:
    """The check above can fail: a misspelt key, and ExecStart= pointing at nothing."""
    typo = UNIT.read_text().replace("ProtectSystem=strict", "ProtectSytem=strict")
    stage_unit(tmp_path / "typo", typo)
    assert "Unknown key 'ProtectSytem'" in verify_problems(tmp_path / "typo")
    stage_unit(tmp_path / "nobinary", executable=False)
    assert "is not executable" in verify_problems(tmp_path / "nobinary")


def test_security_exposure_is_ok_or_better(tmp_path: Path) -> None:
    stage_unit(tmp_path)
    score, level = exposure(tmp_path)
    print(f"systemd-analyze security: {score} {level}")
    assert level in GOOD_LEVELS, f"exposure {score} {level}: the sandbox got weaker"
    assert score < 2.0


def test_security_score_notices_a_weaker_sandbox(tmp_path: Path) -> None:
    """Without its sandboxing lines the same unit rates far worse: the score measures them."""
    lines = UNIT.read_text().splitlines()
    sandbox_start = lines.index("NoNewPrivileges=yes")
    stage_unit(tmp_path, "\n".join([*lines[:sandbox_start], "[Install]"]) + "\n")
    score, level = exposure(tmp_path)
    assert level not in GOOD_LEVELS and score > 5.0


def test_unit_keeps_the_contract_with_the_agent_and_installer() -> None:
    unit = directives(UNIT.read_text())
    assert unit["Type"] == ["notify"]
    assert unit["ExecStart"] == [f"{EXEC_START} run --config /etc/bearagent/config.toml"]
    assert unit["User"] == ["bearagent"] and unit["Group"] == ["bearagent"]
    assert unit["StateDirectory"] == ["bearagent"]
    assert unit["ConfigurationDirectory"] == ["bearagent"]
    assert unit["LoadCredential"] == ["mqtt-password:/etc/bearagent/mqtt-password"]
    assert unit["Restart"] == ["on-failure"]
    assert "StartLimitIntervalSec" in unit and "StartLimitBurst" in unit
    assert unit["UMask"] == ["0027"]
    # The agent pings at half the period; a period under 10 s would make a slow batch fatal.
    watchdog_s = int(unit["WatchdogSec"][0].removesuffix("s"))
    assert watchdog_s >= 10


# Runs in a child: turn on PR_SET_MDWE (what MemoryDenyWriteExecute=yes enforces), prove it
# is on, then do what the agent does natively: ONNX Runtime inference, OpenCV, ctypes.
_MDWE_PROBE = """
import ctypes, mmap, pathlib, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(65, 1, 0, 0, 0) != 0:  # PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN
    print("UNSUPPORTED"); sys.exit(0)
try:
    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    print("NOT ENFORCED"); sys.exit(1)
except OSError:
    pass
import numpy as np, cv2, onnxruntime as ort
sys.path.insert(0, sys.argv[2])
from support.models import write_tiny_embedder
model = write_tiny_embedder(pathlib.Path(sys.argv[1]))
session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
out = session.run(None, {"input": np.ones((2, 3, 64, 96), np.float32)})[0]
cv2.resize(np.zeros((64, 64, 3), np.uint8), (32, 32))
callback = ctypes.CFUNCTYPE(ctypes.c_int)(lambda: 7)
print("OK", out.shape, callback())
"""


def test_agent_libraries_run_with_memory_deny_write_execute(tmp_path: Path) -> None:
    assert directives(UNIT.read_text())["MemoryDenyWriteExecute"] == ["yes"]
    result = subprocess.run(
        [sys.executable, "-c", _MDWE_PROBE, str(tmp_path / "tiny.onnx"), str(REPO / "tests")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.stdout.startswith("UNSUPPORTED"):
        pytest.skip("this kernel has no PR_SET_MDWE (Linux 6.3 or newer)")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "OK (2, 8) 7"


# --- the review page's unit (bearagent-review.service) -------------------------------------


def test_review_unit_verifies_and_scores_ok(tmp_path: Path) -> None:
    stage_unit(tmp_path, unit=REVIEW_UNIT)
    assert verify_problems(tmp_path, REVIEW_UNIT.name) == ""
    score, level = exposure(tmp_path, REVIEW_UNIT.name)
    print(f"systemd-analyze security bearagent-review: {score} {level}")
    assert level in GOOD_LEVELS and score < 2.0


def test_review_unit_is_sandboxed_like_the_agent() -> None:
    """Every sandboxing line of bearagent.service, with the same values."""
    agent, review = directives(UNIT.read_text()), directives(REVIEW_UNIT.read_text())
    lines = UNIT.read_text().splitlines()
    sandbox = directives("\n".join(lines[lines.index("NoNewPrivileges=yes") :]))
    sandbox.pop("WantedBy")
    for key, values in sandbox.items():
        assert review.get(key) == values, key
    assert review["ExecStart"] == [f"{EXEC_START} review --config /etc/bearagent/config.toml"]
    assert review["LoadCredential"] == ["review-password:/etc/bearagent/review-password"]
    assert review["User"] == agent["User"] and review["StateDirectory"] == ["bearagent"]
    assert review["Restart"] == ["on-failure"]


# Runs in a child under PR_SET_MDWE, as MemoryDenyWriteExecute=yes runs the review page: the
# password hash, a page rendered, a request through the whole application.
_REVIEW_MDWE_PROBE = """
import ctypes, mmap, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(65, 1, 0, 0, 0) != 0:
    print("UNSUPPORTED"); sys.exit(0)
from argon2 import PasswordHasher
hasher = PasswordHasher()
assert hasher.verify(hasher.hash("a long secret"), "a long secret")
import jinja2
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route
from starlette.testclient import TestClient
page = jinja2.Environment(autoescape=True).from_string("<p>{{ x }}</p>")
app = Starlette(routes=[Route("/", lambda r: HTMLResponse(page.render(x="<ok>")))])
print("OK", TestClient(app).get("/").text)
"""


def test_review_libraries_run_with_memory_deny_write_execute() -> None:
    assert directives(REVIEW_UNIT.read_text())["MemoryDenyWriteExecute"] == ["yes"]
    result = subprocess.run(
        [sys.executable, "-c", _REVIEW_MDWE_PROBE],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.stdout.startswith("UNSUPPORTED"):
        pytest.skip("this kernel has no PR_SET_MDWE (Linux 6.3 or newer)")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "OK <p>&lt;ok&gt;</p>"
