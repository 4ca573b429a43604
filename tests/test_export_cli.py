"""The bear-export command line: export, verify, --trt without TensorRT, torch-free paths."""

from __future__ import annotations

import importlib.util
import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bearagent.modelcard import ColourOrder, InputSpec, ResizeRule, TrackSpec
from bearexport.card import DEFAULT_THRESHOLD, ManualRule, choose_decision, choose_tracks
from bearexport.cli import main
from bearexport.errors import ChipsError, ExportOptionError, ParityFailed
from bearexport.inputs import chip_batch
from bearexport.outputs import MODEL_FILES, PARITY_FILE
from bearexport.parity import (
    REFERENCE_FILE,
    ParityReport,
    export_advice,
    read_reference,
    require,
)
from bearexport.verify import verify_model
from beartrain.synthetic import SyntheticConfig, write_population
from test_export import make_run

HAS_TENSORRT = importlib.util.find_spec("tensorrt") is not None


@pytest.fixture(scope="module")
def cli_export(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """An export made through the command line (FP32 + FP16), and its chips folder."""
    chips = tmp_path_factory.mktemp("chips")
    write_population(chips, SyntheticConfig(individuals=2, size=64, seed=2))
    run = make_run(tmp_path_factory.mktemp("run"), decision=None, tracks=None)
    out = tmp_path_factory.mktemp("export")
    args = [str(run), "--out", str(out), "--chips", str(chips), "--fp16", "--parity-chips", "8"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return out, chips


def test_export_command_prints_parity_sizes_and_card(cli_export: tuple[Path, Path]) -> None:
    out, _ = cli_export
    record = json.loads((out / PARITY_FILE).read_text())
    assert set(record["models"]) == {MODEL_FILES["fp32"], MODEL_FILES["fp16"]}
    assert record["models"]["embedder.onnx"]["export"]["passed"] is True
    card = json.loads((out / "embedder.onnx.json").read_text())
    assert card["format_version"] == 2 and card["tracks"] is None
    decision = card["decision"]
    assert (decision["score"], decision["method"]) == ("best", "manual")
    assert decision["known_threshold"] == decision["unknown_threshold"] == DEFAULT_THRESHOLD


def test_verify_passes_on_a_good_copy(cli_export: tuple[Path, Path], tmp_path: Path) -> None:
    out, chips = cli_export
    copy = shutil.copytree(out, tmp_path / "copy")
    args = ["verify", str(copy / "embedder.fp16.onnx"), "--chips", str(chips), "--chip-count",
            "6", "--batch", "1", "--batch", "4", "--seconds", "0.05", "--threads", "1",
            "--provider", "CPUExecutionProvider"]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"model {copy / 'embedder.fp16.onnx'} on onnxruntime[CPUExecutionProvider]"
    assert lines[1].startswith("parity fp16 vs export reference: 8 chips, max |diff| ")
    assert lines[1].endswith(", required >= 0.999) ok")
    assert lines[2].startswith("parity batch 1 vs whole batch: 6 chips")
    assert lines[3].startswith("throughput batch 1: ") and lines[4].startswith("throughput batch 4")


def test_verify_refuses_a_model_that_no_longer_matches(
    cli_export: tuple[Path, Path], tmp_path: Path
) -> None:
    out, _ = cli_export
    copy = shutil.copytree(out, tmp_path / "copy")
    ref = read_reference(copy / REFERENCE_FILE)
    np.savez_compressed(  # another model's embeddings: each row swapped with the next
        copy / REFERENCE_FILE,
        inputs=ref.inputs,
        embeddings=np.roll(ref.embeddings, 1, axis=0),
        names=np.asarray(ref.names),
    )
    report = verify_model(copy / "embedder.onnx", batches=(1,), seconds=0.0)
    assert not report.passed
    result = CliRunner().invoke(main, ["verify", str(copy / "embedder.onnx"), "--seconds", "0"])
    assert result.exit_code == 1
    error = result.output.splitlines()[-1]
    assert error.startswith("Error: parity check failed for fp32 vs export reference: minimum ")
    assert error.endswith(
        "This copy does not compute what was exported: copy the model, its card and "
        "parity-reference.npz again from the same bear-export output."
    )


def test_verify_without_reference_says_what_to_copy(
    cli_export: tuple[Path, Path], tmp_path: Path
) -> None:
    out, _ = cli_export
    copy = shutil.copytree(out, tmp_path / "copy")
    (copy / REFERENCE_FILE).unlink()
    result = CliRunner().invoke(main, ["verify", str(copy / "embedder.onnx")])
    assert result.exit_code == 1
    assert result.output == (
        f"Error: no parity reference {copy / REFERENCE_FILE}: verify needs the "
        f"{REFERENCE_FILE} that bear-export writes beside the model; copy it along with the "
        "model, or export again\n"
    )


def test_onnx_source_without_trt_is_refused(cli_export: tuple[Path, Path], tmp_path: Path) -> None:
    model = cli_export[0] / "embedder.onnx"
    result = CliRunner().invoke(main, [str(model), "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {model} is already an ONNX model: add --trt to build a TensorRT engine from it, "
        f"or check it with `bear-export verify {model}`\n"
    )


@pytest.mark.skipif(HAS_TENSORRT, reason="tensorrt is installed here")
def test_trt_without_tensorrt_names_the_extra_and_loads_no_torch(
    cli_export: tuple[Path, Path], tmp_path: Path
) -> None:
    """The box path (engine from ONNX, verify) must work without torch: check in a fresh process."""
    out, chips = cli_export
    script = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from bearexport.cli import main\n"
        f"r = CliRunner().invoke(main, ['--trt', {str(out / 'embedder.onnx')!r}, '--out', "
        f"{str(tmp_path / 'engine')!r}])\n"
        "print(r.exit_code, r.output, end='')\n"
        f"v = CliRunner().invoke(main, ['verify', {str(out / 'embedder.onnx')!r}, '--chips', "
        f"{str(chips)!r}, '--seconds', '0', '--batch', '2'])\n"
        "print(v.exit_code)\n"
        "print('torch' in sys.modules, 'timm' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.splitlines() == [
        "1 Error: TensorRT is not installed, so no engine can be built: pip install "
        "'bearid[trt]' (on the box whose NVIDIA GPU will run the engine)",
        "0",
        "False False",
    ]
    assert not (tmp_path / "engine").exists()


def test_parity_failure_message_is_exact() -> None:
    report = ParityReport("fp16", 32, 0.0123, 0.98765, 0.995, 0.999)
    with pytest.raises(ParityFailed) as info:
        require(report, export_advice("fp16"))
    assert str(info.value) == (
        "parity check failed for fp16: minimum cosine 0.987650 is below the required 0.999 "
        "(max |diff| 1.23e-02 over 32 chips). Nothing was written. Accept it with a lower "
        "--min-cosine-fp16 if its accuracy cost is acceptable, or export without --fp16."
    )
    assert require(ParityReport("fp32", 4, 1e-7, 0.99995, 0.99999, 0.9999), "").passed


def test_missing_rule_becomes_manual_default_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="bearexport"):
        spec = choose_decision(None, ManualRule())
        tracks = choose_tracks(None, None)
    assert (spec.score, spec.method) == ("best", "manual")
    assert spec.known_threshold == spec.unknown_threshold == DEFAULT_THRESHOLD
    assert tracks is None
    assert "no calibrated decision rule" in caplog.text
    assert "no calibrated same-individual similarity" in caplog.text


def test_manual_thresholds_replace_the_calibrated_ones() -> None:
    from test_export import DECISION, TRACKS

    one = choose_decision(DECISION, ManualRule(threshold=0.7))
    assert (one.score, one.known_threshold, one.unknown_threshold) == ("best", 0.7, 0.7)
    known = choose_decision(DECISION, ManualRule(known=0.4))
    assert (known.score, known.known_threshold, known.unknown_threshold) == ("margin3", 0.4, 0.12)
    assert known.method == "manual"
    assert choose_tracks(TRACKS, 0.8) == TrackSpec(same_individual=0.8, method="manual")
    assert choose_tracks(TRACKS, None) == TRACKS
    with pytest.raises(ExportOptionError) as e:
        choose_decision(DECISION, ManualRule(known=0.1))
    assert str(e.value) == (
        "--known-threshold (0.1) is below the unknown threshold (0.12): scores between them go "
        "to review, so known must be at least unknown"
    )
    with pytest.raises(ExportOptionError, match="give both --known-threshold and"):
        choose_decision(DECISION, ManualRule(score="best", known=0.6))
    with pytest.raises(ExportOptionError, match="--threshold sets both thresholds"):
        ManualRule(threshold=0.5, known=0.6)


def test_cli_threshold_options_reach_the_card(tmp_path: Path) -> None:
    chips = tmp_path / "chips"
    write_population(chips, SyntheticConfig(individuals=2, size=64, seed=2))
    run = make_run(tmp_path / "run")
    out = tmp_path / "export"
    args = [str(run), "--out", str(out), "--chips", str(chips), "--parity-chips", "4"]
    result = CliRunner().invoke(
        main, [*args, "--unknown-threshold", "0.05", "--same-individual", "0.66"]
    )
    assert result.exit_code == 0, result.output
    assert "decision margin3: known >= 0.310, unknown < 0.050 (manual)" in result.output
    assert "same-individual 0.660 (manual)" in result.output
    card = json.loads((out / "embedder.onnx.json").read_text())
    assert card["decision"]["unknown_threshold"] == 0.05
    assert card["tracks"]["same_individual"] == 0.66
    bad = CliRunner().invoke(main, [*args, "--known-threshold", "0.01"])
    assert bad.exit_code == 1
    assert bad.output.startswith("Error: --known-threshold (0.01) is below the unknown")


def test_chip_folder_errors(tmp_path: Path) -> None:
    spec = InputSpec(
        height=32,
        width=32,
        colour_order=ColourOrder.RGB,
        resize=ResizeRule.STRETCH,
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
    )
    with pytest.raises(ChipsError) as info:
        chip_batch(tmp_path / "absent", spec, 4)
    assert str(info.value) == (
        f"chips folder {tmp_path / 'absent'} does not exist: give a folder of face chips"
    )
    (tmp_path / "empty").mkdir()
    with pytest.raises(ChipsError) as info:
        chip_batch(tmp_path / "empty", spec, 4)
    assert str(info.value) == (
        f"no images in {tmp_path / 'empty'}: give a folder with .jpg or .png face chips "
        "(subfolders are searched)"
    )
    (tmp_path / "empty" / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(ChipsError, match=r"none of the 1 chips picked under .* could be decoded"):
        chip_batch(tmp_path / "empty", spec, 4)


def test_group_options_and_subcommands_are_not_taken_for_a_source() -> None:
    runner = CliRunner()
    version = runner.invoke(main, ["--version"], prog_name="bear-export")
    assert version.exit_code == 0 and version.output.startswith("bear-export ")
    help_text = runner.invoke(main, ["--help"]).output
    assert "bear-export verify MODEL" in help_text
    verify_help = runner.invoke(main, ["verify", "--help"]).output
    assert "Check MODEL against its export's reference embeddings" in verify_help


def test_bad_batch_profile_is_refused(cli_export: tuple[Path, Path], tmp_path: Path) -> None:
    model = cli_export[0] / "embedder.onnx"
    args = [str(model), "--trt", "--out", str(tmp_path), "--batch-profile", "4", "2", "8"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert (
        result.output == "Error: batch profile min 4, opt 2, max 8: need 1 <= min <= opt <= max\n"
    )
