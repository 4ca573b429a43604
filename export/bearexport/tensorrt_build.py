"""Building a TensorRT engine from an exported ONNX model, on the GPU that will run it.

Imports nothing from torch or timm: a field box with only ``bearid[gpu,trt]``
builds its own engine. tensorrt and cuda-python are imported when a build starts.
The sidecar format is the agent's (`bearagent.runtime.engine_sidecar`).
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from bearagent.modelcard import ModelCard, sha256_file
from bearagent.runtime import (
    ENGINE_SIDECAR_VERSION,
    DeviceInfo,
    EngineSidecar,
    RuntimeUnavailable,
    write_engine_sidecar,
)
from bearexport.errors import TRT_EXTRA, TensorRTBuildFailed, TensorRTUnavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EngineOptions:
    """How to build the engine: precision and the optimisation profile's batch sizes."""

    fp16: bool = False
    min_batch: int = 1
    opt_batch: int = 8
    max_batch: int = 32
    workspace_mib: int = 1024
    timing_cache: Path | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.min_batch <= self.opt_batch <= self.max_batch:
            raise TensorRTBuildFailed(
                f"batch profile min {self.min_batch}, opt {self.opt_batch}, max "
                f"{self.max_batch}: need 1 <= min <= opt <= max"
            )


def import_tensorrt() -> tuple[ModuleType, ModuleType]:
    """tensorrt and cuda-python's runtime module, or the one-line error naming the extra."""
    try:
        trt = importlib.import_module("tensorrt")
    except ImportError as e:
        raise TensorRTUnavailable(
            f"TensorRT is not installed, so no engine can be built: {TRT_EXTRA} "
            "(on the box whose NVIDIA GPU will run the engine)"
        ) from e
    for name in ("cuda.bindings.runtime", "cuda.cudart"):
        try:
            return trt, importlib.import_module(name)
        except ImportError:
            continue
    raise TensorRTUnavailable(
        f"cuda-python is not installed, so no engine can be built: {TRT_EXTRA}"
    )


def box_device(trt: ModuleType, cudart: ModuleType) -> DeviceInfo:
    """TensorRT version and GPU 0 of this box, or the error saying an NVIDIA GPU is needed."""
    from bearagent.runtime.tensorrt_backend import device_info

    try:
        return device_info(trt, cudart)
    except RuntimeUnavailable as e:
        raise TensorRTUnavailable(
            "no usable NVIDIA GPU here, so no engine can be built: run `bear-export --trt` on "
            f"the box whose GPU will run it, with {TRT_EXTRA}"
        ) from e


def python_logger(trt: ModuleType) -> Any:
    """A TensorRT logger that routes TensorRT's messages into Python logging ('tensorrt')."""
    levels = {
        trt.ILogger.INTERNAL_ERROR: logging.CRITICAL,
        trt.ILogger.ERROR: logging.ERROR,
        trt.ILogger.WARNING: logging.WARNING,
        trt.ILogger.INFO: logging.INFO,
        trt.ILogger.VERBOSE: logging.DEBUG,
    }
    target = logging.getLogger("tensorrt")

    class PythonLogger(trt.ILogger):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            trt.ILogger.__init__(self)

        def log(self, severity: Any, msg: str) -> None:
            target.log(levels.get(severity, logging.INFO), msg)

    return PythonLogger()


def _parse(trt: ModuleType, builder: Any, logger: Any, onnx_path: Path) -> tuple[Any, Any]:
    """The parsed network, and its parser (which owns the weights: keep it alive too)."""
    network = builder.create_network(0)  # TensorRT 10: explicit batch is the only mode
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i).desc()) for i in range(parser.num_errors))
        raise TensorRTBuildFailed(
            f"TensorRT cannot parse {onnx_path}: {errors or 'see the tensorrt log'}. "
            "Export it again with `bear-export`, or use the onnxruntime backend"
        )
    return network, parser


def _config(trt: ModuleType, builder: Any, card: ModelCard, options: EngineOptions) -> Any:
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, options.workspace_mib << 20)
    if hasattr(trt.BuilderFlag, "TF32"):  # plain FP32 keeps parity with ONNX Runtime
        config.clear_flag(trt.BuilderFlag.TF32)
    if options.fp16:
        config.set_flag(trt.BuilderFlag.FP16)
    spec = card.input
    profile = builder.create_optimization_profile()
    profile.set_shape(
        spec.name,
        (options.min_batch, 3, spec.height, spec.width),
        (options.opt_batch, 3, spec.height, spec.width),
        (options.max_batch, 3, spec.height, spec.width),
    )
    config.add_optimization_profile(profile)
    cached = b""
    if options.timing_cache is not None and options.timing_cache.is_file():
        cached = options.timing_cache.read_bytes()
    config.set_timing_cache(config.create_timing_cache(cached), ignore_mismatch=True)
    return config


def build_engine(
    onnx_path: Path, card: ModelCard, engine_path: Path, options: EngineOptions
) -> EngineSidecar:
    """Build and write the engine and its sidecar; `card` is the ONNX model's verified card."""
    trt, cudart = import_tensorrt()
    device = box_device(trt, cudart)
    logger = python_logger(trt)
    builder = trt.Builder(logger)
    network, _parser = _parse(trt, builder, logger, onnx_path)
    config = _config(trt, builder, card, options)
    log.info(
        "building TensorRT engine for %s on %s (this takes a while)", onnx_path, device.gpu_name
    )
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise TensorRTBuildFailed(
            f"TensorRT could not build an engine from {onnx_path} (see the tensorrt log above)"
        )
    engine_path.write_bytes(bytes(serialized))
    if options.timing_cache is not None:
        options.timing_cache.write_bytes(bytes(config.get_timing_cache().serialize()))
    sidecar = EngineSidecar(
        format_version=ENGINE_SIDECAR_VERSION,
        tensorrt_version=device.tensorrt_version,
        gpu_name=device.gpu_name,
        compute_capability=device.compute_capability,
        precision="fp16" if options.fp16 else "fp32",
        onnx_sha256=sha256_file(onnx_path),
        engine_sha256=sha256_file(engine_path),
        min_batch=options.min_batch,
        opt_batch=options.opt_batch,
        max_batch=options.max_batch,
        built_at=datetime.now(UTC),
        card=card,
    )
    write_engine_sidecar(engine_path, sidecar)
    return sidecar
