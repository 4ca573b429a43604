"""Chips as tensors: decoded and preprocessed by the agent's own rule (`bearagent.chips`).

Training augmentations work on the decoded uint8 image (torchvision v2, in RGB)
and hand it back to `bearagent.chips.preprocess`, so training, evaluation and the
field box share one resize and normalisation. With augmentation off, an item is
exactly ``preprocess(decode_chip(bytes), spec)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset
from torchvision.transforms import v2  # type: ignore[import-untyped]

from bearagent.chips import decode_chip, preprocess
from bearagent.modelcard import InputSpec
from beartrain.config import AugmentSection
from beartrain.data.splitfile import SplitRow


def build_augmenter(cfg: AugmentSection) -> torch.nn.Module:
    """The configured augmentations on an RGB uint8 (3, H, W) tensor; the size is kept."""
    steps: list[torch.nn.Module] = []
    if cfg.rotation_deg > 0:
        steps.append(v2.RandomRotation(cfg.rotation_deg))
    if max(cfg.brightness, cfg.contrast, cfg.saturation, cfg.hue) > 0:
        steps.append(v2.ColorJitter(cfg.brightness, cfg.contrast, cfg.saturation, cfg.hue))
    if cfg.blur_prob > 0:
        steps.append(v2.RandomApply([v2.GaussianBlur(5, sigma=cfg.blur_sigma)], p=cfg.blur_prob))
    augmenter: torch.nn.Module = v2.Compose(steps) if steps else v2.Identity()
    return augmenter


class ChipDataset(Dataset[tuple[torch.Tensor, int]]):
    """Split rows -> (normalised (3, H, W) float32 tensor, label index)."""

    def __init__(
        self,
        root: Path,
        rows: Sequence[SplitRow],
        spec: InputSpec,
        label_index: dict[str, int] | None = None,
        augment: AugmentSection | None = None,
    ) -> None:
        self.root = root
        self.rows = list(rows)
        self.spec = spec
        names = sorted({r.individual for r in self.rows})
        self.label_index = label_index or {name: i for i, name in enumerate(names)}
        self._augment = (augment, build_augmenter(augment)) if augment is not None else None

    def __len__(self) -> int:
        return len(self.rows)

    def labels(self) -> list[int]:
        """Label index of every row (-1 for individuals outside `label_index`)."""
        return [self.label_index.get(r.individual, -1) for r in self.rows]

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        row = self.rows[i]
        path = self.root / row.path
        image = decode_chip(path.read_bytes(), source=str(path))
        if self._augment is not None:
            image = _augmented(image, *self._augment)
        return torch.from_numpy(preprocess(image, self.spec)), self.label_index.get(
            row.individual, -1
        )


def _augmented(bgr: np.ndarray, cfg: AugmentSection, augmenter: torch.nn.Module) -> np.ndarray:
    """Augment a BGR uint8 image in RGB with torchvision; returns BGR uint8 of the same size."""
    rgb = torch.from_numpy(np.ascontiguousarray(bgr[:, :, ::-1].transpose(2, 0, 1)))
    if tuple(cfg.crop_scale) != (1.0, 1.0):
        # Crop, then resize back to the chip's own size: the shared rule does the rest.
        size = (rgb.shape[1], rgb.shape[2])
        rgb = v2.RandomResizedCrop(size, scale=cfg.crop_scale, antialias=True)(rgb)
    out: torch.Tensor = augmenter(rgb)
    return np.ascontiguousarray(out.numpy().transpose(1, 2, 0)[:, :, ::-1])
