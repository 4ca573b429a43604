"""Scenes of the synthetic population: deterministic for a `SceneConfig`, written as a
YOLO dataset (``images/``, ``labels/``, ``data.yaml``) plus ``scenes.csv``.

Each scene holds zero to `max_bears` bears of the population (individuals
`first_index` ... `first_index + individuals - 1`, the same appearances as
`bear-train synth` draws), faces `face_min`..`face_max` pixels, some partly hidden
by grass or a branch, some at night. Labels are one class, ``face``: ``0 cx cy w h``
normalised to the image, as ultralytics reads them.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from bearagent.errors import BearIdError
from beartrain.scenes.compose import BearPose, FaceArt, FaceBox, backdrop, paint, random_look
from beartrain.synthetic import individual_name, make_appearance, render_face

#: The detector's classes (one: the face of a bear).
CLASSES = ("face",)


class SceneConfigError(BearIdError, ValueError):
    """Scenes that cannot be rendered as asked."""


@dataclass(frozen=True)
class SceneConfig:
    """What scenes to render."""

    count: int = 200
    width: int = 640
    height: int = 480
    max_bears: int = 3
    empty_share: float = 0.25  # scenes without a bear
    face_min: float = 36.0  # face box side, pixels
    face_max: float = 150.0
    night_share: float = 0.25
    occlusion_share: float = 0.3  # of bears
    distractors: int = 3  # fur-coloured blobs per scene, at most
    individuals: int = 12
    first_index: int = 0
    population_seed: int = 0  # the population's seed (bear-train synth --seed)
    seed: int = 0  # the scenes' own seed
    jpeg_quality: int = 90

    def __post_init__(self) -> None:
        problems = []
        if self.count < 1 or self.individuals < 1:
            problems.append("count and individuals must be at least 1")
        if not 0 <= self.max_bears <= self.individuals:
            problems.append(f"max_bears must be 0 to individuals ({self.individuals})")
        if not 8 <= self.face_min <= self.face_max <= min(self.width, self.height) / 2:
            half = min(self.width, self.height) / 2
            problems.append(
                f"need 8 <= face_min ({self.face_min:g}) <= face_max ({self.face_max:g}) <= half "
                f"the shorter side ({half:g}): choose smaller faces or larger scenes"
            )
        for name in ("empty_share", "night_share", "occlusion_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                problems.append(f"{name} must be between 0 and 1")
        if problems:
            raise SceneConfigError("invalid scenes: " + "; ".join(problems))


@dataclass(frozen=True)
class SceneRecord:
    """One rendered scene: its file (relative to the dataset root) and its faces."""

    file: str
    faces: tuple[FaceBox, ...]
    night: bool


def face_art(index: int, population_seed: int) -> FaceArt:
    """The canonical face of the population's `index`-th individual."""
    name = individual_name(index)
    appearance = make_appearance(name, np.random.SeedSequence([population_seed, index, 0]))
    face, mask = render_face(appearance)
    return FaceArt(name, face, mask, appearance.fur)


def random_pose(
    rng: np.random.Generator, art: FaceArt, cfg: SceneConfig, taken: list[BearPose]
) -> BearPose:
    """A pose for `art`, its face at least 70% inside the frame and clear of `taken`."""
    pose = None
    for _ in range(20):
        size = float(np.exp(rng.uniform(np.log(cfg.face_min), np.log(cfg.face_max))))
        pose = BearPose(
            art,
            cx=float(rng.uniform(0.2 * size, cfg.width - 0.2 * size)),
            cy=float(rng.uniform(0.3 * size, cfg.height - 0.2 * size)),
            size=size,
            angle=float(rng.normal(0, 12)),
            squeeze=float(rng.uniform(0.75, 1.0)),
            gain=float(rng.uniform(0.7, 1.25)),
            facing=int(rng.choice([-1, 1])),
            occluded=bool(rng.random() < cfg.occlusion_share),
        )
        if all(abs(pose.cx - t.cx) > (size + t.size) * 0.6 or abs(pose.cy - t.cy) >
               (size + t.size) * 0.6 for t in taken):  # fmt: skip
            return pose
    assert pose is not None
    return replace(pose, size=cfg.face_min)


