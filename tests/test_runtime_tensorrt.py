"""The TensorRT engine runtime: sidecar checks (everywhere) and the engine itself (GPU only)."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bearagent.modelcard import load_model_card, sha256_file
from bearagent.runtime import (
    DeviceInfo,
    EngineMismatch,
    EngineSidecar,
    RuntimeConfig,
    RuntimeUnavailable,
    check_engine,
    open_embedder,
    read_engine_sidecar,
    write_engine_sidecar,
)
from support.gallery_helpers import carded_model

BOX = DeviceInfo(tensorrt_version="10.3.0", gpu_name="NVIDIA L4", compute_capability="8.9")
HAS_TENSORRT = importlib.util.find_spec("tensorrt") is not None


def make_engine(tmp_path: Path, **overrides: Any) -> tuple[Path, Path, EngineSidecar]:
    """A (fake-bytes) engine file with a sidecar describing `BOX` and the ONNX model."""
    model = carded_model(tmp_path)
    engine = tmp_path / "embedder.engine"
    engine.write_bytes(b"serialized engine bytes")
    fields: dict[str, Any] = {
        "format_version": 1,
        "tensorrt_version": BOX.tensorrt_version,
        "gpu_name": BOX.gpu_name,
        "compute_capability": BOX.compute_capability,
        "precision": "fp16",
        "onnx_sha256": sha256_file(model),
        "engine_sha256": sha256_file(engine),
        "min_batch": 1,
        "opt_batch": 8,
        "max_batch": 32,
        "built_at": datetime(2026, 11, 27, 12, 0, tzinfo=UTC),
        "card": load_model_card(model),
    }
    sidecar = EngineSidecar.model_validate({**fields, **overrides})
    write_engine_sidecar(engine, sidecar)
    return model, engine, sidecar


def test_a_matching_engine_passes_and_its_sidecar_round_trips(tmp_path: Path) -> None:
    model, engine, sidecar = make_engine(tmp_path)
    assert read_engine_sidecar(engine) == sidecar
    check_engine(engine, read_engine_sidecar(engine), BOX, model)


def test_an_engine_for_another_tensorrt_version_is_refused(tmp_path: Path) -> None:
    model, engine, sidecar = make_engine(tmp_path, tensorrt_version="10.0.1")
    with pytest.raises(EngineMismatch) as e:
        check_engine(engine, sidecar, BOX, model)
    assert str(e.value) == (
        f"TensorRT engine {engine} was built with TensorRT 10.0.1, but this box has TensorRT "
        f"10.3.0: rebuild the engine on this box with `bear-export --trt MODEL --out {tmp_path}`"
    )


def test_an_engine_for_another_gpu_is_refused(tmp_path: Path) -> None:
    model, engine, sidecar = make_engine(tmp_path, gpu_name="NVIDIA A100", compute_capability="8.0")
    with pytest.raises(EngineMismatch) as e:
        check_engine(engine, sidecar, BOX, model)
    assert str(e.value).startswith(
        f"TensorRT engine {engine} was built for NVIDIA A100 (compute capability 8.0), but this "
        "box has NVIDIA L4 (8.9): rebuild the engine on this box with `bear-export --trt"
    )


def test_a_damaged_engine_or_another_model_is_refused(tmp_path: Path) -> None:
    model, engine, sidecar = make_engine(tmp_path)
    engine.write_bytes(b"something else")
    with pytest.raises(EngineMismatch, match="does not match the sha256 in its sidecar"):
        check_engine(engine, sidecar, BOX, model)
    model, engine, sidecar = make_engine(tmp_path / "b", onnx_sha256="0" * 64)
    with pytest.raises(EngineMismatch, match="from another ONNX model than"):
        check_engine(engine, sidecar, BOX, model)


def test_a_missing_or_broken_sidecar_says_to_rebuild(tmp_path: Path) -> None:
    _, engine, _ = make_engine(tmp_path)
    engine.with_name("embedder.engine.json").write_text('{"format_version": 1}')
    with pytest.raises(EngineMismatch, match=r"sidecar .* is invalid .*: rebuild the engine"):
        read_engine_sidecar(engine)
    engine.with_name("embedder.engine.json").unlink()
    with pytest.raises(EngineMismatch) as e:
        read_engine_sidecar(engine)
    assert str(e.value).startswith(f"TensorRT engine {engine} has no sidecar embedder.engine.json")


@pytest.mark.skipif(HAS_TENSORRT, reason="tensorrt is installed here")
def test_without_tensorrt_the_error_names_the_extra(tmp_path: Path) -> None:
    model, engine, _ = make_engine(tmp_path)
    with pytest.raises(RuntimeUnavailable) as e:
        open_embedder(RuntimeConfig(backend="tensorrt", model=model, engine=engine))
    assert str(e.value) == (
        "the TensorRT runtime needs the tensorrt package: pip install 'bearid[trt]'"
    )


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_TENSORRT, reason="needs an NVIDIA GPU with tensorrt installed")
def test_engine_embeddings_match_onnxruntime(tmp_path: Path) -> None:  # pragma: no cover
    """Build an engine from the tiny ONNX model on this GPU; it embeds as ONNX Runtime does."""
    import tensorrt as trt

    from bearagent.runtime.tensorrt_backend import _import, device_info

    cudart = _import("cuda-python", "cuda.bindings.runtime", "cuda.cudart")
    model = carded_model(tmp_path)
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    assert parser.parse(model.read_bytes()), [parser.get_error(i) for i in range(parser.num_errors)]
    config = builder.create_builder_config()
    profile = builder.create_optimization_profile()
    profile.set_shape("input", (1, 3, 64, 96), (4, 3, 64, 96), (8, 3, 64, 96))
    config.add_optimization_profile(profile)
    engine = tmp_path / "embedder.engine"
    engine.write_bytes(bytes(builder.build_serialized_network(network, config)))
    box = device_info(trt, cudart)
    sidecar = EngineSidecar(
        format_version=1,
        tensorrt_version=box.tensorrt_version,
        gpu_name=box.gpu_name,
        compute_capability=box.compute_capability,
        precision="fp32",
        onnx_sha256=sha256_file(model),
        engine_sha256=sha256_file(engine),
        min_batch=1,
        opt_batch=4,
        max_batch=8,
        built_at=datetime.now(UTC),
        card=load_model_card(model),
    )
    write_engine_sidecar(engine, sidecar)
    x = np.random.default_rng(0).normal(size=(11, 3, 64, 96)).astype(np.float32)
    cpu = RuntimeConfig(model=model, providers=["CPUExecutionProvider"])
    gpu = RuntimeConfig(backend="tensorrt", model=model, engine=engine, max_batch=32)
    with open_embedder(cpu) as reference, open_embedder(gpu) as embedder:
        assert embedder.name.startswith("tensorrt[")
        np.testing.assert_allclose(embedder.embed(x), reference.embed(x), atol=1e-4)
