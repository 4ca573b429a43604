"""Scenes as training input: letterboxed exactly as the agent does (`bearagent.detection`),
held in memory as uint8, with their face boxes in input pixels."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from bearagent.detection.card import DetectorInput
from bearagent.detection.letterbox import place
from beartrain.scenes import read_scenes


@dataclass(frozen=True)
class SceneTensors:
    """Scenes at input size: images (N, S, S, 3) uint8 BGR, boxes per image (M, 4) xyxy."""

    images: np.ndarray
    boxes: list[np.ndarray]

    def __len__(self) -> int:
        return int(self.images.shape[0])


def input_spec(size: int) -> DetectorInput:
    """The detector's input: `size` square, letterboxed with grey 114, RGB, 0-1."""
    return DetectorInput(height=size, width=size)


def load_scenes(root: Path, size: int) -> SceneTensors:
    """Every scene of `root` letterboxed to `size`, with its boxes moved along."""
    spec = input_spec(size)
    images, boxes = [], []
    for record in read_scenes(root):
        frame = cv2.imread(str(root / record.file), cv2.IMREAD_COLOR)
        if frame is None:
            raise FileNotFoundError(f"cannot read scene {root / record.file}")
        placed, where = place(frame, spec)
        xyxy = np.array([[f.x1, f.y1, f.x2, f.y2] for f in record.faces], np.float32).reshape(-1, 4)
        xyxy[:, [0, 2]] = xyxy[:, [0, 2]] * where.scale_x + where.left
        xyxy[:, [1, 3]] = xyxy[:, [1, 3]] * where.scale_y + where.top
        images.append(placed)
        boxes.append(xyxy)
    return SceneTensors(np.stack(images), boxes)


def batch_tensors(
    data: SceneTensors, index: np.ndarray, rng: np.random.Generator | None
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Images (B, 3, S, S) float RGB 0-1 and targets (M, 5) class, x1, y1, x2, y2.

    With `rng`, augmented: a horizontal flip for half of them and a little gain.
    """
    images = data.images[index][..., ::-1].astype(np.float32) / 255.0  # BGR -> RGB
    targets = []
    size = images.shape[2]
    for k, i in enumerate(index):
        boxes = data.boxes[int(i)].copy()
        if rng is not None:
            if rng.random() < 0.5:
                images[k] = images[k, :, ::-1]
                boxes[:, [0, 2]] = size - boxes[:, [2, 0]]
            images[k] = np.clip(images[k] * rng.uniform(0.8, 1.2), 0, 1)
        classes = np.zeros((len(boxes), 1), np.float32)
        targets.append(torch.from_numpy(np.concatenate([classes, boxes], axis=1)))
    tensor = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))
    return tensor, targets
