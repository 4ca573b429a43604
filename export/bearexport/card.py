"""The model card of an export, filled from the checkpoint (see DESIGN.md, "Model card")."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from importlib import metadata

from bearagent.modelcard import (
    CARD_FORMAT_VERSION,
    EmbeddingSpec,
    InputSpec,
    ModelCard,
    ModelInfo,
    ThresholdSpec,
    TrainingSummary,
)

log = logging.getLogger(__name__)

#: Threshold put in the card when the checkpoint has no calibrated one (cosine similarity).
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


def choose_threshold(calibrated: ThresholdSpec | None, manual: float | None) -> ThresholdSpec:
    """A `--threshold` given by hand, else the checkpoint's, else the default with a warning."""
    if manual is not None:
        return ThresholdSpec(value=manual, method="manual")
    if calibrated is not None:
        return calibrated
    log.warning(
        "the checkpoint has no calibrated unknown threshold; the card gets the manual "
        "default %.2f. Calibrate with bear-train (or pass --threshold) for real use.",
        DEFAULT_THRESHOLD,
    )
    return ThresholdSpec(value=DEFAULT_THRESHOLD, method="manual")


def build_card(
    *,
    name: str,
    backbone: str,
    input_spec: InputSpec,
    embedding_size: int,
    threshold: ThresholdSpec,
    training: TrainingSummary,
) -> ModelCard:
    """A card for an FP32 export made now; `model.sha256` is set when it is written."""
    return ModelCard(
        format_version=CARD_FORMAT_VERSION,
        model=ModelInfo(name=name, backbone=backbone),
        input=input_spec,
        embedding=EmbeddingSpec(size=embedding_size, l2_normalised=True),
        threshold=threshold,
        training=training,
        created_at=datetime.now(UTC),
        software=software_versions(),
    )


def variant_card(card: ModelCard, precision: str) -> ModelCard:
    """The card of a reduced-precision variant: same contract, its own model name."""
    model = ModelInfo(name=f"{card.model.name}-{precision}", backbone=card.model.backbone)
    return card.model_copy(update={"model": model})
