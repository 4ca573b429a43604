"""The model card of an export, filled from the checkpoint (see docs/design.md, "Model card")."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata

from bearagent.decisions import SCORE_NAMES
from bearagent.modelcard import (
    CARD_FORMAT_VERSION,
    DecisionSpec,
    EmbeddingSpec,
    InputSpec,
    ModelCard,
    ModelInfo,
    TrackSpec,
    TrainingSummary,
)
from bearexport.errors import ExportOptionError

log = logging.getLogger(__name__)

#: Threshold on the best similarity put in the card when the checkpoint has no calibrated
#: rule (cosine similarity; known = unknown, no review band).
DEFAULT_THRESHOLD = 0.5
#: Distributions whose versions the card records, when installed.
SOFTWARE = ("bearid", "torch", "timm", "onnx", "onnxruntime", "onnxconverter-common", "tensorrt")


def software_versions() -> dict[str, str]:
    """Versions of the installed packages that made the export."""
    versions = {}
    for name in SOFTWARE:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


@dataclass(frozen=True)
class ManualRule:
    """Thresholds given by hand on the command line (None: keep the checkpoint's)."""

    score: str | None = None
    known: float | None = None
    unknown: float | None = None
    threshold: float | None = None  # format 1's single threshold: known = unknown
    same_individual: float | None = None

    def __post_init__(self) -> None:
        if self.threshold is not None and (self.known is not None or self.unknown is not None):
            raise ExportOptionError(
                "--threshold sets both thresholds: give it alone, or --known-threshold and "
                "--unknown-threshold"
            )
        if self.score is not None and self.score not in SCORE_NAMES:
            raise ExportOptionError(
                f"--score {self.score!r} is not an open-set score: choose one of "
                + ", ".join(SCORE_NAMES)
            )

    @property
    def touches_decision(self) -> bool:
        """Whether any decision setting is given by hand."""
        return any(v is not None for v in (self.score, self.known, self.unknown, self.threshold))


def choose_decision(calibrated: DecisionSpec | None, manual: ManualRule) -> DecisionSpec:
    """The card's rule: the checkpoint's, with what was given by hand in its place.

    Without a calibrated rule and without thresholds by hand, the card gets the
    manual default (best similarity >= DEFAULT_THRESHOLD, no review band) and a warning.
    """
    if not manual.touches_decision:
        if calibrated is not None:
            return calibrated
        log.warning(
            "the checkpoint has no calibrated decision rule; the card gets the manual default "
            "(best similarity, known = unknown = %.2f, no review band). Calibrate with "
            "bear-train (or pass --known-threshold/--unknown-threshold) for real use.",
            DEFAULT_THRESHOLD,
        )
        return _manual("best", DEFAULT_THRESHOLD, DEFAULT_THRESHOLD)
    if manual.threshold is not None:
        return _manual(manual.score or "best", manual.threshold, manual.threshold)
    score = manual.score or (calibrated.score if calibrated else "best")
    same_score = calibrated is not None and calibrated.score == score
    known = manual.known if manual.known is not None else (
        calibrated.known_threshold if calibrated and same_score else None
    )  # fmt: skip
    unknown = manual.unknown if manual.unknown is not None else (
        calibrated.unknown_threshold if calibrated and same_score else None
    )  # fmt: skip
    if known is None or unknown is None:
        raise ExportOptionError(
            f"give both --known-threshold and --unknown-threshold for score {score}: the "
            "checkpoint has no calibrated threshold of that score to keep"
        )
    if known < unknown:
        raise ExportOptionError(
            f"--known-threshold ({known}) is below the unknown threshold ({unknown}): scores "
            "between them go to review, so known must be at least unknown"
        )
    return _manual(score, known, unknown)


def _manual(score: str, known: float, unknown: float) -> DecisionSpec:
    return DecisionSpec(
        score=score,
        known_threshold=known,
        unknown_threshold=unknown,
        method="manual",
    )


def choose_tracks(calibrated: TrackSpec | None, manual: float | None) -> TrackSpec | None:
    """The card's track similarity: `--same-individual` by hand, else the checkpoint's."""
    if manual is not None:
        return TrackSpec(same_individual=manual, method="manual")
    if calibrated is None:
        log.warning(
            "the checkpoint has no calibrated same-individual similarity; the card has no "
            "tracks section (the agent then uses encounter.same_individual or the unknown "
            "threshold). Pass --same-individual to set one."
        )
    return calibrated


def build_card(
    *,
    name: str,
    backbone: str,
    input_spec: InputSpec,
    embedding_size: int,
    decision: DecisionSpec,
    tracks: TrackSpec | None,
    training: TrainingSummary | None,
    source: str | None = None,
) -> ModelCard:
    """A card for an FP32 export made now; `model.sha256` is set when it is written.

    `training` and `source`: what bear-train learned from, or (for a model it did
    not train) where the network came from.
    """
    return ModelCard(
        format_version=CARD_FORMAT_VERSION,
        model=ModelInfo(name=name, backbone=backbone, source=source),
        input=input_spec,
        embedding=EmbeddingSpec(size=embedding_size, l2_normalised=True),
        decision=decision,
        tracks=tracks,
        training=training,
        created_at=datetime.now(UTC),
        software=software_versions(),
    )


def variant_card(card: ModelCard, precision: str) -> ModelCard:
    """The card of a reduced-precision variant: same contract, its own model name."""
    model = card.model.model_copy(update={"name": f"{card.model.name}-{precision}"})
    return card.model_copy(update={"model": model})


#: Why a foreign model's card has no thresholds.
UNCALIBRATED_REASON = (
    "not trained by bear-train, so no val set of these bears: the box calibrates the "
    "thresholds on its own gallery (`bearagent gallery calibrate`)"
)


def uncalibrated_decision(score: str) -> DecisionSpec:
    """The rule of a model bear-train did not train: `score`, no thresholds yet."""
    if score not in SCORE_NAMES:
        raise ExportOptionError(
            f"--score {score!r} is not an open-set score: choose one of " + ", ".join(SCORE_NAMES)
        )
    return DecisionSpec.uncalibrated(score, UNCALIBRATED_REASON)


def describe_decision(decision: DecisionSpec) -> str:
    """The rule in a few words, for the terminal."""
    d = decision
    if d.known_threshold is None or d.unknown_threshold is None:
        return f"decision {d.score}: no thresholds ({d.method}; the box calibrates them)"
    return (
        f"decision {d.score}: known >= {d.known_threshold:.3f}, unknown < "
        f"{d.unknown_threshold:.3f} ({d.method})"
    )
