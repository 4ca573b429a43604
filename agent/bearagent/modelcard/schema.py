"""The model card: what the agent must know to run an exported embedder.

`bear-export` writes it; the agent reads it and relies on nothing else about the
model (input size, colour order, resize rule, normalisation, embedding size,
the decision rule's score and thresholds, the same-individual similarity of
tracks). The schema is versioned by `format_version`; a change that an older
reader cannot follow bumps it (and gets a **BREAKING** CHANGELOG entry).

Format 2 replaced format 1's single ``threshold`` by ``decision`` (an open-set
score with known and unknown thresholds: a review band between them) and added
``tracks``. Format-1 cards still load (`bearagent.modelcard.legacy`).

A model that did not come from bear-train (a timm foundation model, or any ONNX
embedder adopted with ``bear-export adopt``) has no val set of the user's bears:
its card's rule is ``method: uncalibrated`` with null thresholds (the box
calibrates them on its own gallery), no ``tracks`` and no ``training``, and
``model.source`` says where the network came from. These fields are additions to
format 2 (an older agent refuses such a card with a field error).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: The card format this bearid writes.
CARD_FORMAT_VERSION = 2
#: Card format versions this bearid can read (1 is upgraded on reading).
SUPPORTED_FORMAT_VERSIONS: tuple[int, ...] = (1, 2)
#: The open-set scores a card may name (`bearagent.decisions.scores.SCORE_NAMES`).
ScoreName = Literal["best", "margin", "margin3", "blend", "asnorm", "individual"]


class _Strict(BaseModel):
    """Frozen, and unknown fields are errors: a typo must not pass silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ColourOrder(StrEnum):
    """Channel order the network expects."""

    RGB = "RGB"
    BGR = "BGR"


class ResizeRule(StrEnum):
    """How a chip of any shape becomes the network's input size.

    - ``stretch``: resize to (height, width), ignoring the aspect ratio;
    - ``letterbox``: keep the aspect ratio, fit inside, pad the rest with the mean
      colour (so the padding normalises to zero);
    - ``center_crop``: keep the aspect ratio, cover the target, cut the overhang
      evenly from both sides.
    """

    STRETCH = "stretch"
    LETTERBOX = "letterbox"
    CENTER_CROP = "center_crop"


class Interpolation(StrEnum):
    """Resampling filter used when resizing (OpenCV names in lower case)."""

    LINEAR = "linear"
    AREA = "area"
    CUBIC = "cubic"
    NEAREST = "nearest"


class ModelInfo(_Strict):
    """Which network this card describes."""

    name: str = Field(min_length=1, description="Human name of the model, e.g. 'bearid-lite0-v3'.")
    backbone: str = Field(
        min_length=1, description="timm backbone name, e.g. 'tf_efficientnet_lite0'."
    )
    source: str | None = Field(
        default=None,
        description="Where the network and its weights came from when not from bear-train, "
        "e.g. 'timm hf-hub:BVRA/MegaDescriptor-T-224 (pretrained weights)' or 'adopted "
        "ONNX miewid_v3.onnx'. None: a bear-train checkpoint.",
    )
    sha256: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{64}$",
        description=(
            "SHA-256 of the model file. Present in the sidecar JSON; absent in the copy "
            "embedded in the ONNX file, since a file cannot contain its own hash."
        ),
    )


class InputSpec(_Strict):
    """The preprocessing contract: how to turn a decoded chip into the network input."""

    height: int = Field(ge=8, le=4096, description="Input height in pixels.")
    width: int = Field(ge=8, le=4096, description="Input width in pixels.")
    colour_order: ColourOrder = Field(description="Channel order of the input tensor.")
    resize: ResizeRule = Field(description="How a chip is brought to (height, width).")
    interpolation: Interpolation = Field(
        default=Interpolation.LINEAR, description="Resampling filter for the resize."
    )
    mean: tuple[float, float, float] = Field(
        description="Per-channel mean, on the 0-1 scale, in the order of colour_order."
    )
    std: tuple[float, float, float] = Field(
        description="Per-channel standard deviation, on the 0-1 scale, in colour_order."
    )
    layout: Literal["NCHW"] = Field(default="NCHW", description="Tensor layout.")
    name: str = Field(default="input", min_length=1, description="Graph input name.")

    @field_validator("std")
    @classmethod
    def _std_positive(cls, v: tuple[float, float, float]) -> tuple[float, float, float]:
        if any(s <= 0 for s in v):
            raise ValueError("every std value must be greater than 0")
        return v


class EmbeddingSpec(_Strict):
    """What the network outputs."""

    size: int = Field(ge=2, le=8192, description="Embedding dimension.")
    l2_normalised: bool = Field(description="Whether outputs already have unit L2 norm.")
    name: str = Field(default="embedding", min_length=1, description="Graph output name.")


#: How a rule's thresholds were chosen; 'uncalibrated': it has none (yet).
DecisionMethod = Literal["calibrated", "manual", "uncalibrated"]


