"""From a bear-train checkpoint to an FP32 ONNX graph, and PyTorch's own embeddings.

With `timm_source`, the only modules of bearexport that import torch (and timm):
the TensorRT path, `adopt` and `verify` never load them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bearexport.errors import EXPORT_EXTRA, ExportSourceError, ExtraMissing
from bearexport.onnxrun import BATCH_AXIS

if TYPE_CHECKING:
    from torch import nn

    from beartrain.checkpoint import Checkpoint

#: ONNX opset written (the dynamo exporter's native one; TensorRT 10 and ONNX Runtime read it).
OPSET = 18


def _import_torch() -> None:
    try:
        import timm  # noqa: F401
        import torch  # noqa: F401
    except ImportError as e:
        raise ExtraMissing(
            f"exporting a checkpoint needs torch and timm, which are not installed: {EXPORT_EXTRA}"
        ) from e


def load_source(path: Path) -> Checkpoint:
    """The bear-train checkpoint at `path` (a run folder means its best.pt)."""
    _import_torch()
    from beartrain.checkpoint import CheckpointError, load_checkpoint

    try:
        return load_checkpoint(path)
    except CheckpointError as e:
        raise ExportSourceError(f"{e} (or, with --trt, an exported .onnx model)") from e


def build_model(checkpoint: Checkpoint, *, flip_tta: bool = False) -> nn.Module:
    """The checkpoint's network in eval mode, built from timm's export-friendly layers.

    `flip_tta` bakes test-time flip averaging into the graph (`FlipAveraged`): the
    agent then embeds each chip and its mirror in one call, at twice the cost.
    """
    from timm.layers.config import set_layer_config

    from beartrain.model import FlipAveraged

    # exportable=True makes timm pick layers that trace to plain ONNX operators
    # (no TorchScript-only or memory-efficient custom autograd activations).
    with set_layer_config(exportable=True, scriptable=False, no_jit=True):
        model = checkpoint.build_model()
    return (FlipAveraged(model) if flip_tta else model).eval()


def export_onnx(
    model: nn.Module, sample: np.ndarray, path: Path, input_name: str, output_name: str
) -> Path:
    """Write `model` as ONNX with a symbolic batch axis on its input and output."""
    import torch

    example = torch.from_numpy(
        np.ascontiguousarray(sample[:2] if len(sample) > 1 else np.concatenate([sample] * 2))
    )
    batch = torch.export.Dim(BATCH_AXIS, min=1, max=4096)
    with torch.inference_mode(False), torch.no_grad():
        torch.onnx.export(
            model,
            (example,),
            str(path),
            input_names=[input_name],
            output_names=[output_name],
            dynamic_shapes=({0: batch},),
            opset_version=OPSET,
            dynamo=True,
            external_data=False,
            verbose=False,
        )
    return path


def embed(model: nn.Module, inputs: np.ndarray, batch: int = 32) -> np.ndarray:
    """PyTorch's embeddings (N, E) float32 of preprocessed `inputs`."""
    import torch

    parts = []
    with torch.inference_mode():
        for start in range(0, inputs.shape[0], batch):
            chunk = torch.from_numpy(np.ascontiguousarray(inputs[start : start + batch]))
            parts.append(model(chunk).float().numpy())
    return np.concatenate(parts).astype(np.float32)
