"""The explicit registry of inference runtimes, chosen by name in the configuration.

Each entry names the module and class of a backend; the module is imported only
when its backend is chosen, so onnxruntime or tensorrt load only when used.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Final

from bearagent.runtime.base import Embedder
from bearagent.runtime.config import RuntimeConfig
from bearagent.runtime.errors import UnknownRuntime

#: Runtime name -> (module, class). Add a runtime here and nowhere else.
BACKENDS: Final[dict[str, tuple[str, str]]] = {
    "onnxruntime": ("bearagent.runtime.onnx_backend", "OnnxRuntimeEmbedder"),
    "tensorrt": ("bearagent.runtime.tensorrt_backend", "TensorRTEmbedder"),
}


def open_embedder(config: RuntimeConfig) -> Embedder:
    """Start the runtime `config.backend` on `config.model`, warmed up if configured."""
    try:
        module_name, class_name = BACKENDS[config.backend]
    except KeyError:
        raise UnknownRuntime(
            f"unknown runtime {config.backend!r}: choose one of {', '.join(sorted(BACKENDS))}"
        ) from None
    cls: Callable[[RuntimeConfig], Embedder] = getattr(
        importlib.import_module(module_name), class_name
    )
    embedder = cls(config)
    if config.warm_up:
        try:
            embedder.warm_up()
        except BaseException:
            embedder.close()
            raise
    return embedder
