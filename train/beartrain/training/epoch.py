"""One training epoch, and embedding a split for evaluation."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm  # type: ignore[import-untyped]

from bearagent.modelcard import InputSpec
from beartrain.data.splitfile import SplitRow
from beartrain.evaluation import EmbeddedSet
from beartrain.model import Embedder
from beartrain.training.data import ChipDataset


class TrainStep(nn.Module):
    """Embedder + miner + loss as one module, so DDP syncs the loss's parameters too."""

    def __init__(self, model: Embedder, loss: nn.Module, miner: nn.Module | None) -> None:
        super().__init__()
        self.model = model
        self.loss = loss
        self.miner = miner

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The loss of one batch (embeddings may be half precision; the loss is float32)."""
        emb = self.model(images).float()
        with torch.autocast(device_type=images.device.type, enabled=False):
            tuples = self.miner(emb, labels) if self.miner is not None else None
            out: torch.Tensor = self.loss(emb, labels, tuples)
        return out


def train_one_epoch(
    step: nn.Module,
    loader: DataLoader[tuple[torch.Tensor, int]],
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    device: torch.device,
    *,
    amp: bool,
    scaler: torch.amp.GradScaler | None,
    progress: bool,
    desc: str,
    frozen_norm: nn.Module | None = None,
) -> float:
    """Train for one pass of `loader`; returns the mean batch loss.

    BatchNorm layers inside `frozen_norm` (the backbone, when the config says so)
    stay in eval mode: their running statistics are used, not updated.
    """
    step.train()
    if frozen_norm is not None:
        for module in frozen_norm.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.eval()
    total, batches = 0.0, 0
    for images, labels in tqdm(loader, desc=desc, disable=not progress, leave=False):
        images, labels = images.to(device, non_blocking=True), labels.to(device)
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device_type=device.type, dtype=torch.float16, enabled=amp):
            loss = step(images, labels)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()
        scheduler.step()
        total += float(loss.detach())
        batches += 1
    return total / max(batches, 1)


@torch.no_grad()
def embed_rows(
    model: Embedder,
    root: Path,
    rows: Sequence[SplitRow],
    spec: InputSpec,
    device: torch.device,
    *,
    batch_size: int = 64,
    num_workers: int = 0,
) -> EmbeddedSet:
    """Embed chips (no augmentation: decode_chip + preprocess, the agent's rule)."""
    model.eval()
    dataset = ChipDataset(root, rows, spec, label_index={})
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=num_workers)
    parts = [model(images.to(device)).float().cpu().numpy() for images, _ in loader]
    width = model.embedding_size
    embeddings = np.concatenate(parts) if parts else np.zeros((0, width), dtype=np.float32)
    return EmbeddedSet(
        embeddings.astype(np.float32),
        [r.individual for r in rows],
        [r.encounter for r in rows],
        np.array([r.known for r in rows], dtype=bool),
    )
