"""The ``detector`` section of the agent's configuration: frames and clips in, chips out."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from bearagent.configbase import Section
from bearagent.runtime.config import DEFAULT_PROVIDERS


class DetectorConfig(Section):
    """Frames and clips in: with `model` set, the watch roots hold frames and clips."""

    model: Path | None = Field(
        default=None,
        description="The face detector (ONNX, with its card <model>.json or card in its "
        "metadata). Setting it turns the stage on; `bearagent run --detector FILE` sets it.",
    )
    animal_model: Path | None = Field(
        default=None,
        description="Two-stage setup: an animal detector (e.g. MegaDetector, card role "
        "'animal') run first; the face detector then searches each animal's crop.",
    )
    chips_dir: Path | None = Field(
        default=None,
        description="Where chips are written as <site>/<camera>/<frame>_<k>.jpg with their "
        "sidecars; the agent watches it. Default: <agent.state_dir>/chips.",
    )
    score_threshold: float | None = Field(
        default=None, gt=0, lt=1, description="Lowest face score kept. Default: the card's."
    )
    iou_threshold: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description="NMS overlap of the face detector. Default: its card's.",
    )
    animal_score_threshold: float | None = Field(
        default=None, gt=0, lt=1, description="Lowest animal score kept. Default: the card's."
    )
    animal_margin: float = Field(
        default=0.1,
        ge=0,
        le=1,
        description="Share of an animal box added on each side before "
        "the face detector searches it.",
    )
    margin: float = Field(
        default=0.15,
        ge=0,
        le=1,
        description="Share of a face box's side added on each side of its chip (the embedder "
        "was trained on faces with some surroundings).",
    )
    square_chips: bool = Field(
        default=True, description="Widen a face box's shorter side first, so chips are square."
    )
    min_size_px: int = Field(
        default=32,
        ge=1,
        description="A face box narrower or lower than this (frame pixels) makes no chip.",
    )
    min_sharpness: float = Field(
        default=10.0,
        ge=0,
        description="Quality filter: a chip whose variance of the Laplacian (grey, scaled to "
        "64 px on its short side) is below this is not written (0 keeps every chip). Measured: "
        "real cattle and chimp face chips 45 and up, synthetic faces in scenes 95% above 19, "
        "faces blurred by a twenty-fifth of their width 95% below 11.",
    )
    clip_sample_fps: float = Field(
        default=1.0, gt=0, le=60, description="Frames of a clip searched per second of video."
    )
    clip_max_frames: int = Field(
        default=300, ge=1, description="At most this many frames searched per clip."
    )
    frame_extensions: list[str] = Field(
        default=[".jpg", ".jpeg", ".png"],
        description="File extensions that are frames (case-insensitive).",
    )
    clip_extensions: list[str] = Field(
        default=[".mp4", ".avi", ".mov"],
        description="File extensions that are video clips (case-insensitive).",
    )
    max_frame_bytes: int = Field(
        default=60_000_000, gt=0, description="Larger frames are rejected without being read."
    )
    max_clip_bytes: int = Field(
        default=2_000_000_000, gt=0, description="Larger clips are rejected without being read."
    )
    chip_quality: int = Field(
        default=95, ge=50, le=100, description="JPEG quality of the chips written."
    )
    providers: list[str] = Field(
        default_factory=lambda: list(DEFAULT_PROVIDERS),
        min_length=1,
        description="ONNX Runtime execution providers for the detectors, in order of "
        "preference; those not available here are skipped.",
    )
    intra_op_threads: int = Field(
        default=0,
        ge=0,
        description="Threads inside one detector operator (0: ONNX Runtime decides).",
    )

    @field_validator("frame_extensions", "clip_extensions")
    @classmethod
    def _dotted(cls, v: list[str]) -> list[str]:
        bad = [e for e in v if not e.startswith(".")]
        if bad:
            raise ValueError(f"extensions start with a dot (e.g. '.jpg'): {bad}")
        return [e.lower() for e in v]

    @property
    def enabled(self) -> bool:
        """Whether the stage runs."""
        return self.model is not None

    def chips_path(self, state_dir: Path) -> Path:
        """The chips folder in use."""
        return self.chips_dir if self.chips_dir is not None else state_dir / "chips"