class DecisionSpec(_Strict):
    """The known / review / unknown rule and how its thresholds were chosen.

    An encounter whose open-set `score` is at least `known_threshold` is accepted
    as its best-matching individual; below `unknown_threshold` it is a stranger;
    in between a person reviews it. Equal thresholds: no review band.

    ``method: uncalibrated`` has no thresholds (both null): the card names only
    the score, and the box sends everything to review until its gallery
    calibration sets them (`uncalibrated` builds one).
    """

    score: ScoreName = Field(
        description="Open-set score (bearagent.decisions.scores): best, margin, margin3, blend, "
        "asnorm, individual."
    )
    known_threshold: float | None = Field(
        default=None,
        description="Scores at or above are accepted as known. Null only when uncalibrated.",
    )
    unknown_threshold: float | None = Field(
        default=None,
        description="Scores below are unknown (a new individual). Null only when uncalibrated.",
    )
    method: DecisionMethod = Field(
        description="'calibrated' on a validation set, 'manual' (set by hand), or "
        "'uncalibrated' (no thresholds: the box calibrates them on its gallery)."
    )
    reason: str | None = Field(
        default=None,
        description="Why the rule has no thresholds (method 'uncalibrated'), for people.",
    )
    level: Literal["encounter", "chip"] = Field(
        default="encounter",
        description="What the thresholds were calibrated on: encounter means or single chips.",
    )
    target_error_rate: float | None = Field(
        default=None, ge=0.0, le=1.0,
        description="Share of automatic known decisions allowed to be wrong (wrong id or "
        "stranger accepted).",
    )  # fmt: skip
    target_false_unknown_rate: float | None = Field(
        default=None, ge=0.0, le=1.0, description="Share of known queries allowed to be unknown."
    )
    error_rate: float | None = Field(
        default=None, ge=0.0, le=1.0, description="Automatic error reached on validation."
    )
    false_unknown_rate: float | None = Field(
        default=None, ge=0.0, le=1.0, description="False-unknown rate reached on validation."
    )
    unknown_detection_rate: float | None = Field(
        default=None, ge=0.0, le=1.0, description="Share of unknown queries flagged unknown."
    )
    review_share: float | None = Field(
        default=None, ge=0.0, le=1.0, description="Share of validation queries sent to review."
    )
    auroc: float | None = Field(
        default=None, ge=0.0, le=1.0, description="AUROC of known vs unknown under this score."
    )
    validation_set: str | None = Field(
        default=None, description="What the thresholds were calibrated on (split, counts)."
    )

    @classmethod
    def uncalibrated(cls, score: str, reason: str) -> DecisionSpec:
        """A rule without thresholds on `score`: the box calibrates them on its gallery."""
        return cls.model_validate({"score": score, "method": "uncalibrated", "reason": reason})

    @property
    def is_calibrated(self) -> bool:
        """Whether the rule has thresholds (calibrated or manual)."""
        return self.method != "uncalibrated"

    @model_validator(mode="after")
    def _consistent(self) -> DecisionSpec:
        known, unknown = self.known_threshold, self.unknown_threshold
        if self.method == "uncalibrated":
            if known is not None or unknown is not None:
                raise ValueError(
                    "an uncalibrated rule has no thresholds: known_threshold and "
                    "unknown_threshold must be null (the box calibrates them on its gallery)"
                )
            return self
        if known is None or unknown is None:
            raise ValueError(
                f"a {self.method} rule needs known_threshold and unknown_threshold; only an "
                "uncalibrated rule has none"
            )
        if known < unknown:
            raise ValueError("known_threshold must not be below unknown_threshold")
        if self.method == "calibrated" and (
            self.target_error_rate is None or self.target_false_unknown_rate is None
        ):
            raise ValueError(
                "calibrated thresholds need target_error_rate and target_false_unknown_rate"
            )
        return self


class TrackSpec(_Strict):
    """When a chip joins an open track (a per-individual encounter) of its camera."""

    same_individual: float = Field(
        ge=-1.0, le=1.0,
        description="Cosine similarity of a chip to a track (its mean or recent chips) at or "
        "above which the chip joins it; below, it opens a new track.",
    )  # fmt: skip
    method: Literal["calibrated", "manual"] = Field(
        description="'calibrated' on a validation set, or 'manual'."
    )
    target_false_join_rate: float | None = Field(
        default=None, ge=0.0, le=1.0,
        description="Share of chips of another individual allowed to join a track.",
    )  # fmt: skip
    false_join_rate: float | None = Field(
        default=None, ge=0.0, le=1.0, description="False-join rate reached on validation."
    )
    split_rate: float | None = Field(
        default=None, ge=0.0, le=1.0,
        description="Share of chips that would leave their own encounter's track on validation.",
    )  # fmt: skip
    validation_set: str | None = Field(
        default=None, description="What it was calibrated on (split, counts)."
    )


class TrainingSummary(_Strict):
    """What the model learned from."""

    individuals: int = Field(ge=0, description="Individuals in the training split.")
    images: int = Field(ge=0, description="Images in the training split.")
    split_kind: Literal["open", "disjoint"] = Field(description="Kind of split used.")
    seed: int = Field(description="Seed of the split.")
    dataset: str | None = Field(default=None, description="Name or path of the dataset.")


class ModelCard(_Strict):
    """Everything the agent needs to know about an exported embedder."""

    format_version: int = Field(description="Card format version.")
    model: ModelInfo
    input: InputSpec
    embedding: EmbeddingSpec
    decision: DecisionSpec
    tracks: TrackSpec | None = Field(
        default=None,
        description="Same-individual similarity for tracks (None on cards upgraded from "
        "format 1 and on uncalibrated cards: the agent then uses encounter.same_individual, "
        "else the gallery's calibration or the unknown threshold).",
    )
    training: TrainingSummary | None = Field(
        default=None,
        description="What bear-train learned from; None for a model bear-train did not train "
        "(see model.source).",
    )
    created_at: datetime = Field(description="When the model was exported (ISO 8601, with offset).")
    software: dict[str, str] = Field(
        default_factory=dict, description="Versions of the software that made it."
    )

    @field_validator("created_at")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        if v.tzinfo is None:
            raise ValueError("created_at needs a UTC offset, e.g. 2026-11-27T10:00:00+00:00")
        return v

    def with_sha256(self, sha256: str | None) -> ModelCard:
        """Return a copy whose `model.sha256` is `sha256`."""
        model = ModelInfo.model_validate({**self.model.model_dump(), "sha256": sha256})
        return self.model_copy(update={"model": model})
