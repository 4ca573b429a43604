"""Helpers for gallery, matching and runtime tests: carded tiny models and chip folders."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from bearagent.modelcard import ModelCard, write_model_card
from support.models import card_dict, make_card, write_tiny_embedder

#: Distinct chip colours (BGR): the tiny embedder maps a chip's mean colour to its embedding.
COLOURS: dict[str, tuple[int, int, int]] = {
    "otis": (40, 90, 200),
    "grazer": (200, 60, 30),
    "holly": (30, 200, 60),
    "walker": (120, 20, 160),
}


def carded_model(folder: Path, *, seed: int = 0, name: str = "tiny-test") -> Path:
    """A tiny ONNX embedder with a valid card (inside and beside it) in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    model = write_tiny_embedder(folder / "embedder.onnx", seed=seed)
    write_model_card(model, make_card(model={"name": name, "backbone": "tf_efficientnet_lite0"}))
    return model


def unnormalised_model(folder: Path, embedding_size: int = 8) -> tuple[Path, ModelCard]:
    """An embedder whose outputs are not unit length, carded as such."""
    folder.mkdir(parents=True, exist_ok=True)
    weight = numpy_helper.from_array(
        np.random.default_rng(1).normal(size=(3, embedding_size)).astype(np.float32) * 7,
        name="head.weight",
    )
    graph = helper.make_graph(
        [
            helper.make_node("GlobalAveragePool", ["input"], ["pooled"]),
            helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
            helper.make_node("MatMul", ["flat", "head.weight"], ["embedding"]),
        ],
        "raw_embedder",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 64, 96])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", embedding_size])],
        initializer=[weight],
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    proto.ir_version = 8
    path = folder / "raw.onnx"
    onnx.save(proto, str(path))
    card = ModelCard.model_validate(
        card_dict(embedding={"size": embedding_size, "l2_normalised": False})
    )
    return path, write_model_card(path, card)


def write_chip(path: Path, colour: tuple[int, int, int], *, noise: int = 0, seed: int = 0) -> Path:
    """A small solid-colour PNG chip (optionally with a little noise)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = np.full((48, 40, 3), colour, dtype=np.int16)
    if noise:
        image += np.random.default_rng(seed).integers(-noise, noise + 1, size=image.shape)
    assert cv2.imwrite(str(path), np.clip(image, 0, 255).astype(np.uint8))
    return path


def enrol_tree(
    root: Path, per_individual: int = 2, names: tuple[str, ...] = ("otis", "grazer")
) -> Path:
    """``root/<name>/<k>.png`` chips for `names`, each a slightly noisy version of its colour."""
    for name in names:
        for k in range(per_individual):
            write_chip(root / name / f"{k}.png", COLOURS[name], noise=6, seed=k)
    return root
