"""Models to roll out in tests: the pixel embedder at another input size (so chips must be
preprocessed anew after a switch), and models a box must refuse."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from bearagent.modelcard import write_model_card
from support.models import make_card
from support.pixel_model import DIM


def _graph(size: int, padding_bytes: int = 0) -> onnx.ModelProto:
    """Downsampled pixels of the central half of a `size` x `size` input, 8 x 8 cells
    (with `padding_bytes` of weights no node uses: a file as large as a real model's)."""
    crop = (size // 4, 3 * size // 4)
    pool = (crop[1] - crop[0]) // 8
    graph = helper.make_graph(
        [
            helper.make_node("Slice", ["input", "starts", "ends", "axes"], ["face"]),
            helper.make_node(
                "AveragePool", ["face"], ["pooled"], kernel_shape=[pool, pool], strides=[pool, pool]
            ),
            helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
            helper.make_node("ReduceMean", ["flat"], ["mean"], axes=[1], keepdims=1),
            helper.make_node("Sub", ["flat", "mean"], ["centred"]),
            helper.make_node("LpNormalization", ["centred"], ["embedding"], axis=1, p=2),
        ],
        f"pixel_embedder_{size}",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, size, size])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", DIM])],
        initializer=[
            helper.make_tensor("starts", TensorProto.INT64, [2], [crop[0], crop[0]]),
            helper.make_tensor("ends", TensorProto.INT64, [2], [crop[1], crop[1]]),
            helper.make_tensor("axes", TensorProto.INT64, [2], [2, 3]),
            *([numpy_helper.from_array(_noise(padding_bytes), "padding")] if padding_bytes else []),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def _noise(n_bytes: int) -> np.ndarray:
    return np.random.default_rng(n_bytes).random(n_bytes // 4, dtype=np.float32)


def write_sized_embedder(
    path: Path,
    size: int = 48,
    *,
    name: str = "pixel-48",
    card_size: int | None = None,
    padding_bytes: int = 0,
) -> Path:
    """The pixel embedder taking `size` x `size` chips (its card: threshold 0.9, tracks 0.9).

    `card_size` writes a card that says another input size than the graph takes: a card
    that does not fit its graph (checked when the runtime opens it).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(_graph(size, padding_bytes), str(path))
    side = card_size or size
    card = make_card(
        model={"name": name, "backbone": "none"},
        input={"height": side, "width": side, "colour_order": "RGB", "resize": "stretch",
               "interpolation": "area", "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]},
        embedding={"size": DIM, "l2_normalised": True},
        decision={"score": "best", "known_threshold": 0.9, "unknown_threshold": 0.9,
                  "method": "manual"},
        tracks={"same_individual": 0.9, "method": "manual"},
    )  # fmt: skip
    write_model_card(path, card)
    return path
