"""One frame or clip through the detector: read, find faces, cut and write chips.

No database here (the stage records the outcome): `FrameProcessor` turns a file
into a `Handled` — what was found, which chips were written, or why it was
rejected (`ChipRejected` is raised for a file that cannot be used).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from pathlib import Path

import numpy as np

from bearagent.chips import ChipRejected, FileNamePattern
from bearagent.detection.chipwriter import ChipOrigin, write_chip
from bearagent.detection.crops import CropRules, make_chip
from bearagent.detection.finders import FaceFinder, Findings
from bearagent.detection.frames_table import FileKind, FrameStatus
from bearagent.detection.sources import Clip, clip_start, hash_clip, read_frame, stem_of
from bearagent.watch import ChipSource

Seen = Callable[[str], bool]


@dataclass(frozen=True)
class ProcessorSettings:
    """What the processor needs from the configuration."""

    chips_root: Path
    rules: CropRules
    names: FileNamePattern
    timezone: tzinfo
    max_frame_bytes: int
    max_clip_bytes: int
    max_pixels: int
    clip_sample_fps: float
    clip_max_frames: int
    chip_quality: int


@dataclass
class Handled:
    """What came of one frame or clip."""

    kind: FileKind
    sha256: str
    status: FrameStatus
    captured_at: datetime | None = None
    time_source: str | None = None
    detections: int = 0  # face boxes above the score threshold
    chips: list[Path] = field(default_factory=list)
    refused: Counter[str] = field(default_factory=Counter)  # boxes that made no chip, by why
    frames_searched: int = 0

    @property
    def reason(self) -> str | None:
        """Why boxes made no chip, and how much of a clip was searched, as text."""
        parts = [f"{n} {why.replace('_', ' ')}" for why, n in sorted(self.refused.items())]
        if self.kind == "clip":
            parts.append(f"{self.frames_searched} frames searched")
        return ", ".join(parts) or None


class Interrupted(Exception):
    """The agent is stopping in the middle of a clip: nothing of it is recorded (its chips,
    deterministic, are written again as no-ops when it is taken up after the restart)."""


class FrameProcessor:
    """Runs a face finder on frames and clips and writes the chips it cuts."""

    def __init__(
        self,
        finder: FaceFinder,
        settings: ProcessorSettings,
        stopping: Callable[[], bool] = lambda: False,
    ) -> None:
        self.finder = finder
        self.settings = settings
        self.stopping = stopping

    def frame(self, source: ChipSource, mtime_ns: int, seen: Seen) -> Handled:
        """A frame: its chips written, or a duplicate (`seen` knows its content)."""
        s = self.settings
        frame = read_frame(
            source,
            mtime_ns,
            max_bytes=s.max_frame_bytes,
            max_pixels=s.max_pixels,
            names=s.names,
            timezone=s.timezone,
        )
        captured = frame.captured
        if seen(frame.sha256):
            return Handled("frame", frame.sha256, "duplicate", captured.when, captured.source)
        done = Handled("frame", frame.sha256, "blank", captured.when, captured.source)
        origin = ChipOrigin(
            source.site,
            source.camera,
            stem_of(source.relative),
            source.relative,
            frame.sha256,
            captured.when,
            self.finder.name,
        )
        self._cut(frame.image, origin, done)
        return done

    def clip(self, source: ChipSource, mtime_ns: int, seen: Seen) -> Handled:
        """A clip: frames sampled at the configured rate, each searched and cut."""
        s = self.settings
        sha = hash_clip(source, s.max_clip_bytes)
        if seen(sha):
            return Handled("clip", sha, "duplicate")
        clip = Clip(source, s.max_pixels)
        try:
            start, time_source = clip_start(
                source, mtime_ns / 1e9, clip.declared_duration_s, s.names, s.timezone
            )
            done = Handled("clip", sha, "blank", start, time_source)
            for sampled in clip.sample(s.clip_sample_fps, s.clip_max_frames):
                if self.stopping():
                    raise Interrupted(source.relative)
                done.frames_searched += 1
                origin = ChipOrigin(
                    source.site,
                    source.camera,
                    f"{stem_of(source.relative)}_f{sampled.index:05d}",
                    f"{source.relative}#t={sampled.offset_s:.3f}",
                    sha,
                    start + timedelta(seconds=sampled.offset_s),
                    self.finder.name,
                )
                self._cut(sampled.image, origin, done)
        finally:
            clip.close()
        if done.frames_searched == 0:
            raise ChipRejected(
                "corrupt", f"{source.relative}: no frame of the clip could be decoded"
            )
        return done

    def _cut(self, image: np.ndarray, origin: ChipOrigin, done: Handled) -> None:
        """Find faces in one image; write a chip for each good enough box."""
        found: Findings = self.finder.find(image)
        done.detections += len(found.faces)
        if len(found.faces) == 0 and found.animals:
            done.refused["animal_without_face"] += found.animals
        if len(found.faces) or found.animals:
            done.status = "detected"
        k = 0
        for box, score in zip(found.faces.xyxy, found.faces.scores, strict=True):
            chip = make_chip(image, box, float(score), self.settings.rules)
            if isinstance(chip, str):
                done.refused[chip] += 1
                continue
            done.chips.append(
                write_chip(self.settings.chips_root, origin, k, chip, self.settings.chip_quality)
            )
            k += 1
