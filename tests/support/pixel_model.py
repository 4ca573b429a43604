"""A real ONNX embedder that needs no training: downsampled pixels, L2-normalised.

On studio-clean synthetic chips (nuisance 0) it tells individuals apart well
enough for end-to-end tests of the agent; it is not a model for real data.
"""

from __future__ import annotations

from pathlib import Path

import onnx
from onnx import TensorProto, helper

from bearagent.modelcard import write_model_card
from support.models import make_card

SIZE = 32
CROP = (8, 24)  # the central 16x16: the face, not the background
POOL = 2  # 16 / 2 = 8x8 cells x 3 channels = 192 dimensions
DIM = 3 * ((CROP[1] - CROP[0]) // POOL) ** 2


def write_pixel_embedder(
    path: Path,
    threshold: float = 0.9,
    *,
    review_below: float | None = None,
    score: str = "best",
    same_individual: float = 0.9,
) -> Path:
    """Write the model and its card (input 32x32 RGB stretch, mean/std 0.5).

    The card's rule accepts `score` >= `threshold` as known; with `review_below`,
    scores from there up to `threshold` go to review (else no review band).
    """
    graph = helper.make_graph(
        [
            helper.make_node("Slice", ["input", "starts", "ends", "axes"], ["face"]),
            helper.make_node(
                "AveragePool", ["face"], ["pooled"], kernel_shape=[POOL, POOL], strides=[POOL, POOL]
            ),
            helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
            helper.make_node("ReduceMean", ["flat"], ["mean"], axes=[1], keepdims=1),
            helper.make_node("Sub", ["flat", "mean"], ["centred"]),
            helper.make_node("LpNormalization", ["centred"], ["embedding"], axis=1, p=2),
        ],
        "pixel_embedder",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, SIZE, SIZE])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", DIM])],
        initializer=[
            helper.make_tensor("starts", TensorProto.INT64, [2], [CROP[0], CROP[0]]),
            helper.make_tensor("ends", TensorProto.INT64, [2], [CROP[1], CROP[1]]),
            helper.make_tensor("axes", TensorProto.INT64, [2], [2, 3]),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    card = make_card(
        model={"name": "pixel-test", "backbone": "none"},
        input={
            "height": SIZE,
            "width": SIZE,
            "colour_order": "RGB",
            "resize": "stretch",
            "interpolation": "area",
            "mean": [0.5, 0.5, 0.5],
            "std": [0.25, 0.25, 0.25],
        },
        embedding={"size": DIM, "l2_normalised": True},
        decision={
            "score": score,
            "known_threshold": threshold,
            "unknown_threshold": threshold if review_below is None else review_below,
            "method": "manual",
        },
        tracks={"same_individual": same_individual, "method": "manual"},
    )
    write_model_card(path, card)
    return path
