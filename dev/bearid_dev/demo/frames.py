"""The demo's cameras with ``--frames``: whole camera-trap frames and one video clip.

Each field encounter becomes a burst of frames at one camera (its bear's face
rendered into the camera's scene, a second apart), the last two known bears come
together in the same frames, one encounter is recorded as an MP4 clip instead,
and every camera also takes frames of nothing (wind in the grass). The truth of
every frame (which bear where) is kept, keyed by the ``source_frame`` that the
agent's chips name in their sidecars.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from bearid_dev.demo.data import FieldEncounter
from bearid_dev.demo.options import DemoOptions
from beartrain.scenes import BearPose, FaceArt, FaceBox, Look, backdrop, face_art, paint
from beartrain.scenes.clips import write_clip
from beartrain.synthetic import encode_jpeg, individual_name

Say = Callable[[str], None]
WIDTH, HEIGHT = 640, 480
SITE = "demo-site"
START = datetime(2026, 7, 1, 6, 0, tzinfo=UTC)
CLIP_FPS = 5.0


@dataclass
class FieldDrop:
    """What one camera recorded: its files (frames, or one clip) and the bears in them."""

    number: int
    camera: str
    visitors: list[FieldEncounter]  # empty: frames of nothing
    files: list[Path] = field(default_factory=list)  # written below the traps folder
    kind: str = "frames"  # or "clip", or "blank"


@dataclass
class FieldTruth:
    """Every drop, and every frame's faces keyed by its source_frame (below the traps)."""

    drops: list[FieldDrop] = field(default_factory=list)
    faces: dict[str, list[FaceBox]] = field(default_factory=dict)

    @property
    def files(self) -> int:
        """Frames and clips dropped."""
        return sum(len(d.files) for d in self.drops)


def _jitter(pose: BearPose, rng: np.random.Generator) -> BearPose:
    """The pose a second later: a bear never stands quite still."""
    return replace(pose, cx=pose.cx + float(rng.normal(0, 4)), cy=pose.cy + float(rng.normal(0, 3)))


