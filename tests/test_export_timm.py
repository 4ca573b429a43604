"""bear-export --timm: any timm model as a bearid embedder, with its own preprocessing.

The hubs are unreachable here, so the models are randomly initialised ones of the
real architectures (--no-pretrained), or weights written to a local folder or file
and read through timm's own loading code (local-dir:, --checkpoint).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import timm
import torch
import torch.nn.functional as F
from click.testing import CliRunner, Result
from timm.data.config import resolve_model_data_config

from bearagent.modelcard import ModelCard, load_model_card
from bearagent.runtime import RuntimeConfig, open_embedder
from bearexport.cli import main, timm_alias
from bearexport.inputs import chip_batch
from bearexport.outputs import PARITY_FILE
from bearexport.verify import verify_model

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
CPU = ("CPUExecutionProvider",)


def bear_export(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def timm_data_config(name: str) -> dict[str, Any]:
    """What timm itself says about the architecture's preprocessing (the expected card)."""
    model = timm.create_model(name, pretrained=False, num_classes=0)
    return dict(resolve_model_data_config(model, use_test_size=True))  # type: ignore[no-untyped-call]


def check_export(out: Path, result: Result) -> ModelCard:
    """The export passed parity, its card is an uncalibrated foreign one, and the agent's
    runtime reproduces the stored PyTorch embeddings."""
    assert result.exit_code == 0, result.output
    record = json.loads((out / PARITY_FILE).read_text())
    assert record["models"]["embedder.onnx"]["export"]["passed"] is True
    card = load_model_card(out / "embedder.onnx")
    d = card.decision
    assert (d.method, d.known_threshold, d.unknown_threshold) == ("uncalibrated", None, None)
    assert card.tracks is None and card.training is None and card.embedding.l2_normalised
    report = verify_model(out / "embedder.onnx", seconds=0.0, batches=(2,), providers=CPU)
    assert report.parity.passed and report.parity.min_cosine > 0.9999
    return card


@pytest.mark.slow
def test_a_random_swin_exports_with_parity_and_timms_preprocessing(tmp_path: Path) -> None:
    name, out = "swin_tiny_patch4_window7_224", tmp_path / "swin"
    result = bear_export(
        "--timm", name, "--no-pretrained", "--out", str(out), "--parity-chips", "4"
    )
    card = check_export(out, result)
    expected = timm_data_config(name)
    spec = card.input
    assert (3, spec.height, spec.width) == tuple(expected["input_size"]) == (3, 224, 224)
    assert spec.mean == pytest.approx(expected["mean"]) and spec.std == pytest.approx(
        expected["std"]
    )
    assert (spec.colour_order, spec.resize, spec.interpolation) == ("RGB", "center_crop", "cubic")
    assert (card.model.backbone, card.embedding.size) == (name, 768)
    assert card.model.name == f"{name}-random"
    assert card.model.source == f"timm {name} (random weights: for tests, not for bears)"
    assert "decision best: no thresholds (uncalibrated; the box calibrates them)" in result.output


@pytest.mark.slow
def test_a_random_efficientnetv2_exports_with_parity_fp16_and_its_test_size(tmp_path: Path) -> None:
    name, out = "tf_efficientnetv2_b0", tmp_path / "effv2"
    result = bear_export("--out", str(out), f"--timm={name}", "--no-pretrained", "--fp16",
                         "--parity-chips", "4", "--score", "margin3")  # fmt: skip
    card = check_export(out, result)
    expected = timm_data_config(name)
    assert expected["input_size"] == (3, 224, 224)  # the test size; it trains at 192
    assert (card.input.height, card.input.width) == (224, 224)
    assert card.input.mean == pytest.approx(expected["mean"])
    assert (card.embedding.size, card.decision.score) == (1280, "margin3")
    fp16 = load_model_card(out / "embedder.fp16.onnx")
    assert fp16.model.source == card.model.source and fp16.decision == card.decision
    assert "parity fp16: 4 chips" in result.output


def write_local_folder(folder: Path) -> torch.nn.Module:
    """A model folder as the hub has it (config.json, pytorch_model.bin), with its own
    preprocessing: 96x96, mean/std 0.5, bilinear, squash (stretch)."""
    torch.manual_seed(3)
    model = timm.create_model("test_efficientnet", pretrained=False, num_classes=0).eval()
    folder.mkdir()
    config = {
        "architecture": "test_efficientnet",
        "num_classes": 0,
        "num_features": model.num_features,
        "pretrained_cfg": {
            "input_size": [3, 96, 96], "interpolation": "bilinear", "crop_pct": 1.0,
            "crop_mode": "squash", "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5],
            "num_classes": 0, "first_conv": "conv_stem", "classifier": "classifier",
        },
    }  # fmt: skip
    (folder / "config.json").write_text(json.dumps(config))
    torch.save(model.state_dict(), folder / "pytorch_model.bin")
    return model


