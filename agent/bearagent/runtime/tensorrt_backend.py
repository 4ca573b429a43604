"""The TensorRT engine embedder (TensorRT 10 Python API, device memory via cuda-python).

The engine comes from `bear-export --trt`, built on the box that runs it; its
sidecar (`bearagent.runtime.engine_sidecar`) is checked against this box before
anything is deserialised. tensorrt and cuda-python are imported here only, and
only when this backend is chosen.
"""

from __future__ import annotations

import importlib
import logging
from types import ModuleType
from typing import Any

import numpy as np

from bearagent.modelcard import ModelCard
from bearagent.runtime.base import Embedder, check_batch, l2_normalise, split_batches
from bearagent.runtime.config import RuntimeConfig
from bearagent.runtime.engine_sidecar import (
    DeviceInfo,
    EngineSidecar,
    check_engine,
    read_engine_sidecar,
)
from bearagent.runtime.errors import EngineMismatch, ModelIncompatible, RuntimeUnavailable

log = logging.getLogger(__name__)

_INSTALL = "pip install 'bearid[trt]'"


def _import(package: str, *modules: str) -> ModuleType:
    """The first of `modules` that imports, or a one-line error naming the extra to install."""
    for module in modules:
        try:
            return importlib.import_module(module)
        except ImportError:
            continue
    raise RuntimeUnavailable(f"the TensorRT runtime needs the {package} package: {_INSTALL}")


def _ok(cudart: ModuleType, result: tuple[Any, ...]) -> Any:
    """cuda-python returns (error, value...): raise on error, return the value(s)."""
    err, *values = result
    if err != cudart.cudaError_t.cudaSuccess:
        raise RuntimeUnavailable(
            f"CUDA call failed ({err}): the TensorRT runtime needs a working NVIDIA GPU and "
            "driver; set runtime.backend = 'onnxruntime' to run without one"
        )
    return values[0] if len(values) == 1 else tuple(values)


def device_info(trt: ModuleType, cudart: ModuleType) -> DeviceInfo:
    """TensorRT version, name and compute capability of GPU 0, or `RuntimeUnavailable`."""
    err, count = cudart.cudaGetDeviceCount()
    if err != cudart.cudaError_t.cudaSuccess or count < 1:
        raise RuntimeUnavailable(
            "no NVIDIA GPU is usable here: the TensorRT runtime needs one; set "
            "runtime.backend = 'onnxruntime' to run on the CPU"
        )
    props = _ok(cudart, cudart.cudaGetDeviceProperties(0))
    name = props.name.decode() if isinstance(props.name, bytes) else str(props.name)
    return DeviceInfo(str(trt.__version__), name.rstrip("\x00"), f"{props.major}.{props.minor}")


def _python_logger(trt: ModuleType) -> Any:
    """A TensorRT logger that routes TensorRT's messages into Python logging."""
    severity = trt.ILogger.Severity
    levels = {
        severity.INTERNAL_ERROR: logging.CRITICAL,
        severity.ERROR: logging.ERROR,
        severity.WARNING: logging.WARNING,
        severity.INFO: logging.INFO,
        severity.VERBOSE: logging.DEBUG,
    }
    trt_log = logging.getLogger("tensorrt")

    class _Logger(trt.ILogger):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            trt.ILogger.__init__(self)

        def log(self, severity: Any, msg: str) -> None:
            trt_log.log(levels.get(severity, logging.INFO), msg)

    return _Logger()


