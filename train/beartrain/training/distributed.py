"""Multi-GPU training under ``torchrun`` (DDP), and the single-process default.

torchrun sets WORLD_SIZE, RANK and LOCAL_RANK; without them (or with one
process) nothing distributed happens. Each rank draws its own batches (its own
sampler seed); gradients are averaged by DDP; rank 0 alone evaluates and writes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from bearagent.errors import BearIdError


class DeviceError(BearIdError):
    """A device that was asked for but is not available."""


@dataclass(frozen=True)
class Context:
    """Where this process trains: its device, rank and the world size."""

    device: torch.device
    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        """Whether this process evaluates, logs and writes files."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """Whether several processes train together."""
        return self.world_size > 1


def pick_device(name: str, local_rank: int = 0) -> torch.device:
    """'auto' -> CUDA when available else CPU; 'cuda' under torchrun -> this rank's GPU."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceError(f"train.device is {name} but CUDA is not available: use cpu or auto")
        if name == "cuda":
            name = f"cuda:{local_rank}"
    return torch.device(name)


def setup(device_name: str) -> Context:
    """Join the torchrun process group when launched by torchrun; else a local context."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Context(pick_device(device_name))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = pick_device(device_name, local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return Context(device, dist.get_rank(), world_size)


def broadcast_flag(ctx: Context, flag: bool) -> bool:
    """Rank 0's decision (e.g. early stop), shared with every rank."""
    if not ctx.distributed:
        return flag
    t = torch.tensor([int(flag)], device=ctx.device)
    dist.broadcast(t, src=0)
    return bool(t.item())


def teardown(ctx: Context) -> None:
    """Leave the process group (when there is one)."""
    if ctx.distributed and dist.is_initialized():
        dist.destroy_process_group()
