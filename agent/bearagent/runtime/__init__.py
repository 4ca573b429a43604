"""Inference runtimes behind one interface (`Embedder`), chosen by name (`open_embedder`).

Heavy packages (onnxruntime, tensorrt) are imported only inside the backend
module that needs them.
"""

from bearagent.runtime.base import Embedder, l2_normalise
from bearagent.runtime.config import DEFAULT_PROVIDERS, RuntimeConfig
from bearagent.runtime.engine_sidecar import (
    ENGINE_SIDECAR_VERSION,
    DeviceInfo,
    EngineSidecar,
    check_engine,
    engine_sidecar_path,
    read_engine_sidecar,
    write_engine_sidecar,
)
from bearagent.runtime.errors import (
    BadBatch,
    EngineMismatch,
    ModelIncompatible,
    RuntimeErrorBase,
    RuntimeUnavailable,
    UnknownRuntime,
)
from bearagent.runtime.registry import BACKENDS, open_embedder

__all__ = [
    "BACKENDS",
    "DEFAULT_PROVIDERS",
    "ENGINE_SIDECAR_VERSION",
    "BadBatch",
    "DeviceInfo",
    "Embedder",
    "EngineMismatch",
    "EngineSidecar",
    "ModelIncompatible",
    "RuntimeConfig",
    "RuntimeErrorBase",
    "RuntimeUnavailable",
    "UnknownRuntime",
    "check_engine",
    "engine_sidecar_path",
    "l2_normalise",
    "open_embedder",
    "read_engine_sidecar",
    "write_engine_sidecar",
]