class TensorRTEmbedder(Embedder):
    """Runs a serialized TensorRT engine on GPU 0, per a `RuntimeConfig`."""

    def __init__(self, config: RuntimeConfig) -> None:
        trt = _import("tensorrt", "tensorrt")
        # cuda-python 12.6+ moved the runtime API; older releases have cuda.cudart.
        self._cudart = cudart = _import("cuda-python", "cuda.bindings.runtime", "cuda.cudart")
        engine_path = config.engine_path()
        sidecar = read_engine_sidecar(engine_path)
        check_engine(engine_path, sidecar, device_info(trt, cudart), config.model)
        self._card = sidecar.card
        self._sidecar = sidecar
        self._max_batch = min(config.max_batch, sidecar.max_batch)
        self._runtime = trt.Runtime(_python_logger(trt))
        self._engine = self._runtime.deserialize_cuda_engine(engine_path.read_bytes())
        if self._engine is None:
            raise EngineMismatch(
                f"TensorRT could not load engine {engine_path} (see the tensorrt log): rebuild "
                "it on this box with `bear-export --trt`"
            )
        self._check_tensors(trt, str(engine_path))
        self._context = self._engine.create_execution_context()
        self._stream = _ok(cudart, cudart.cudaStreamCreate())
        spec = self._card.input
        in_bytes = self._max_batch * 3 * spec.height * spec.width * 4
        out_bytes = self._max_batch * self._card.embedding.size * 4
        self._d_in = _ok(cudart, cudart.cudaMalloc(in_bytes))
        self._d_out = _ok(cudart, cudart.cudaMalloc(out_bytes))
        self._context.set_tensor_address(spec.name, int(self._d_in))
        self._context.set_tensor_address(self._card.embedding.name, int(self._d_out))
        log.info("TensorRT embedder ready: %s (%s)", engine_path, sidecar.precision)

    def _check_tensors(self, trt: ModuleType, source: str) -> None:
        names = [self._engine.get_tensor_name(i) for i in range(self._engine.num_io_tensors)]
        modes = {n: self._engine.get_tensor_mode(n) for n in names}
        want = {
            self._card.input.name: trt.TensorIOMode.INPUT,
            self._card.embedding.name: trt.TensorIOMode.OUTPUT,
        }
        for name, mode in want.items():
            if modes.get(name) != mode:
                raise ModelIncompatible(
                    f"engine {source} has tensors {sorted(names)}, but its card needs "
                    f"{name!r} as {mode}: rebuild it with `bear-export --trt`"
                )

    @property
    def card(self) -> ModelCard:
        return self._card

    @property
    def name(self) -> str:
        return f"tensorrt[{self._sidecar.gpu_name}, {self._sidecar.precision}]"

    @property
    def sidecar(self) -> EngineSidecar:
        """What the engine was built from and for."""
        return self._sidecar

    def embed(self, batch: np.ndarray) -> np.ndarray:
        batch = check_batch(batch, self._card)
        if batch.shape[0] == 0:
            return np.zeros((0, self._card.embedding.size), dtype=np.float32)
        out = np.concatenate([self._run(p) for p in split_batches(batch, self._max_batch)])
        return out if self._card.embedding.l2_normalised else l2_normalise(out)

    def _run(self, batch: np.ndarray) -> np.ndarray:
        cudart, n = self._cudart, batch.shape[0]
        if n < self._sidecar.min_batch:  # the profile's floor: pad, then drop the padding
            pad = np.zeros((self._sidecar.min_batch - n, *batch.shape[1:]), dtype=np.float32)
            batch = np.ascontiguousarray(np.concatenate([batch, pad]))
        self._context.set_input_shape(self._card.input.name, tuple(batch.shape))
        out = np.empty((batch.shape[0], self._card.embedding.size), dtype=np.float32)
        to_dev, to_host = (
            cudart.cudaMemcpyKind.cudaMemcpyHostToDevice,
            (cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost),
        )
        _ok(
            cudart,
            cudart.cudaMemcpyAsync(
                self._d_in, batch.ctypes.data, batch.nbytes, to_dev, self._stream
            ),
        )
        if not self._context.execute_async_v3(stream_handle=int(self._stream)):
            raise RuntimeUnavailable("TensorRT failed to run the engine (see the tensorrt log)")
        _ok(
            cudart,
            cudart.cudaMemcpyAsync(out.ctypes.data, self._d_out, out.nbytes, to_host, self._stream),
        )
        _ok(cudart, cudart.cudaStreamSynchronize(self._stream))
        return out[:n]

    def close(self) -> None:
        cudart = self._cudart
        for ptr in (self._d_in, self._d_out):
            cudart.cudaFree(ptr)
        cudart.cudaStreamDestroy(self._stream)
        self._context = self._engine = self._runtime = None
