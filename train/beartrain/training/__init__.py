"""Training: data with the shared preprocessing, PML components, the loop, run files."""

from beartrain.training.components import (
    ComponentError,
    build_loss,
    build_miner,
    build_optimizer,
    build_sampler,
    build_scheduler,
)
from beartrain.training.data import ChipDataset, build_augmenter
from beartrain.training.distributed import DeviceError
from beartrain.training.epoch import TrainStep, embed_rows
from beartrain.training.loop import FitResult, fit

__all__ = [
    "ChipDataset",
    "ComponentError",
    "DeviceError",
    "FitResult",
    "TrainStep",
    "build_augmenter",
    "build_loss",
    "build_miner",
    "build_optimizer",
    "build_sampler",
    "build_scheduler",
    "embed_rows",
    "fit",
]
