"""Which cells learn which face (centre sampling per level), and the detector's loss.

A cell is a positive for a face when its centre lies inside the face's box, within
`RADIUS` strides of the box centre, and the face's size suits the cell's level
(`LEVEL_SIZES`); a cell claimed by two faces takes the smaller. A face too small
for any cell gets the nearest stride-8 cell. Loss: quality focal loss on every cell's
class logits (a positive's target is the IoU of its predicted box with its face, so
scores rank boxes by how well they fit, as YOLOv8's aligned targets do) plus GIoU on
the positives' boxes, both per positive.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torchvision.ops import (  # type: ignore[import-untyped]
    box_iou,
    generalized_box_iou_loss,
)

from beartrain.detector.model import STRIDES, cell_centres

#: Centre sampling radius, in strides.
RADIUS = 1.5
#: Longest box side (input pixels) each level learns: [low, high).
LEVEL_SIZES = ((0.0, 64.0), (40.0, 128.0), (96.0, 1e9))
BOX_WEIGHT = 2.0


def anchors(shapes: list[tuple[int, int]], device: torch.device) -> tuple[torch.Tensor, ...]:
    """Every cell's centre (N, 2), stride (N,), and size range (N, 2), level by level."""
    centres, strides, ranges = [], [], []
    for (h, w), stride, size in zip(shapes, STRIDES, LEVEL_SIZES, strict=True):
        c = cell_centres(h, w, stride, device)
        centres.append(c)
        strides.append(torch.full((len(c),), float(stride), device=device))
        ranges.append(torch.tensor(size, device=device).expand(len(c), 2))
    return torch.cat(centres), torch.cat(strides), torch.cat(ranges)


def assign(
    gt: torch.Tensor, centres: torch.Tensor, strides: torch.Tensor, ranges: torch.Tensor
) -> torch.Tensor:
    """For each cell, the index of the face it learns (-1: background). `gt`: (M, 4) xyxy."""
    n = centres.shape[0]
    if gt.shape[0] == 0:
        return torch.full((n,), -1, dtype=torch.long, device=centres.device)
    x, y = centres[:, 0:1], centres[:, 1:2]  # (N, 1)
    x1, y1, x2, y2 = (gt[:, i][None] for i in range(4))  # (1, M)
    inside = (x > x1) & (x < x2) & (y > y1) & (y < y2)
    near = ((x - (x1 + x2) / 2).abs() < RADIUS * strides[:, None]) & (
        (y - (y1 + y2) / 2).abs() < RADIUS * strides[:, None]
    )
    longest = torch.maximum(x2 - x1, y2 - y1)
    fits = (longest >= ranges[:, 0:1]) & (longest < ranges[:, 1:2])
    area = ((x2 - x1) * (y2 - y1)).expand(n, -1)
    cost = torch.where(inside & near & fits, area, torch.full_like(area, float("inf")))
    best, owner = cost.min(dim=1)
    owner = torch.where(torch.isfinite(best), owner, torch.full_like(owner, -1))
    for m in range(gt.shape[0]):  # a face no cell took: the nearest stride-8 cell
        if not (owner == m).any():
            finest = strides == STRIDES[0]
            centre = torch.stack([(x1[0, m] + x2[0, m]) / 2, (y1[0, m] + y2[0, m]) / 2])
            distance = ((centres - centre) ** 2).sum(1).masked_fill(~finest, float("inf"))
            owner[distance.argmin()] = m
    return owner


def quality_focal_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Sum of BCE against soft targets, each weighted by |target - sigmoid(logit)|^2."""
    weight = (target - logits.sigmoid()).abs().pow(2)
    return (F.binary_cross_entropy_with_logits(logits, target, reduction="none") * weight).sum()


def detection_loss(
    boxes: torch.Tensor,
    logits: torch.Tensor,
    targets: list[torch.Tensor],
    shapes: list[tuple[int, int]],
) -> tuple[torch.Tensor, dict[str, float]]:
    """Loss of a batch: `boxes` (B, N, 4) and `logits` (B, N, nc) from `decode_all`,
    `targets` one (M, 5) tensor per image: class, x1, y1, x2, y2 in input pixels."""
    centres, strides, ranges = anchors(shapes, boxes.device)
    cls_target = torch.zeros_like(logits)
    pred, wanted = [], []
    for b, target in enumerate(targets):
        owner = assign(target[:, 1:], centres, strides, ranges)
        positive = owner >= 0
        faces = target[owner[positive], 1:]
        with torch.no_grad():
            fit = box_iou(boxes[b, positive], faces).diagonal().clamp(min=0.05)
        cls_target[b, positive, target[owner[positive], 0].long()] = fit
        pred.append(boxes[b, positive])
        wanted.append(faces)
    positives = max(1.0, float(sum(len(p) for p in pred)))
    cls = quality_focal_loss(logits, cls_target) / positives
    box_pred, box_want = torch.cat(pred), torch.cat(wanted)
    box = (
        generalized_box_iou_loss(box_pred, box_want, reduction="sum") / positives
        if len(box_pred)
        else boxes.sum() * 0.0
    )
    total = cls + BOX_WEIGHT * box
    return total, {"cls": float(cls.detach()), "box": float(box.detach()), "positives": positives}
