"""bear-export round trip on a tiny real checkpoint: ONNX, cards, parity, variants, refusals."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from bearagent.modelcard import (
    CARD_FORMAT_VERSION,
    DecisionSpec,
    TrackSpec,
    TrainingSummary,
    load_model_card,
    read_onnx_card,
)
from bearagent.runtime import RuntimeConfig, open_embedder
from bearexport import onnxrun
from bearexport.errors import ExportSourceError, ParityFailed
from bearexport.inputs import chip_batch
from bearexport.outputs import MODEL_FILES, PARITY_FILE
from bearexport.parity import REFERENCE_FILE, read_reference
from bearexport.pipeline import (
    ExportOptions,
    ExportResult,
    export_checkpoint,
    export_model,
)
from beartrain.checkpoint import load_checkpoint, save_checkpoint
from beartrain.config import build_config
from beartrain.model import build_embedder, input_spec
from beartrain.synthetic import SyntheticConfig, write_population

SIZE = 48
DECISION = DecisionSpec(
    score="margin3",
    known_threshold=0.31,
    unknown_threshold=0.12,
    method="calibrated",
    target_error_rate=0.05,
    target_false_unknown_rate=0.05,
    auroc=0.9,
    validation_set="val: 20 known and 6 unknown encounters (mean embeddings)",
)
TRACKS = TrackSpec(same_individual=0.72, method="calibrated", target_false_join_rate=0.02)
TRAINING = TrainingSummary(individuals=3, images=9, split_kind="open", seed=0)


def make_run(
    folder: Path, decision: DecisionSpec | None = DECISION, tracks: TrackSpec | None = TRACKS
) -> Path:
    """A bear-train run folder with a tiny resnet10t checkpoint (random weights)."""
    cfg = build_config(
        {
            "model": {
                "backbone": "resnet10t",
                "pretrained": "none",
                "embedding_size": 128,
                "head_widths": [64],
                "input": {"height": SIZE, "width": SIZE, "resize": "letterbox"},
            }
        }
    )
    torch.manual_seed(0)
    model = build_embedder(cfg.model).eval()
    save_checkpoint(
        folder / "best.pt",
        config=cfg,
        epoch=3,
        metrics={"val_chip_acc1": 0.5},
        input_spec=input_spec(cfg.model),
        decision=decision,
        tracks=tracks,
        training=TRAINING,
        model=model,
        label_names=["bear-000", "bear-001", "bear-002"],
    )
    return folder


@pytest.fixture(scope="module")
def chips_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("chips")
    write_population(root, SyntheticConfig(individuals=3, size=64, seed=1))
    return root


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_run(tmp_path_factory.mktemp("run"))


@pytest.fixture(scope="module")
def exported(
    run_dir: Path, chips_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, ExportResult]:
    out = tmp_path_factory.mktemp("export")
    options = ExportOptions(
        chips=chips_dir, fp16=True, int8=True, parity_chips=8, calibration_count=16
    )
    return out, export_checkpoint(run_dir, out, options)


def test_export_writes_models_cards_reference_and_parity_record(
    exported: tuple[Path, ExportResult],
) -> None:
    out, result = exported
    names = {p.name for p in out.iterdir()}
    expected = {REFERENCE_FILE, PARITY_FILE}
    for model in MODEL_FILES.values():
        expected |= {model, model + ".json"}
    assert names == expected  # and no staging folder left behind
    assert set(result.parity) == {"fp32", "fp16", "int8"}
    assert all(r.passed for r in result.parity.values())
    assert result.sizes["int8"] < result.sizes["fp16"] < result.sizes["fp32"]
    reference = read_reference(out / REFERENCE_FILE)
    assert reference.inputs.shape == (8, 3, SIZE, SIZE)
    assert all(not n.startswith("synthetic:") for n in reference.names)  # real chips used


def test_card_read_back_equals_card_written(
    exported: tuple[Path, ExportResult], run_dir: Path
) -> None:
    out, result = exported
    model = out / MODEL_FILES["fp32"]
    card = load_model_card(model)
    assert card == result.card
    assert read_onnx_card(model) == card.with_sha256(None)
    checkpoint = load_checkpoint(run_dir)
    assert card.model.backbone == "resnet10t"
    assert card.model.name == "bearid-resnet10t"
    assert card.input == checkpoint.input_spec
    assert card.format_version == CARD_FORMAT_VERSION == 2
    assert card.decision == DECISION and card.tracks == TRACKS
    assert card.training == TRAINING
    assert card.embedding.size == 128 and card.embedding.l2_normalised
    assert timedelta(0) <= datetime.now(UTC) - card.created_at < timedelta(hours=1)
    assert {"bearid", "torch", "timm", "onnx", "onnxruntime"} <= set(card.software)
    fp16 = load_model_card(out / MODEL_FILES["fp16"])
    assert fp16.model.name == "bearid-resnet10t-fp16"
    assert fp16.input == card.input and fp16.model.sha256 != card.model.sha256


def test_onnx_graph_has_named_dynamic_batch_and_opset_17_or_newer(
    exported: tuple[Path, ExportResult],
) -> None:
    out, result = exported
    path = out / MODEL_FILES["fp32"]
    model = onnx.load(str(path))
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 17
    card = result.card
    assert onnxrun.batch_dims(path, card.input.name, card.embedding.name) == ("batch", "batch")
    sess = onnxrun.session(path)
    inputs = read_reference(out / REFERENCE_FILE).inputs
    batch8 = np.concatenate([inputs, inputs])[:8]
    together = onnxrun.run(sess, batch8, card.input.name, card.embedding.name)
    for n in (1, 3):
        part = onnxrun.run(sess, batch8[:n], card.input.name, card.embedding.name)
        np.testing.assert_allclose(part, together[:n], atol=1e-5)
    assert together.shape == (8, 128)


def test_agent_runtime_gives_torch_embeddings(
    exported: tuple[Path, ExportResult], run_dir: Path, chips_dir: Path
) -> None:
    out, result = exported
    model = load_checkpoint(run_dir).build_model()
    chips = chip_batch(chips_dir, result.card.input, 12, skip=20, seed=3).inputs
    with torch.inference_mode():
        expected = model(torch.from_numpy(chips)).numpy()
    for precision, tolerance in (("fp32", 1e-5), ("fp16", 2e-3), ("int8", 0.1)):
        config = RuntimeConfig(
            model=out / MODEL_FILES[precision], providers=["CPUExecutionProvider"]
        )
        with open_embedder(config) as embedder:
            got = embedder.embed(chips)
        assert got.shape == expected.shape
        assert np.max(np.abs(got - expected)) < tolerance, precision
        cosines = np.sum(got * expected, axis=1)
        assert cosines.min() > {"fp32": 0.9999, "fp16": 0.999, "int8": 0.98}[precision]


class _DropoutLeftOn(torch.nn.Module):
    """A real mistake: dropout hard-wired on, so eager and exported runs disagree."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = torch.nn.Linear(3, 128)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = x.mean(dim=(2, 3))
        dropped = torch.nn.functional.dropout(self.proj(pooled), p=0.5, training=True)
        return torch.nn.functional.normalize(dropped, dim=1)