class FrameCameras:
    """Renders and drops the field encounters as frames and a clip."""

    def __init__(self, opts: DemoOptions, traps: Path) -> None:
        self.opts, self.traps = opts, traps
        names = opts.individuals + opts.strangers
        self.arts = {individual_name(i): face_art(i, opts.seed) for i in range(names)}
        self.truth = FieldTruth()
        self._backgrounds: dict[str, np.ndarray] = {}

    def _background(self, camera: str) -> np.ndarray:
        if camera not in self._backgrounds:
            rng = np.random.default_rng([self.opts.seed, 7, int(camera[-2:])])
            self._backgrounds[camera] = backdrop(rng, HEIGHT, WIDTH, 2)
        return self._backgrounds[camera]

    def _poses(self, rng: np.random.Generator, arts: list[FaceArt]) -> list[BearPose]:
        poses = []
        for k, art in enumerate(arts):
            size = float(rng.uniform(80, 140))
            cx = WIDTH * (k + 1) / (len(arts) + 1) + float(rng.normal(0, 20))
            cy = float(rng.uniform(0.35, 0.55)) * HEIGHT
            angle, gain = float(rng.normal(0, 8)), float(rng.uniform(0.85, 1.15))
            poses.append(BearPose(art, cx, cy, size, angle, 0.95, gain, int(rng.choice([-1, 1]))))
        return poses

    def _write_frame(self, folder: Path, name: str, image: np.ndarray, when: datetime) -> Path:
        final = folder / name
        temp = folder / f".{name}.part"
        temp.write_bytes(encode_jpeg(image, when, quality=92))
        os.rename(temp, final)
        return final

    def frames(self, drop: FieldDrop, count: int, start: datetime) -> None:
        """A burst of `count` frames of the drop's visitors, a second apart."""
        rng = np.random.default_rng([self.opts.seed, 11, drop.number])
        folder = self.traps / SITE / drop.camera
        folder.mkdir(parents=True, exist_ok=True)
        poses = self._poses(rng, [self.arts[v.individual] for v in drop.visitors])
        look = Look(night=bool(rng.random() < 0.2), noise=3.0)
        for i in range(count):
            moved = [_jitter(p, rng) for p in poses]
            image, boxes = paint(self._background(drop.camera), moved, look, rng)
            name = f"{drop.number:03d}-{drop.camera}-{i:04d}.jpg"
            path = self._write_frame(folder, name, image, start + timedelta(seconds=i))
            drop.files.append(path)
            self.truth.faces[f"{SITE}/{drop.camera}/{name}"] = boxes
            time.sleep(0.15)
        self.truth.drops.append(drop)

    def clip(self, drop: FieldDrop, seconds: float, start: datetime, scratch: Path) -> None:
        """The drop's visitor walking past, recorded as an MP4 clip dated in its header."""
        rng = np.random.default_rng([self.opts.seed, 13, drop.number])
        (pose,) = self._poses(rng, [self.arts[drop.visitors[0].individual]])
        look = Look(noise=3.0)
        frames, name = [], f"{drop.number:03d}-{drop.camera}-clip.mp4"
        for index in range(round(seconds * CLIP_FPS)):
            walked = replace(pose, cx=pose.cx - 60 + 120 * index / (seconds * CLIP_FPS))
            image, boxes = paint(self._background(drop.camera), [walked], look, rng)
            frames.append(image)
            key = f"{SITE}/{drop.camera}/{name}#t={index / CLIP_FPS:.3f}"
            self.truth.faces[key] = boxes
        made = write_clip(scratch / name, frames, CLIP_FPS, started_at=start)
        folder = self.traps / SITE / drop.camera
        folder.mkdir(parents=True, exist_ok=True)
        temp = folder / f".{name}.part"
        temp.write_bytes(made.read_bytes())
        os.rename(temp, folder / name)
        drop.files.append(folder / name)
        drop.kind = "clip"
        self.truth.drops.append(drop)

    def blanks(self, camera: str, number: int, count: int, start: datetime) -> None:
        """Frames of nothing: the scene alone, as wind in the grass triggers a camera."""
        drop = FieldDrop(number, camera, [], kind="blank")
        self.frames(drop, count, start)


def drop_all(
    opts: DemoOptions, traps: Path, encounters: list[FieldEncounter], scratch: Path, say: Say
) -> FieldTruth:
    """Every field encounter as frames (the first known one as a clip), two bears together,
    and blank frames at each camera; returns the truth."""
    cameras = FrameCameras(opts, traps)
    known = [n for n, e in enumerate(encounters) if e.known]
    family = tuple(known[-2:]) if len(known) >= 2 else ()
    clip_of = known[0] if known else None
    for number, encounter in enumerate(encounters):
        if number in family:
            continue
        camera = f"cam{number % 3 + 1:02d}"
        start = START + timedelta(minutes=10 * number)
        truth = encounter.individual + ("" if encounter.known else " (not in the gallery)")
        drop = FieldDrop(number, camera, [encounter])
        if number == clip_of:
            say(f"camera {camera}: a 4 s video clip of {truth}")
            cameras.clip(drop, 4.0, start, scratch)
        else:
            say(f"camera {camera}: {len(encounter.files)} frames of {truth}")
            cameras.frames(drop, len(encounter.files), start)
        time.sleep(opts.pause_s)
    if len(family) == 2:
        a, b = encounters[family[0]], encounters[family[1]]
        say(f"camera cam01: {a.individual} and {b.individual} together in the same frames")
        both = FieldDrop(family[0], "cam01", [a, b])
        cameras.frames(both, max(len(a.files), len(b.files)), START + timedelta(hours=12))
    for k, camera in enumerate(("cam01", "cam02", "cam03")):
        say(f"camera {camera}: 2 frames of wind in the grass")
        cameras.blanks(camera, 900 + k, 2, START + timedelta(hours=13, minutes=10 * k))
    return cameras.truth
