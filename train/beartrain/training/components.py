"""Loss, miner, sampler, optimizer and schedule, each picked by name from the config.

Losses and miners are pytorch-metric-learning classes. Mining names map to PML
miners: ``easy``/``semi_hard``/``hard`` are `TripletMarginMiner` with
``type_of_triplets`` easy/semihard/hard (pair losses receive the triplets as pairs).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from pytorch_metric_learning import losses, miners
from pytorch_metric_learning.samplers import MPerClassSampler
from torch import nn
from torch.optim.lr_scheduler import LambdaLR

from bearagent.errors import BearIdError
from beartrain.config import (
    LossSection,
    MinerSection,
    OptimizerSection,
    SamplerSection,
    ScheduleSection,
)
from beartrain.model import Embedder

_LOSSES: dict[str, type[nn.Module]] = {
    "contrastive": losses.ContrastiveLoss,
    "triplet_margin": losses.TripletMarginLoss,
    "circle": losses.CircleLoss,
    "arcface": losses.ArcFaceLoss,
}
_TRIPLET_TYPES = {"easy": "easy", "semi_hard": "semihard", "hard": "hard"}


class ComponentError(BearIdError):
    """A loss, miner, sampler or optimizer setting that cannot be built."""


def build_loss(cfg: LossSection, num_classes: int, embedding_size: int) -> nn.Module:
    """The named PML loss with `cfg.params`; ArcFace also gets the class count and size."""
    cls = _LOSSES[cfg.name]
    params = cfg.params.get(cfg.name, {})
    kwargs: dict[str, float | int] = dict(params)
    if cfg.name == "arcface":
        kwargs.update(num_classes=num_classes, embedding_size=embedding_size)
    try:
        return cls(**kwargs)
    except TypeError as e:
        raise ComponentError(
            f"loss {cfg.name} does not accept the parameters {sorted(params)} ({e}): "
            f"check loss.params.{cfg.name} against the pytorch-metric-learning documentation"
        ) from e


def build_miner(cfg: MinerSection) -> nn.Module | None:
    """None for 'none', else a `TripletMarginMiner` of the named difficulty."""
    if cfg.name == "none":
        return None
    miner: nn.Module = miners.TripletMarginMiner(
        margin=cfg.margin, type_of_triplets=_TRIPLET_TYPES[cfg.name]
    )
    return miner


def build_sampler(cfg: SamplerSection, labels: Sequence[int]) -> MPerClassSampler:
    """m chips of each of batch_size/m individuals per batch, about one pass over train."""
    classes = len(set(labels))
    if cfg.batch_size % cfg.m_per_class:
        raise ComponentError(
            f"sampler.batch_size ({cfg.batch_size}) must be a multiple of "
            f"sampler.m_per_class ({cfg.m_per_class})"
        )
    if cfg.m_per_class * classes < cfg.batch_size:
        raise ComponentError(
            f"a batch of {cfg.batch_size} with {cfg.m_per_class} per individual needs at least "
            f"{cfg.batch_size // cfg.m_per_class} individuals in train, there are {classes}: "
            "lower sampler.batch_size"
        )
    # MPerClassSampler draws with Python's and numpy's global RNGs: seed them per epoch/rank.
    length = max(len(labels) - len(labels) % cfg.batch_size, cfg.batch_size)
    return MPerClassSampler(list(labels), cfg.m_per_class, cfg.batch_size, length)


def build_optimizer(
    cfg: OptimizerSection, model: Embedder, loss: nn.Module
) -> torch.optim.Optimizer:
    """One optimizer, three parameter groups: backbone (lr / ratio), head (lr), loss (loss_lr)."""
    groups = [
        {"params": list(model.backbone.parameters()), "lr": cfg.lr / cfg.backbone_lr_ratio},
        {"params": list(model.head.parameters()), "lr": cfg.lr},
    ]
    loss_params = list(loss.parameters())
    if loss_params:
        groups.append({"params": loss_params, "lr": cfg.loss_lr})
    if cfg.name == "sgd":
        return torch.optim.SGD(groups, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    if cfg.name == "adam":
        return torch.optim.Adam(groups, weight_decay=cfg.weight_decay)
    return torch.optim.AdamW(groups, weight_decay=cfg.weight_decay)


def build_scheduler(
    cfg: ScheduleSection, optimizer: torch.optim.Optimizer, steps_per_epoch: int, epochs: int
) -> LambdaLR:
    """Per-step multiplier: linear warmup to 1, then cosine down to min_lr_ratio.

    The backbone (parameter group 0) stays at 0 for the first freeze_backbone_epochs.
    """
    warmup = round(cfg.warmup_epochs * steps_per_epoch)
    total = max(epochs * steps_per_epoch, 1)
    frozen = round(cfg.freeze_backbone_epochs * steps_per_epoch)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min((step - warmup) / max(total - warmup, 1), 1.0)
        return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    def backbone_factor(step: int) -> float:
        return 0.0 if step < frozen else factor(step)

    others = [factor] * (len(optimizer.param_groups) - 1)
    return LambdaLR(optimizer, [backbone_factor, *others])
