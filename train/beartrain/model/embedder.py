"""The embedder: a timm backbone, an embedding head, and L2 normalisation.

Export-friendly by construction: plain Linear/BatchNorm/ReLU layers and an L2
normalisation that ONNX (opset 17+) expresses with standard operators.
"""

from __future__ import annotations

from pathlib import Path

import timm
import torch
import torch.nn.functional as F
from torch import nn

from bearagent.errors import BearIdError
from bearagent.modelcard import InputSpec
from beartrain.config import ModelSection
from beartrain.model.weights import load_file_weights, load_package_weights

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class BackboneError(BearIdError):
    """A backbone that timm cannot build or whose weights cannot be loaded."""


class EmbeddingHead(nn.Module):
    """Hidden layers (Linear, BatchNorm, ReLU) of the given widths, then Linear to the embedding."""

    def __init__(self, in_features: int, widths: list[int], embedding_size: int, dropout: float):
        super().__init__()
        layers: list[nn.Module] = [nn.Dropout(dropout)] if dropout > 0 else []
        width = in_features
        for hidden in widths:
            layers += [nn.Linear(width, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True)]
            width = hidden
        layers.append(nn.Linear(width, embedding_size))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Features (N, F) -> raw embeddings (N, E)."""
        out: torch.Tensor = self.layers(x)
        return out


class GrayscaleInput(nn.Module):
    """Normalised RGB in, the same image in grey (ITU-R BT.601 luma) out, normalised alike.

    Linear in the input, so it exports to ONNX as a few elementwise operators and
    the agent's preprocessing contract (the model card) stays as it is. No
    parameters: checkpoints keep their keys.
    """

    mean: torch.Tensor
    std: torch.Tensor
    luma: torch.Tensor

    def __init__(self, mean: tuple[float, float, float], std: tuple[float, float, float]):
        super().__init__()
        shape = (1, 3, 1, 1)
        self.register_buffer("mean", torch.tensor(mean).view(shape), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(shape), persistent=False)
        luma = torch.tensor((0.299, 0.587, 0.114)).view(shape)
        self.register_buffer("luma", luma, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) normalised RGB -> (N, 3, H, W) normalised grey."""
        rgb = x * self.std + self.mean
        grey = (rgb * self.luma).sum(dim=1, keepdim=True)
        return (grey - self.mean) / self.std


class Embedder(nn.Module):
    """(N, 3, H, W) normalised float input -> (N, E) L2-normalised embeddings."""

    def __init__(
        self, backbone: nn.Module, head: EmbeddingHead, input_adapter: nn.Module | None = None
    ) -> None:
        super().__init__()
        self.input_adapter = input_adapter or nn.Identity()
        self.backbone = backbone
        self.head = head

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The backbone's pooled features (N, F) of a normalised input batch."""
        out: torch.Tensor = self.backbone(self.input_adapter(x))
        return out

    @property
    def embedding_size(self) -> int:
        """Width of the output embedding."""
        last = self.head.layers[-1]
        return int(last.out_features) if isinstance(last, nn.Linear) else 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embed a batch; every output row has unit L2 norm."""
        return F.normalize(self.head(self.features(x)), p=2.0, dim=1)


def create_backbone(name: str, pretrained: str) -> nn.Module:
    """A timm backbone without classifier (``num_classes=0``), with the asked-for weights."""
    if name not in timm.list_models():
        raise BackboneError(
            f"timm has no model named {name!r}: pick one from timm.list_models(), "
            "e.g. tf_efficientnet_lite0, resnet18, convnext_tiny"
        )
    if pretrained == "hub":
        try:
            net: nn.Module = timm.create_model(name, pretrained=True, num_classes=0)
        except (OSError, RuntimeError, ValueError) as e:  # offline, no weights, bad cache
            raise BackboneError(
                f"could not download pretrained weights for {name} from the hub ({e}); "
                "offline, use pretrained: package (tf_efficientnet_lite0/1/2), "
                "pretrained: file:PATH, or pretrained: none"
            ) from e
        return net
    net = timm.create_model(name, pretrained=False, num_classes=0)
    if pretrained == "package":
        load_package_weights(name, net)
    elif pretrained.startswith("file:"):
        load_file_weights(Path(pretrained[5:]), net)
    return net


def build_embedder(cfg: ModelSection, *, pretrained: str | None = None) -> Embedder:
    """Build the embedder of `cfg`; `pretrained` overrides cfg.pretrained (e.g. 'none')."""
    backbone = create_backbone(cfg.backbone, pretrained or cfg.pretrained)
    features = int(getattr(backbone, "num_features"))  # noqa: B009 - timm attribute
    head = EmbeddingHead(features, cfg.head_widths, cfg.embedding_size, cfg.dropout)
    adapter = None
    if cfg.grayscale:
        spec = input_spec(cfg)
        adapter = GrayscaleInput(spec.mean, spec.std)
    return Embedder(backbone, head, adapter)


def input_spec(cfg: ModelSection) -> InputSpec:
    """The run's preprocessing contract; mean/std default to the backbone's pretrained cfg."""
    pretrained_cfg = timm.get_pretrained_cfg(cfg.backbone)
    mean = cfg.input.mean or (pretrained_cfg.mean if pretrained_cfg else IMAGENET_MEAN)
    std = cfg.input.std or (pretrained_cfg.std if pretrained_cfg else IMAGENET_STD)
    return InputSpec(
        height=cfg.input.height,
        width=cfg.input.width,
        colour_order=cfg.input.colour_order,
        resize=cfg.input.resize,
        interpolation=cfg.input.interpolation,
        mean=(float(mean[0]), float(mean[1]), float(mean[2])),
        std=(float(std[0]), float(std[1]), float(std[2])),
    )
