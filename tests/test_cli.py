"""The three console scripts: --help, --version, and errors as one line without a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bearagent import __version__
from bearagent.modelcard import write_model_card
from support.models import make_card, write_tiny_embedder

BIN = Path(sys.executable).parent


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / args[0]), *args[1:]], capture_output=True, text=True)


@pytest.mark.parametrize("program", ["bearagent", "bear-train", "bear-export"])
def test_help_and_version(program: str) -> None:
    help_ = run(program, "--help")
    assert help_.returncode == 0 and "Usage:" in help_.stdout
    version = run(program, "--version")
    assert version.returncode == 0
    assert version.stdout.strip() == f"{program} {__version__}"


def test_card_command_prints_the_verified_card(tmp_path: Path) -> None:
    model = write_tiny_embedder(tmp_path / "embedder.onnx")
    written = write_model_card(model, make_card())
    result = run("bearagent", "card", str(model))
    assert result.returncode == 0, result.stderr
    assert f'"sha256": "{written.model.sha256}"' in result.stdout


def test_card_command_reports_a_bad_model_in_one_line(tmp_path: Path) -> None:
    model = write_tiny_embedder(tmp_path / "embedder.onnx")
    result = run("bearagent", "card", str(model))
    assert result.returncode == 1
    assert result.stderr.startswith(f"Error: {model} has no bearid model card")
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_bad_synthetic_options_are_one_line_errors(tmp_path: Path) -> None:
    result = run("bear-train", "synth", str(tmp_path), "--frames", "5", "2")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "Error: invalid synthetic population: min_frames (5) must not exceed max_frames (2)"
    )
