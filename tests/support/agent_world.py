"""A small world for end-to-end agent tests: a model, a gallery of 3 known bears,
unseen encounters of them, a stranger's encounters, and a watched folder."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bearagent.gallery.enroll import enroll_folder
from bearagent.gallery.schema import open_gallery
from bearagent.runtime import RuntimeConfig, open_embedder
from beartrain.synthetic import ChipRecord, SyntheticConfig, encode_jpeg, iter_population
from support.pixel_model import write_pixel_embedder


def clean(individuals: int, encounters: int, first_index: int = 0) -> SyntheticConfig:
    """Studio-clean chips: the test model is downsampled pixels, not a trained network."""
    return SyntheticConfig(
        individuals=individuals,
        first_index=first_index,
        min_encounters=encounters,
        max_encounters=encounters,
        nuisance=0.0,
        infrared_share=0.0,
        occlusion_share=0.0,
        size=64,
    )


@dataclass
class World:
    """A gallery of 3 known bears, chips of their unseen encounters, and a stranger."""

    model: Path
    database: Path
    traps: Path
    unseen: dict[str, list[tuple[ChipRecord, np.ndarray]]]  # known bear -> its last encounter
    stranger: list[list[tuple[ChipRecord, np.ndarray]]]  # a new bear's encounters


def encounters_of(cfg: SyntheticConfig) -> dict[str, list[list[tuple[ChipRecord, np.ndarray]]]]:
    out: dict[str, dict[str, list[tuple[ChipRecord, np.ndarray]]]] = {}
    for record, chip in iter_population(cfg):
        out.setdefault(record.individual, {}).setdefault(record.encounter, []).append(
            (record, chip)
        )
    return {who: list(encs.values()) for who, encs in out.items()}


def make_world(tmp_path: Path) -> World:
    model = write_pixel_embedder(tmp_path / "embedder.onnx", threshold=0.9)
    known = encounters_of(clean(individuals=3, encounters=3))
    enrol = tmp_path / "enrol"
    for who, encounters in known.items():
        (enrol / who).mkdir(parents=True)
        for record, chip in (c for enc in encounters[:-1] for c in enc):
            (enrol / record.path).write_bytes(encode_jpeg(chip, record.captured_at))
    database = tmp_path / "state" / "bearagent.db"
    embedder = open_embedder(RuntimeConfig(model=model))
    enroll_folder(open_gallery(database), enrol, embedder)
    embedder.close()
    stranger = encounters_of(clean(individuals=1, encounters=2, first_index=20))
    traps = tmp_path / "traps"
    (traps / "north").mkdir(parents=True)
    return World(
        model,
        database,
        traps,
        {who: encs[-1] for who, encs in known.items()},
        next(iter(stranger.values())),
    )


def drop(world: World, camera: str, chips: list[tuple[ChipRecord, np.ndarray]]) -> None:
    """Write chips the way a copy tool does: a temporary name, then a rename into place."""
    folder = world.traps / "north" / camera
    folder.mkdir(parents=True, exist_ok=True)
    for record, chip in chips:
        final = folder / Path(record.path).name
        temp = folder / f".{final.name}.part"
        temp.write_bytes(encode_jpeg(chip, record.captured_at))
        os.rename(temp, final)
