"""What the demo does: how many bears, how long it trains, where it works."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DemoOptions:
    """Settings of one demo run (the defaults take a few minutes on a 2-core CPU)."""

    workdir: Path
    chips: Path | None = None  # a real chips folder <individual>/<image> instead of synthetic bears
    individuals: int = 12  # synthetic bears the embedder learns and the gallery knows
    strangers: int = 2  # synthetic bears nobody has seen: they must come out unknown
    nuisance: float = 0.4  # pose, light, blur, noise and occlusion of the synthetic chips, 0-1
    epochs: int = 8
    input_size: int = 96
    seed: int = 0
    pause_s: float = 1.0  # camera silence between encounters, so each one ends
    end_after_s: float = 2.0  # agent: encounter.end_after_s
    review: bool = False  # end by serving the review page on the demo's database
    frames: bool = False  # cameras write whole frames and a clip; the agent runs a detector
    detector_scenes: int = 800  # scenes the demo's face detector trains on (--frames)
    detector_epochs: int = 12
