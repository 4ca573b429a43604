"""bearexport: turn a trained embedder into ONNX / TensorRT with its model card."""

from bearagent import __version__

__all__ = ["__version__"]
