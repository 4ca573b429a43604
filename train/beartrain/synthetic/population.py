"""A synthetic population: individuals, their encounters (bursts), and the chips on disk.

Deterministic for a given `SyntheticConfig`: the same seed writes the same bytes.
Each encounter is one individual in front of one camera: a burst of
near-identical frames a second or two apart that share pose, light and
background. Chips are written as ``<root>/<individual>/<image>.jpg`` with the
camera, capture time and a running image number in the file name, the capture time in EXIF
``DateTimeOriginal`` (+ ``OffsetTimeOriginal``), and a ground-truth
``metadata.csv`` at the root.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from bearagent.errors import BearIdError
from beartrain.synthetic.appearance import Appearance, make_appearance
from beartrain.synthetic.render import Shot, render_chip, render_face

#: Column order of metadata.csv (the same columns bear-train reads).
METADATA_COLUMNS = ("path", "individual", "camera", "captured_at", "encounter")
#: File name pattern: camera, capture time, and a running image number as cameras keep.
FILENAME_FORMAT = "{camera}_{time:%Y%m%d-%H%M%S}_{number:05d}.jpg"


#: First possible capture time: a spring morning in a Central European summer-time zone.
DEFAULT_START = datetime(2026, 5, 1, 5, 0, tzinfo=timezone(timedelta(hours=2)))


class SyntheticConfigError(BearIdError, ValueError):
    """A synthetic population that cannot be generated as asked."""


@dataclass(frozen=True)
class SyntheticConfig:
    """What population to generate."""

    individuals: int = 12
    min_encounters: int = 3
    max_encounters: int = 6
    min_frames: int = 2
    max_frames: int = 5
    cameras: int = 4
    size: int = 128
    seed: int = 0
    start: datetime = DEFAULT_START
    days: int = 60
    nuisance: float = 1.0  # 0 = studio shots, 1 = camera-trap conditions
    infrared_share: float = 0.2
    occlusion_share: float = 0.15
    jpeg_quality: int = 90
    first_index: int = 0  # individuals are bear-<first_index>... (for held-out sets)

    def __post_init__(self) -> None:
        problems = []
        for low, high in (("min_encounters", "max_encounters"), ("min_frames", "max_frames")):
            if getattr(self, low) > getattr(self, high):
                problems.append(
                    f"{low} ({getattr(self, low)}) must not exceed {high} ({getattr(self, high)})"
                )
        for name in ("individuals", "min_encounters", "min_frames", "cameras", "days"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.size < 16:
            problems.append(f"size must be at least 16 pixels, got {self.size}")
        if not 0.0 <= self.nuisance <= 1.0:
            problems.append(f"nuisance must be between 0 and 1, got {self.nuisance}")
        if problems:
            raise SyntheticConfigError("invalid synthetic population: " + "; ".join(problems))


@dataclass(frozen=True)
class ChipRecord:
    """One generated chip and its ground truth."""

    path: str  # relative to the population root: <individual>/<file>.jpg
    individual: str
    camera: str
    captured_at: datetime
    encounter: str
    frame: int


#: Names of synthetic individuals (readable in the demo; never id-like, such as bear-0001).
NAMES = (
    "Otis", "Holly", "Grazer", "Walker", "Chunk", "Dive", "Kirby", "Beadnose", "Bucky",
    "Fanny", "Lefty", "Patches", "Ruby", "Sara", "Chestnut", "Luna", "Bruno", "Ivy", "Maple",
    "Juniper", "Hazel", "Cedar", "Willow", "Aspen", "Rowan", "Birch", "Sage", "Basil",
    "Clover", "Fern", "Moss", "Pebble", "Ember", "Flint", "Dusk", "Tundra", "Nutmeg",
    "Thistle", "Yarrow", "Sorrel",
)  # fmt: skip


def individual_name(index: int) -> str:
    """The name of the `index`-th individual: ``Otis``, ``Holly``, ..., then ``Otis1``."""
    lap, position = divmod(index, len(NAMES))
    return NAMES[position] + (str(lap) if lap else "")


def _encounter_shot(rng: np.random.Generator, cfg: SyntheticConfig) -> Shot:
    n = cfg.nuisance
    infrared = bool(rng.random() < cfg.infrared_share)
    occluded = bool(rng.random() < cfg.occlusion_share)
    cast = [float(c) for c in rng.uniform(1 - 0.1 * n, 1 + 0.1 * n, 3)]
    line = [float(v) for v in rng.uniform(0, 1, 4)]
    # Earthy backgrounds: vegetation, soil, rock (B, G, R).
    bg = [int(v) for v in rng.integers((25, 50, 40), (110, 150, 140))]
    return Shot(
        angle_deg=float(rng.normal(0, 12 * n)),
        scale=float(rng.uniform(1 - 0.15 * n, 1 + 0.1 * n)),
        shift_x=float(rng.normal(0, 0.04 * n)),
        shift_y=float(rng.normal(0, 0.04 * n)),
        gain=float(rng.uniform(1 - 0.35 * n, 1 + 0.25 * n)) * (1.3 if infrared else 1.0),
        gamma=float(rng.uniform(1 - 0.2 * n, 1 + 0.25 * n)),
        cast=(cast[0], cast[1], cast[2]),
        infrared=infrared,
        blur_sigma=float(rng.uniform(0, 1.2 * n)),
        noise_sigma=float(rng.uniform(1, 1 + 7 * n)),
        occlusion=(line[0], line[1], line[2], line[3]) if occluded else None,
        background=(bg[0], bg[1], bg[2]),
        background_seed=int(rng.integers(0, 2**31 - 1)),
    )


def _frame_shot(base: Shot, rng: np.random.Generator) -> Shot:
    """A frame of a burst: the encounter's shot with a little jitter and its own noise."""
    return replace(
        base,
        angle_deg=base.angle_deg + float(rng.normal(0, 2)),
        scale=base.scale * float(rng.uniform(0.98, 1.02)),
        shift_x=base.shift_x + float(rng.normal(0, 0.01)),
        shift_y=base.shift_y + float(rng.normal(0, 0.01)),
        gain=base.gain * float(rng.uniform(0.97, 1.03)),
        noise_seed=int(rng.integers(0, 2**31 - 1)),
    )


