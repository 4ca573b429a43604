"""TensorRT engines from an exported model, run by the agent's TensorRT runtime (GPU only)."""

from __future__ import annotations

import importlib.util
import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from bearagent.modelcard import load_model_card, sha256_file
from bearagent.runtime import RuntimeConfig, engine_sidecar_path, open_embedder
from bearexport.engine import TIMING_CACHE, build_checked_engine
from bearexport.parity import REFERENCE_FILE, read_reference
from bearexport.pipeline import ExportOptions, export_checkpoint
from bearexport.tensorrt_build import EngineOptions
from test_export import make_run

pytestmark = pytest.mark.gpu


def _gpu_reason() -> str | None:
    if importlib.util.find_spec("tensorrt") is None:
        return "needs an NVIDIA GPU with TensorRT: pip install 'bearid[trt]'"
    from bearexport.errors import TensorRTUnavailable
    from bearexport.tensorrt_build import box_device, import_tensorrt

    try:
        box_device(*import_tensorrt())
    except TensorRTUnavailable as e:
        return str(e)
    return None


@pytest.fixture(scope="module")
def onnx_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    reason = _gpu_reason()
    if reason is not None:
        pytest.skip(reason)
    out = tmp_path_factory.mktemp("export")
    export_checkpoint(make_run(tmp_path_factory.mktemp("run")), out, ExportOptions(parity_chips=8))
    return out / "embedder.onnx"


@pytest.mark.parametrize("fp16", [False, True])
def test_engine_matches_onnx_reference_and_has_the_agents_sidecar(
    onnx_export: Path, tmp_path: Path, fp16: bool, caplog: pytest.LogCaptureFixture
) -> None:
    box = shutil.copytree(onnx_export.parent, tmp_path / "box")
    model = box / "embedder.onnx"
    with caplog.at_level(logging.INFO, logger="tensorrt"):
        result = build_checked_engine(
            model, box, EngineOptions(fp16=fp16, opt_batch=4, max_batch=8)
        )
    assert any(r.name == "tensorrt" for r in caplog.records)  # TensorRT's log reaches Python
    assert result.engine == box / "embedder.engine" and (box / TIMING_CACHE).is_file()
    side = json.loads(engine_sidecar_path(result.engine).read_text())
    assert side["precision"] == ("fp16" if fp16 else "fp32")
    assert side["onnx_sha256"] == sha256_file(model)
    assert (side["min_batch"], side["opt_batch"], side["max_batch"]) == (1, 4, 8)
    assert result.sidecar.card == load_model_card(model)
    ref = read_reference(box / REFERENCE_FILE)
    config = RuntimeConfig(backend="tensorrt", model=model, warm_up=False, max_batch=8)
    with open_embedder(config) as embedder:
        got = embedder.embed(np.concatenate([ref.inputs, ref.inputs[:3]]))
    cosines = np.sum(got[: len(ref.inputs)] * ref.embeddings, axis=1)
    assert cosines.min() > (0.999 if fp16 else 0.9999)
    np.testing.assert_allclose(got[len(ref.inputs) :], got[:3], atol=1e-2 if fp16 else 1e-4)