def test_export_refuses_a_model_that_fails_fp32_parity(
    exported: tuple[Path, ExportResult], tmp_path: Path
) -> None:
    _, result = exported
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("old")
    with pytest.raises(ParityFailed) as info:
        export_model(_DropoutLeftOn().eval(), result.card, out, ExportOptions(parity_chips=8))
    pattern = (
        r"parity check failed for fp32: minimum cosine \d\.\d{6} is below the required 0\.9999 "
        r"\(max \|diff\| \d\.\d\de[+-]\d\d over 8 chips\)\. Nothing was written\. Check that "
        r"the model is in eval mode and has no random or data-dependent layers\."
    )
    assert re.fullmatch(pattern, str(info.value)), str(info.value)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_int8_below_its_threshold_refuses_the_whole_export(
    run_dir: Path, chips_dir: Path, tmp_path: Path
) -> None:
    options = ExportOptions(
        chips=chips_dir,
        int8=True,
        parity_chips=8,
        calibration_count=8,
        min_cosine={"fp32": 0.9999, "fp16": 0.999, "int8": 0.999999},
    )
    with pytest.raises(ParityFailed) as info:
        export_checkpoint(run_dir, tmp_path / "out", options)
    assert str(info.value).startswith("parity check failed for int8: minimum cosine ")
    assert str(info.value).endswith(
        "Nothing was written. Calibrate on more representative chips (--calibration-chips), "
        "accept it with a lower --min-cosine-int8 if its accuracy cost is acceptable, or "
        "export without --int8."
    )
    assert list((tmp_path / "out").iterdir()) == []


def test_missing_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ExportSourceError) as info:
        export_checkpoint(tmp_path / "nothing", tmp_path / "out", ExportOptions())
    assert str(info.value) == (
        f"checkpoint {tmp_path / 'nothing'} does not exist: give a run folder or a .pt file "
        "(or, with --trt, an exported .onnx model)"
    )


def test_export_into_an_old_export_replaces_it_whole(
    exported: tuple[Path, ExportResult], run_dir: Path, tmp_path: Path
) -> None:
    out = Path(shutil.copytree(exported[0], tmp_path / "out"))
    result = export_checkpoint(run_dir, out, ExportOptions(parity_chips=4, name="second"))
    names = {p.name for p in out.iterdir()}
    assert names == {
        MODEL_FILES["fp32"],
        MODEL_FILES["fp32"] + ".json",
        REFERENCE_FILE,
        PARITY_FILE,
    }
    assert load_model_card(out / MODEL_FILES["fp32"]) == result.card
    assert result.card.model.name == "second"
    assert len(read_reference(out / REFERENCE_FILE).names) == 4


def test_flip_tta_is_baked_into_the_graph(run_dir: Path, chips_dir: Path, tmp_path: Path) -> None:
    """The ONNX embeds a chip and its mirror in one call: the normalised mean of the two."""
    options = ExportOptions(chips=chips_dir, parity_chips=4, flip_tta=True)
    result = export_checkpoint(run_dir, tmp_path, options)
    assert result.card.model.name == "bearid-resnet10t-flip"
    assert result.parity["fp32"].passed
    plain = load_checkpoint(run_dir).build_model()
    chips = chip_batch(chips_dir, result.card.input, 3, seed=0).inputs
    with torch.no_grad():
        x = torch.from_numpy(chips)
        both = plain(x) + plain(torch.flip(x, dims=(3,)))
        expected = torch.nn.functional.normalize(both, dim=1).numpy()
    sess = onnxrun.session(tmp_path / MODEL_FILES["fp32"])
    out = onnxrun.run(sess, chips, result.card.input.name, result.card.embedding.name)
    np.testing.assert_allclose(out, expected, atol=1e-4)
    assert not np.allclose(out, plain(torch.from_numpy(chips)).detach().numpy(), atol=1e-3)
