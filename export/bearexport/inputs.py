"""Chips for parity checks and INT8 calibration: real ones from a folder, else synthetic.

Real chips are decoded and preprocessed exactly as the agent does it
(`bearagent.chips`), from the model card's `InputSpec`, so parity is measured on
the inputs the field box will see.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bearagent.chips import ChipRejected, decode_chip, preprocess_batch
from bearagent.modelcard import InputSpec
from bearexport.errors import ChipsError

log = logging.getLogger(__name__)

#: File name endings read as chips.
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})


@dataclass(frozen=True)
class ChipBatch:
    """Preprocessed chips (N, 3, H, W) float32 and where each came from."""

    inputs: np.ndarray
    names: list[str]


def list_chips(folder: Path) -> list[Path]:
    """Every image file under `folder`, in a stable order."""
    if not folder.is_dir():
        raise ChipsError(f"chips folder {folder} does not exist: give a folder of face chips")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ChipsError(
            f"no images in {folder}: give a folder with .jpg or .png face chips "
            "(subfolders are searched)"
        )
    return files


def sample_chips(files: list[Path], count: int, skip: int, seed: int) -> list[Path]:
    """`count` files after the first `skip` of a seeded shuffle (disjoint for disjoint skips)."""
    order = np.random.default_rng(seed).permutation(len(files))
    picked = [files[int(i)] for i in order[skip : skip + count]]
    if not picked:  # fewer files than skip: reuse from the start rather than nothing
        log.warning(
            "only %d chips available: calibration reuses the parity chips (give more chips "
            "for an honest INT8 parity figure)",
            len(files),
        )
        picked = [files[int(i)] for i in order[:count]]
    return picked


def load_chip_files(files: list[Path], spec: InputSpec, root: Path) -> ChipBatch:
    """Decode and preprocess files; unreadable ones are skipped with a warning."""
    images, names = [], []
    for path in files:
        try:
            images.append(decode_chip(path.read_bytes(), source=str(path)))
        except ChipRejected as e:
            log.warning("skipping chip %s: %s", path, e)
            continue
        names.append(str(path.relative_to(root)))
    if not images:
        raise ChipsError(f"none of the {len(files)} chips picked under {root} could be decoded")
    return ChipBatch(preprocess_batch(images, spec), names)


def synthetic_chips(spec: InputSpec, count: int, seed: int) -> ChipBatch:
    """`count` synthetic chips, one per synthetic individual (beartrain.synthetic)."""
    from beartrain.synthetic import SyntheticConfig, iter_population

    cfg = SyntheticConfig(
        individuals=count,
        min_encounters=1,
        max_encounters=1,
        min_frames=1,
        max_frames=1,
        size=max(64, spec.height, spec.width),
        seed=seed,
    )
    records, images = [], []
    for record, image in iter_population(cfg):
        records.append(f"synthetic:{record.path}")
        images.append(image)
    return ChipBatch(preprocess_batch(images, spec), records)


def chip_batch(
    folder: Path | None, spec: InputSpec, count: int, *, skip: int = 0, seed: int = 0
) -> ChipBatch:
    """`count` chips from `folder` (after `skip` in a seeded order), else synthetic ones."""
    if count < 1:
        raise ChipsError(f"asked for {count} chips: use at least 1")
    if folder is None:
        return synthetic_chips(spec, count, seed + skip)
    return load_chip_files(sample_chips(list_chips(folder), count, skip, seed), spec, folder)