def agent_embeddings(model_path: Path, count: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """Chips preprocessed per the card, and the agent runtime's embeddings of them."""
    card = load_model_card(model_path)
    chips = chip_batch(None, card.input, count, seed=5).inputs
    with open_embedder(RuntimeConfig(model=model_path, providers=list(CPU))) as embedder:
        return chips, embedder.embed(chips)


def torch_embeddings(model: torch.nn.Module, chips: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return F.normalize(model(torch.from_numpy(chips)), dim=1).numpy()


def test_a_local_model_folder_brings_its_own_preprocessing_and_weights(tmp_path: Path) -> None:
    """local-dir: reads config.json and the weights through timm's pretrained path (as the
    hub does): the card takes the folder's preprocessing, the graph its weights."""
    model = write_local_folder(tmp_path / "md")
    out = tmp_path / "export"
    result = bear_export("--timm", f"local-dir:{tmp_path / 'md'}", "--out", str(out),
                         "--parity-chips", "4")  # fmt: skip
    card = check_export(out, result)
    spec = card.input
    assert (spec.height, spec.width, spec.mean, spec.std) == (96, 96, (0.5,) * 3, (0.5,) * 3)
    assert (spec.resize, spec.interpolation) == ("stretch", "linear")
    assert (card.model.name, card.model.backbone) == ("md", "test_efficientnet")
    assert card.model.source == (
        f"timm local-dir:{tmp_path / 'md'} (test_efficientnet, pretrained weights)"
    )
    chips, got = agent_embeddings(out / "embedder.onnx")
    assert np.abs(got - torch_embeddings(model, chips)).max() < 1e-5


def test_a_checkpoint_file_loads_into_the_architecture_without_its_classifier(
    tmp_path: Path,
) -> None:
    torch.manual_seed(4)
    full: Any = timm.create_model("test_efficientnet", pretrained=False).eval()  # + classifier
    torch.save(full.state_dict(), tmp_path / "weights.pth")
    out = tmp_path / "export"
    weights = str(tmp_path / "weights.pth")
    result = bear_export("--timm", "test_efficientnet", "--checkpoint", weights, "--out", str(out),
                         "--parity-chips", "4", "--resize", "letterbox", "--mean", "0.5,0.4,0.3",
                         "--name", "mine")  # fmt: skip
    card = check_export(out, result)
    assert card.model.source == "timm test_efficientnet (weights from weights.pth)"
    assert card.model.name == "mine" and card.input.resize == "letterbox"
    assert card.input.mean == (0.5, 0.4, 0.3)
    assert card.input.std == pytest.approx(IMAGENET_STD)  # timm's, not overridden
    full.reset_classifier(0)
    chips, got = agent_embeddings(out / "embedder.onnx")
    assert np.abs(got - torch_embeddings(full, chips)).max() < 1e-5


def test_the_timm_option_may_stand_anywhere() -> None:
    assert timm_alias(["--timm", "a", "--out", "o"]) == ["timm", "a", "--out", "o"]
    assert timm_alias(["--out", "o", "--timm", "a"]) == ["timm", "--out", "o", "a"]
    assert timm_alias(["--out", "o", "--timm=hf-hub:x/y"]) == ["timm", "--out", "o", "hf-hub:x/y"]
    assert timm_alias(["run", "--out", "o"]) == ["run", "--out", "o"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--timm", "no_such_net", "--no-pretrained"],
         "timm has no model 'no_such_net': give an architecture timm lists (timm.list_models()), "
         "hf-hub:OWNER/REPO or local-dir:FOLDER"),
        (["--timm", "test_efficientnet", "--no-pretrained", "--checkpoint", "w.pth"],
         "--checkpoint loads weights, --no-pretrained asks for random ones: give one"),
        (["--timm", "hf-hub:BVRA/MegaDescriptor-T-224", "--checkpoint", "w.pth"],
         "--checkpoint loads weights into a timm architecture, but "
         "hf-hub:BVRA/MegaDescriptor-T-224 brings its own: drop --checkpoint, or name the "
         "architecture (e.g. swin_tiny_patch4_window7_224)"),
        (["--timm", "test_efficientnet", "--checkpoint", "missing.pth"],
         "--checkpoint missing.pth does not exist"),
        (["--timm", "test_efficientnet", "--no-pretrained", "--mean", "124,116,104"],
         "--mean 124,116,104 is not on the 0-1 scale: divide means given for 0-255 pixels by 255 "
         "(123.675,116.28,103.53 is 0.485,0.456,0.406)"),
        (["--timm", "swin_tiny_patch4_window7_224", "--no-pretrained", "--input", "160x160"],
         None),
    ],
    ids=["unknown", "random-and-checkpoint", "hub-and-checkpoint", "no-file", "mean", "size"],
)  # fmt: skip
def test_refusals_name_the_mistake(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str | None
) -> None:
    (tmp_path / "w.pth").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    result = bear_export(*args, "--out", "out")
    assert result.exit_code == 1
    if message is None:  # timm's own words on Swin's fixed size follow ours
        assert result.output.startswith(
            "Error: swin_tiny_patch4_window7_224 does not take 160x160 input ("
        )
        assert result.output.endswith("); leave --input out to use the model's own size\n")
    else:
        assert result.output == f"Error: {message}\n"
    assert not (tmp_path / "out" / "embedder.onnx").exists()


def test_a_hub_model_goes_through_timms_download(tmp_path: Path) -> None:
    """The real download path (timm.create_model with pretrained=True), offline here."""
    script = (
        "from click.testing import CliRunner\n"
        "from bearexport.cli import main\n"
        "r = CliRunner().invoke(main, ['--timm', 'hf-hub:BVRA/MegaDescriptor-T-224', '--out', "
        f"{str(tmp_path / 'md')!r}])\n"
        "print(r.exit_code, r.output, end='')\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=True, env=env)  # fmt: skip
    assert done.stdout.startswith(
        "1 Error: could not fetch hf-hub:BVRA/MegaDescriptor-T-224 (LocalEntryNotFoundError: "
    )
    assert done.stdout.endswith(
        "Run this on a machine that reaches the model hub, or download the model's folder "
        "(config.json and weights) there and give --timm local-dir:FOLDER\n"
    )
    assert not (tmp_path / "md").exists()
