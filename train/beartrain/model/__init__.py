"""The embedder network: timm backbone + embedding head, and where its weights come from."""

from beartrain.model.embedder import (
    BackboneError,
    Embedder,
    EmbeddingHead,
    build_embedder,
    create_backbone,
    input_spec,
)
from beartrain.model.tta import FlipAveraged
from beartrain.model.weights import (
    WeightsError,
    load_package_weights,
    map_package_state,
    package_weights_path,
)

__all__ = [
    "BackboneError",
    "Embedder",
    "EmbeddingHead",
    "FlipAveraged",
    "WeightsError",
    "build_embedder",
    "create_backbone",
    "input_spec",
    "load_package_weights",
    "map_package_state",
    "package_weights_path",
]
