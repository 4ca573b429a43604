"""Tiny real ONNX models and model cards for tests (no torch needed)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from bearagent.modelcard import CARD_FORMAT_VERSION, ModelCard


def write_tiny_embedder(path: Path, embedding_size: int = 8, seed: int = 0) -> Path:
    """An ONNX embedder: global average pool -> linear -> L2 normalise, dynamic batch."""
    rng = np.random.default_rng(seed)
    weight = numpy_helper.from_array(
        rng.normal(size=(3, embedding_size)).astype(np.float32), name="head.weight"
    )
    graph = helper.make_graph(
        [
            helper.make_node("GlobalAveragePool", ["input"], ["pooled"]),
            helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
            helper.make_node("MatMul", ["flat", "head.weight"], ["raw"]),
            helper.make_node("LpNormalization", ["raw"], ["embedding"], axis=1, p=2),
        ],
        "tiny_embedder",
        [
            helper.make_tensor_value_info(
                "input", TensorProto.FLOAT, ["batch", 3, "height", "width"]
            )
        ],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", embedding_size])],
        initializer=[weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def card_dict(**overrides: Any) -> dict[str, Any]:
    """A valid card as a plain dict; top-level keys in `overrides` replace sections."""
    card: dict[str, Any] = {
        "format_version": CARD_FORMAT_VERSION,
        "model": {"name": "tiny-test", "backbone": "tf_efficientnet_lite0"},
        "input": {
            "height": 64,
            "width": 96,
            "colour_order": "RGB",
            "resize": "letterbox",
            "interpolation": "linear",
            "mean": [0.5, 0.5, 0.5],
            "std": [0.5, 0.5, 0.5],
        },
        "embedding": {"size": 8, "l2_normalised": True},
        "decision": {
            "score": "margin3",
            "known_threshold": 0.3,
            "unknown_threshold": 0.12,
            "method": "calibrated",
            "level": "encounter",
            "target_error_rate": 0.05,
            "target_false_unknown_rate": 0.05,
            "error_rate": 0.041,
            "false_unknown_rate": 0.048,
            "unknown_detection_rate": 0.81,
            "review_share": 0.22,
            "auroc": 0.93,
            "validation_set": "synthetic val: 120 known, 40 unknown encounters",
        },
        "tracks": {
            "same_individual": 0.7,
            "method": "calibrated",
            "target_false_join_rate": 0.02,
            "false_join_rate": 0.018,
            "split_rate": 0.04,
            "validation_set": "synthetic val: 300 chips of 120 encounters",
        },
        "training": {"individuals": 12, "images": 300, "split_kind": "open", "seed": 0},
        "created_at": datetime(2026, 11, 27, 10, 0, tzinfo=UTC).isoformat(),
        "software": {"bearid": "0.1.0"},
    }
    card.update(overrides)
    return card


def card_dict_v1(**overrides: Any) -> dict[str, Any]:
    """A valid format-1 card (one threshold on the best similarity) as a plain dict."""
    card = card_dict()
    del card["decision"], card["tracks"]
    card["format_version"] = 1
    card["threshold"] = {
        "value": 0.62,
        "method": "calibrated",
        "target_false_unknown_rate": 0.05,
        "false_unknown_rate": 0.048,
        "unknown_detection_rate": 0.81,
        "auroc": 0.93,
        "validation_set": "synthetic val: 120 known, 40 unknown queries",
    }
    card.update(overrides)
    return card


def make_card(**overrides: Any) -> ModelCard:
    """A valid `ModelCard` (see `card_dict`)."""
    return ModelCard.model_validate(card_dict(**overrides))