def iter_population(cfg: SyntheticConfig) -> Iterator[tuple[ChipRecord, np.ndarray]]:
    """Yield every chip of the population as (record, BGR image), individual by individual."""
    encounter_no = number = 0
    for index in range(cfg.first_index, cfg.first_index + cfg.individuals):
        name = individual_name(index)
        appearance: Appearance = make_appearance(name, np.random.SeedSequence([cfg.seed, index, 0]))
        face, mask = render_face(appearance)
        rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, index, 1]))
        for _ in range(int(rng.integers(cfg.min_encounters, cfg.max_encounters + 1))):
            encounter_no += 1
            encounter = f"{name}-e{encounter_no:04d}"
            camera = f"cam{int(rng.integers(1, cfg.cameras + 1)):02d}"
            offset = timedelta(seconds=int(rng.integers(0, cfg.days * 86400)))
            when = cfg.start + offset
            base = _encounter_shot(rng, cfg)
            for frame in range(int(rng.integers(cfg.min_frames, cfg.max_frames + 1))):
                chip = render_chip(face, mask, _frame_shot(base, rng), cfg.size)
                number += 1
                file = FILENAME_FORMAT.format(camera=camera, time=when, number=number)
                yield ChipRecord(f"{name}/{file}", name, camera, when, encounter, frame), chip
                when += timedelta(seconds=int(rng.integers(1, 3)))


def encode_jpeg(chip_bgr: np.ndarray, captured_at: datetime, quality: int = 90) -> bytes:
    """JPEG bytes of a chip with EXIF DateTimeOriginal (and its UTC offset when known)."""
    image = Image.fromarray(cv2.cvtColor(chip_bgr, cv2.COLOR_BGR2RGB))
    exif = Image.Exif()
    ifd = exif.get_ifd(0x8769)
    ifd[0x9003] = captured_at.strftime("%Y:%m:%d %H:%M:%S")
    if captured_at.utcoffset() is not None:
        ifd[0x9011] = captured_at.strftime("%z")[:3] + ":" + captured_at.strftime("%z")[3:]
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, exif=exif)
    return out.getvalue()


def write_population(root: Path, cfg: SyntheticConfig) -> list[ChipRecord]:
    """Write the population under `root` (chips and metadata.csv); return the records."""
    records = []
    for record, chip in iter_population(cfg):
        target = root / record.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(encode_jpeg(chip, record.captured_at, cfg.jpeg_quality))
        records.append(record)
    with (root / "metadata.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(METADATA_COLUMNS)
        for r in records:
            writer.writerow(
                [r.path, r.individual, r.camera, r.captured_at.isoformat(), r.encounter]
            )
    return records
