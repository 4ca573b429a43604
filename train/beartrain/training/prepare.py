"""Everything one fit needs, built from the config: data, model, loss, optimizer, schedule."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from bearagent.modelcard import InputSpec, TrainingSummary
from beartrain.checkpoint import Checkpoint, CheckpointError
from beartrain.config import TrainConfig, TrainConfigError
from beartrain.data.splitfile import Split, read_split
from beartrain.model import Embedder, build_embedder, input_spec
from beartrain.model.head_init import init_head_lda
from beartrain.training.components import (
    build_loss,
    build_miner,
    build_optimizer,
    build_sampler,
    build_scheduler,
)
from beartrain.training.data import ChipDataset
from beartrain.training.distributed import Context
from beartrain.training.epoch import TrainStep
from beartrain.training.negatives import NegativesLoss, negative_individuals
from beartrain.training.state import LoopState, seed_everything

log = logging.getLogger(__name__)


@dataclass
class Run:
    """A fit in progress."""

    cfg: TrainConfig
    ctx: Context
    out: Path
    split: Split
    spec: InputSpec
    label_names: list[str]
    summary: TrainingSummary
    model: Embedder
    loss: nn.Module
    step: nn.Module  # TrainStep, DDP-wrapped when distributed
    loader: DataLoader[tuple[torch.Tensor, int]]
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    scaler: torch.amp.GradScaler | None
    state: LoopState


def load_split(cfg: TrainConfig) -> Split:
    """The split named by data.split, with at least two individuals in train."""
    if cfg.data.split is None:
        raise TrainConfigError(
            "data.split is not set: point it at a folder made by `bear-train split` "
            "(in the config or with --set data.split=PATH)"
        )
    split = read_split(cfg.data.split)
    if len({r.individual for r in split.train}) < 2:
        raise TrainConfigError(f"the split {cfg.data.split} has fewer than 2 individuals in train")
    return split


def prepare(
    cfg: TrainConfig,
    out: Path,
    ctx: Context,
    resume: Checkpoint | None,
    negatives: float = 0.0,
) -> Run:
    """Build the run; with `resume`, restore weights, optimizer, schedule and loop state.

    `negatives`: the share of train individuals held out of the classes as explicit
    negatives (`beartrain.training.negatives`).
    """
    split = load_split(cfg)
    everyone = sorted({r.individual for r in split.train})
    held_out = negative_individuals(everyone, negatives, cfg.train.seed)
    label_names = [name for name in everyone if name not in held_out]
    seed_everything(cfg.train.seed)
    model = build_embedder(cfg.model, pretrained="none" if resume else None).to(ctx.device)
    loss = build_loss(cfg.loss, len(label_names), cfg.model.embedding_size)
    if held_out:
        log.info("%d of %d train individuals are negatives", len(held_out), len(everyone))
        loss = NegativesLoss(loss)
    loss = loss.to(ctx.device)
    spec = input_spec(cfg.model)
    loader = _train_loader(cfg, split, spec, label_names, ctx)
    if cfg.model.head_init == "lda" and resume is None:
        init_head_from_split(
            model, split, spec, label_names, loss, ctx.device, cfg.train.num_workers
        )
    step: nn.Module = TrainStep(model, loss, build_miner(cfg.miner))
    if cfg.distill.teacher is not None:
        loss, step = _distill_step(cfg, cfg.distill.teacher, model, loss, spec, ctx)
    if ctx.distributed:
        ids = [ctx.device.index] if ctx.device.type == "cuda" else None
        step = DistributedDataParallel(step, device_ids=ids)
    optimizer = build_optimizer(cfg.optimizer, model, loss)
    scheduler = build_scheduler(cfg.schedule, optimizer, len(loader), cfg.train.epochs)
    amp = cfg.train.amp and ctx.device.type == "cuda"
    summary = TrainingSummary(
        individuals=len(everyone),
        images=len(split.train),
        split_kind=split.kind,
        seed=split.seed,
        dataset=cfg.data.dataset or str(split.root),
    )
    run = Run(
        cfg,
        ctx,
        out,
        split,
        spec,
        label_names,
        summary,
        model,
        loss,
        step,
        loader,
        optimizer,
        scheduler,
        torch.amp.GradScaler("cuda") if amp else None,
        LoopState(),
    )
    if resume is not None:
        restore(run, resume)
    return run


def _distill_step(
    cfg: TrainConfig,
    teacher_path: Path,
    model: Embedder,
    metric: nn.Module,
    spec: InputSpec,
    ctx: Context,
) -> tuple[nn.Module, nn.Module]:
    """The distillation loss and step around the frozen teacher of ``distill.teacher``."""
    from beartrain.checkpoint import load_checkpoint
    from beartrain.training.distill import DistillLoss, DistillStep, TeacherInput

    teacher = load_checkpoint(teacher_path)
    net = teacher.build_model().to(ctx.device)
    loss = DistillLoss(metric, cfg.model.embedding_size, teacher.embedding_size, cfg.distill)
    loss = loss.to(ctx.device)
    adapt = TeacherInput(spec, teacher.input_spec).to(ctx.device)
    log.info(
        "distilling %s (%s, %dx%d, %d-d) into %s",
        teacher_path,
        teacher.backbone,
        teacher.input_spec.height,
        teacher.input_spec.width,
        teacher.embedding_size,
        cfg.model.backbone,
    )
    return loss, DistillStep(model, loss, build_miner(cfg.miner), net, adapt)


def _train_loader(
    cfg: TrainConfig, split: Split, spec: InputSpec, label_names: list[str], ctx: Context
) -> DataLoader[tuple[torch.Tensor, int]]:
    """Augmented train chips in m-per-class batches."""
    index = {name: i for i, name in enumerate(label_names)}
    dataset = ChipDataset(split.root, split.train, spec, index, augment=cfg.augment)
    return DataLoader(
        dataset,
        batch_size=cfg.sampler.batch_size,
        sampler=build_sampler(cfg.sampler, dataset.labels()),
        num_workers=cfg.train.num_workers,
        drop_last=True,
        pin_memory=ctx.device.type == "cuda",
        persistent_workers=cfg.train.num_workers > 0,
    )


def init_head_from_split(
    model: Embedder,
    split: Split,
    spec: InputSpec,
    label_names: list[str],
    loss: nn.Module | None,
    device: torch.device,
    num_workers: int = 0,
) -> None:
    """Fit the head (and ArcFace's class centres) by LDA on the train chips' backbone features.

    Chips as evaluation sees them (no augmentation). Runs before the DDP wrap, which
    then copies rank 0's weights (head and loss included) to every rank.
    """
    index = {name: i for i, name in enumerate(label_names)}
    rows = [r for r in split.train if r.individual in index]  # held-out negatives: no class
    dataset = ChipDataset(split.root, rows, spec, index)
    loader = DataLoader(dataset, batch_size=64, num_workers=num_workers)
    model.eval()
    with torch.no_grad():
        features = torch.cat([model.features(x.to(device)).float() for x, _ in loader])
    init_head_lda(model, features, dataset.labels(), loss)
    log.info("head started from LDA on %d train chips", len(dataset))


def restore(run: Run, ckpt: Checkpoint) -> None:
    """Continue from `ckpt`: same model and labels, then weights and optimizer state."""
    if ckpt.config.model != run.cfg.model:
        raise CheckpointError(
            f"{ckpt.path} was trained with another model section; resume with its own "
            "config.yaml (the run folder has it)"
        )
    if ckpt.label_names != run.label_names:
        raise CheckpointError(f"{ckpt.path} was trained on other individuals than data.split")
    if not ckpt.resume:
        raise CheckpointError(f"{ckpt.path} has no resume state: resume from last.pt")
    run.model.load_state_dict(ckpt.model_state)
    run.loss.load_state_dict(ckpt.resume["loss"])
    run.optimizer.load_state_dict(ckpt.resume["optimizer"])
    run.scheduler.load_state_dict(ckpt.resume["scheduler"])
    if run.scaler is not None and ckpt.resume.get("scaler"):
        run.scaler.load_state_dict(ckpt.resume["scaler"])
    run.state = LoopState.from_dict(ckpt.resume["loop"])