def render_scene(
    cfg: SceneConfig, index: int, arts: list[FaceArt]
) -> tuple[np.ndarray, list[FaceBox], bool]:
    """Scene `index`: its image, its faces' boxes, and whether it is a night frame."""
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, index]))
    bears = 0 if rng.random() < cfg.empty_share else int(rng.integers(1, cfg.max_bears + 1))
    chosen = rng.choice(len(arts), size=min(bears, len(arts)), replace=False)
    poses: list[BearPose] = []
    for i in chosen:
        poses.append(random_pose(rng, arts[int(i)], cfg, poses))
    background = backdrop(rng, cfg.height, cfg.width, int(rng.integers(0, cfg.distractors + 1)))
    look = random_look(rng, cfg.night_share)
    image, boxes = paint(background, poses, look, rng)
    return image, boxes, look.night


def iter_scenes(cfg: SceneConfig) -> Iterator[tuple[int, np.ndarray, list[FaceBox], bool]]:
    """Every scene as (index, image, faces, night)."""
    arts = [face_art(i, cfg.population_seed) for i in range(cfg.first_index,
            cfg.first_index + cfg.individuals)]  # fmt: skip
    for index in range(cfg.count):
        image, boxes, night = render_scene(cfg, index, arts)
        yield index, image, boxes, night


def yolo_label(boxes: list[FaceBox] | tuple[FaceBox, ...], width: int, height: int) -> str:
    """The YOLO label file's text: one ``0 cx cy w h`` line per face, normalised."""
    lines = []
    for b in boxes:
        cx, cy = (b.x1 + b.x2) / 2 / width, (b.y1 + b.y2) / 2 / height
        lines.append(
            f"0 {cx:.6f} {cy:.6f} {(b.x2 - b.x1) / width:.6f} {(b.y2 - b.y1) / height:.6f}"
        )
    return "".join(line + "\n" for line in lines)


def write_scenes(root: Path, cfg: SceneConfig) -> list[SceneRecord]:
    """Render the scenes into `root` as a YOLO dataset; returns their records."""
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "labels").mkdir(parents=True, exist_ok=True)
    records = []
    for index, image, boxes, night in iter_scenes(cfg):
        name = f"scene_{index:05d}"
        _, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, cfg.jpeg_quality])
        (root / "images" / f"{name}.jpg").write_bytes(jpeg.tobytes())
        (root / "labels" / f"{name}.txt").write_text(yolo_label(boxes, cfg.width, cfg.height))
        records.append(SceneRecord(f"images/{name}.jpg", tuple(boxes), night))
    (root / "data.yaml").write_text(
        f"# bear-train detector scenes (ultralytics can train on it too)\npath: {root.resolve()}\n"
        "train: images\nval: images\nnames:\n  0: face\n"
    )
    with (root / "scenes.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(("file", "night", "faces"))
        for r in records:
            faces = [[b.individual, b.x1, b.y1, b.x2, b.y2] for b in r.faces]
            writer.writerow((r.file, int(r.night), json.dumps(faces)))
    return records


def read_scenes(root: Path) -> list[SceneRecord]:
    """The records of a scenes folder written by `write_scenes`."""
    table = root / "scenes.csv"
    if not table.is_file():
        raise SceneConfigError(
            f"{root} has no scenes.csv: render scenes with `bear-train detector scenes`"
        )
    records = []
    with table.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            faces = tuple(FaceBox(str(w), *(float(v) for v in xyxy))
                          for w, *xyxy in json.loads(row["faces"]))  # fmt: skip
            records.append(SceneRecord(row["file"], faces, row["night"] == "1"))
    return records
