"""A small anchor-free YOLO-style face detector that trains on a CPU in minutes.

Backbone: five stride-2 stages of 3x3 convolutions (BN, SiLU); neck: a top-down
path (FPN) onto strides 8, 16 and 32; head: per cell, 4 box distances (left, top,
right, bottom, in strides, through softplus) and one logit per class. For export
`YoloV8Output` decodes the three levels into the ultralytics YOLOv8 raw layout
``[1, 4 + nc, N]`` (cx, cy, w, h in input pixels, sigmoid class scores), so the
agent's one decoder serves it and real exports alike.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

#: Strides of the three output levels.
STRIDES = (8, 16, 32)


def conv(c_in: int, c_out: int, stride: int = 1, kernel: int = 3) -> nn.Sequential:
    """Convolution, batch norm, SiLU."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, bias=False),
        nn.BatchNorm2d(c_out),
        nn.SiLU(inplace=True),
    )


class TinyDetector(nn.Module):
    """Backbone, FPN neck and a shared head; `forward` returns one raw map per level.

    About 55 M multiply-adds per 256 x 256 image at `width` 8: small enough to train
    on a shared 2-core CPU in minutes.
    """

    def __init__(self, classes: int = 1, width: int = 8) -> None:
        super().__init__()
        w = width
        self.classes = classes
        self.stem = nn.Sequential(conv(3, w, 2), conv(w, 2 * w, 2))  # /4
        self.stage2 = nn.Sequential(conv(2 * w, 4 * w, 2), conv(4 * w, 4 * w))  # /8
        self.stage3 = nn.Sequential(conv(4 * w, 6 * w, 2), conv(6 * w, 6 * w))  # /16
        self.stage4 = nn.Sequential(conv(6 * w, 8 * w, 2), conv(8 * w, 8 * w))  # /32
        neck = 4 * w
        self.lateral = nn.ModuleList([conv(c, neck, kernel=1) for c in (4 * w, 6 * w, 8 * w)])
        self.head = nn.Sequential(conv(neck, neck), nn.Conv2d(neck, 4 + classes, 1))
        prior = torch.log(torch.tensor(0.01 / 0.99))  # start rare: few false positives early
        nn.init.constant_(self.head[-1].bias[4:], float(prior))  # type: ignore[index]
        nn.init.constant_(self.head[-1].bias[:4], 0.0)  # type: ignore[index]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        c3 = self.stage2(self.stem(x))
        c4 = self.stage3(c3)
        c5 = self.stage4(c4)
        p5 = self.lateral[2](c5)
        p4 = self.lateral[1](c4) + F.interpolate(p5, size=c4.shape[-2:], mode="nearest")
        p3 = self.lateral[0](c3) + F.interpolate(p4, size=c3.shape[-2:], mode="nearest")
        return [self.head(p) for p in (p3, p4, p5)]


def cell_centres(height: int, width: int, stride: int, device: torch.device) -> torch.Tensor:
    """(H*W, 2) x, y centres of a level's cells in input pixels, row by row."""
    ys, xs = torch.meshgrid(
        torch.arange(height, device=device), torch.arange(width, device=device), indexing="ij"
    )
    return (torch.stack([xs, ys], dim=-1).reshape(-1, 2).float() + 0.5) * stride


def decode_level(raw: torch.Tensor, stride: int) -> tuple[torch.Tensor, torch.Tensor]:
    """One level's raw map (B, 4+nc, H, W) -> boxes (B, H*W, 4) x1 y1 x2 y2, logits (B, H*W, nc)."""
    b, c, h, w = raw.shape
    flat = raw.reshape(b, c, h * w).transpose(1, 2)
    centres = cell_centres(h, w, stride, raw.device)[None]
    dist = F.softplus(flat[..., :4]) * stride  # left, top, right, bottom
    boxes = torch.cat([centres - dist[..., :2], centres + dist[..., 2:]], dim=-1)
    return boxes, flat[..., 4:]


def decode_all(maps: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Every level's boxes and class logits, concatenated: (B, N, 4), (B, N, nc)."""
    parts = [decode_level(m, s) for m, s in zip(maps, STRIDES, strict=True)]
    return torch.cat([p[0] for p in parts], 1), torch.cat([p[1] for p in parts], 1)


class YoloV8Output(nn.Module):
    """The detector with ultralytics YOLOv8's raw output: (1, 4 + nc, N), cx cy w h, scores."""

    def __init__(self, detector: TinyDetector) -> None:
        super().__init__()
        self.detector = detector

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        boxes, logits = decode_all(self.detector(images))
        centre = (boxes[..., :2] + boxes[..., 2:]) / 2
        size = boxes[..., 2:] - boxes[..., :2]
        return torch.cat([centre, size, logits.sigmoid()], dim=-1).transpose(1, 2)
