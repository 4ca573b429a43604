"""The detector card: what the agent must know to run a detector ONNX file.

Like the embedder's model card (`bearagent.modelcard`) it lives inside the ONNX
file's ``metadata_props`` (key `DETECTOR_CARD_KEY`) and/or beside it as
``<detector>.onnx.json`` (with the file's SHA-256 when bearid wrote it). A card
for someone else's export (ultralytics YOLOv8/YOLO11, MegaDetector) is written by
hand as the sidecar; docs/detector.md shows how.

Output formats (all in input pixels, after the letterbox):
- ``yolov8``: ultralytics YOLOv8/YOLO11 raw head, ``[1, 4 + nc, N]``: cx, cy, w, h,
  then one sigmoid score per class; no objectness, NMS still to do;
- ``yolov5``: YOLOv5 (MegaDetector v5), ``[1, N, 5 + nc]``: cx, cy, w, h,
  objectness, then class scores (a box scores objectness x class score);
- ``nms``: exports with NMS built in (ultralytics ``nms=True``, YOLOv10/YOLO26
  end-to-end), ``[1, N, 6]``: x1, y1, x2, y2, score, class; unused rows are zero.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: The detector card format this bearid writes and reads.
DETECTOR_CARD_VERSION: Literal[1] = 1

OutputFormat = Literal["yolov8", "yolov5", "nms"]
#: Values per candidate box before the class scores, per format.
BOX_COLUMNS: dict[str, int] = {"yolov8": 4, "yolov5": 5, "nms": 6}


class _Strict(BaseModel):
    """Frozen, and unknown fields are errors: a typo must not pass silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class DetectorModelInfo(_Strict):
    """Which network this card describes."""

    name: str = Field(min_length=1, description="Human name, e.g. 'bear-faces-yolov8n'.")
    source: str = Field(
        default="",
        description="Where it came from, e.g. 'ultralytics YOLOv8n trained on bear faces', "
        "'MegaDetector v5a', 'bear-train detector fit'.",
    )
    sha256: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{64}$",
        description="SHA-256 of the ONNX file (sidecar only; optional in a hand-written card).",
    )


class DetectorInput(_Strict):
    """How a frame becomes the network input."""

    height: int = Field(ge=32, le=8192, description="Input height in pixels (e.g. 640).")
    width: int = Field(ge=32, le=8192, description="Input width in pixels (e.g. 640).")
    resize: Literal["letterbox", "stretch"] = Field(
        default="letterbox",
        description="'letterbox': keep the aspect ratio, pad to the input size (YOLO's own "
        "preprocessing); 'stretch': resize to the input size.",
    )
    pad_value: int = Field(
        default=114, ge=0, le=255, description="Grey level of the letterbox padding (YOLO: 114)."
    )
    colour_order: Literal["RGB", "BGR"] = Field(
        default="RGB", description="Channel order of the input tensor (YOLO exports: RGB)."
    )
    scale: float = Field(
        default=1 / 255, gt=0, description="Pixel values (0-255) are multiplied by this."
    )
    name: str | None = Field(
        default=None, description="Graph input name; empty: the model's first input."
    )


class DetectorOutput(_Strict):
    """What the network outputs (see the module docstring for the layouts)."""

    format: OutputFormat = Field(
        description="'yolov8' ([1, 4+nc, N]), 'yolov5' ([1, N, 5+nc]) or 'nms' ([1, N, 6])."
    )
    name: str | None = Field(
        default=None, description="Graph output name; empty: the model's first output."
    )


class DetectorThresholds(_Strict):
    """Which candidate boxes count."""

    score: float = Field(default=0.25, gt=0, lt=1, description="Lowest score kept.")
    iou: float = Field(
        default=0.45, gt=0, le=1, description="Boxes overlapping more than this are one (NMS)."
    )


class DetectorQuality(_Strict):
    """What the detector achieved where it was made (bear-train fills it in)."""

    map50: float | None = Field(default=None, description="Mean average precision at IoU 0.5.")
    recall: float | None = Field(default=None, description="Recall at the card's thresholds.")
    precision: float | None = Field(default=None, description="Precision at the thresholds.")
    evaluation_set: str = Field(default="", description="What it was measured on.")


class DetectorCard(_Strict):
    """Everything the agent relies on to run a detector."""

    format_version: Literal[1] = Field(default=DETECTOR_CARD_VERSION, description="Card format.")
    model: DetectorModelInfo
    role: Literal["face", "animal"] = Field(
        default="face",
        description="'face': its kept boxes become chips; 'animal': the first stage of a "
        "two-stage setup, whose kept boxes the face detector searches.",
    )
    input: DetectorInput
    output: DetectorOutput
    classes: list[str] = Field(
        min_length=1, description="Class names in the model's output order (all of them)."
    )
    keep_classes: list[str] = Field(
        min_length=1,
        description="The classes this stage keeps: the face classes of a face detector, the "
        "animal classes of an animal detector (MegaDetector: ['animal']).",
    )
    thresholds: DetectorThresholds = Field(default_factory=DetectorThresholds)
    max_detections: int = Field(default=100, ge=1, le=10000, description="Boxes kept per image.")
    quality: DetectorQuality | None = Field(default=None, description="Measured quality.")
    created_at: datetime | None = Field(default=None, description="When the card was written.")
    software: dict[str, str] = Field(default_factory=dict, description="Versions that made it.")

    @field_validator("classes")
    @classmethod
    def _distinct(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("class names must be distinct")
        return v

    @model_validator(mode="after")
    def _kept_are_classes(self) -> DetectorCard:
        unknown = [c for c in self.keep_classes if c not in self.classes]
        if unknown:
            raise ValueError(
                f"keep_classes {unknown} are not among classes {self.classes}: name kept "
                "classes exactly as in 'classes'"
            )
        return self

    @property
    def keep_ids(self) -> tuple[int, ...]:
        """Indices of the kept classes in the model's output order."""
        return tuple(self.classes.index(c) for c in self.keep_classes)

    def with_sha256(self, sha256: str | None) -> DetectorCard:
        """A copy with `model.sha256` replaced."""
        return self.model_copy(update={"model": self.model.model_copy(update={"sha256": sha256})})
