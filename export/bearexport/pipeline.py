"""`bear-export RUN --out DIR`: checkpoint -> checked ONNX models, cards and parity record."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bearagent.modelcard import ModelCard, write_model_card
from bearexport import onnxrun, variants
from bearexport.card import ManualRule, build_card, choose_decision, choose_tracks, variant_card
from bearexport.errors import ChipsError
from bearexport.inputs import chip_batch
from bearexport.outputs import (
    MODEL_FILES,
    publish,
    remove_stale,
    staging,
    write_parity_record,
)
from bearexport.parity import (
    MIN_COSINE,
    REFERENCE_FILE,
    ParityReport,
    Reference,
    compare,
    export_advice,
    write_reference,
)
from bearexport.parity import require as require_parity

if TYPE_CHECKING:
    from torch import nn

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExportOptions:
    """What to export and how to check it."""

    chips: Path | None = None
    calibration_chips: Path | None = None
    parity_chips: int = 32
    calibration_count: int = 64
    reference_chips: int = 8
    fp16: bool = False
    int8: bool = False
    name: str | None = None
    manual: ManualRule = field(default_factory=ManualRule)
    flip_tta: bool = False
    seed: int = 0
    min_cosine: dict[str, float] = field(default_factory=lambda: dict(MIN_COSINE))


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote and measured."""

    card: ModelCard
    files: list[Path]
    parity: dict[str, ParityReport]
    sizes: dict[str, int]


def _check_variant(
    path: Path,
    card: ModelCard,
    chips: np.ndarray,
    reference: np.ndarray,
    label: str,
    required: float,
) -> ParityReport:
    sess = onnxrun.session(path)
    out = onnxrun.run(sess, chips, card.input.name, card.embedding.name)
    report = require_parity(compare(reference, out, label, required), export_advice(label))
    log.debug("%s", report.line())
    return report


def export_checkpoint(source: Path, out: Path, options: ExportOptions) -> ExportResult:
    """Export `source` (run folder or .pt) to `out`, refusing any variant that fails parity."""
    from bearexport import torch_export

    checkpoint = torch_export.load_source(source)
    default_name = f"bearid-{checkpoint.backbone}" + ("-flip" if options.flip_tta else "")
    card = build_card(
        name=options.name or default_name,
        backbone=checkpoint.backbone,
        input_spec=checkpoint.input_spec,
        embedding_size=checkpoint.embedding_size,
        decision=choose_decision(checkpoint.decision, options.manual),
        tracks=choose_tracks(checkpoint.tracks, options.manual.same_individual),
        training=checkpoint.training,
    )
    model = torch_export.build_model(checkpoint, flip_tta=options.flip_tta)
    return export_model(model, card, out, options)


def export_model(
    model: nn.Module, card: ModelCard, out: Path, options: ExportOptions
) -> ExportResult:
    """Export an eval-mode embedder described by `card`; nothing is written unless all pass."""
    from bearexport import torch_export

    spec = card.input
    chips = chip_batch(options.chips, spec, options.parity_chips, seed=options.seed)
    expected = torch_export.embed(model, chips.inputs)
    with staging(out) as stage:
        fp32 = stage / MODEL_FILES["fp32"]
        torch_export.export_onnx(model, chips.inputs, fp32, spec.name, card.embedding.name)
        onnxrun.check_dynamic_batch(fp32, chips.inputs[:8], spec.name, card.embedding.name)
        reports = {
            "fp32": _check_variant(
                fp32, card, chips.inputs, expected, "fp32", options.min_cosine["fp32"]
            )
        }
        reports.update(_variants(stage, card, chips.inputs, expected, options))
        n = min(options.reference_chips, len(chips.names))
        write_reference(
            stage / REFERENCE_FILE, Reference(chips.inputs[:n], expected[:n], chips.names[:n])
        )
        written = _write_cards(stage, card, reports)
        write_parity_record(stage, reports)
        sizes = {p: (stage / MODEL_FILES[p]).stat().st_size for p in reports}
        files = publish(stage, out)
    for path in remove_stale(out, set(reports)):
        log.info("removed %s, left by an earlier export", path)
    return ExportResult(written, files, reports, sizes)


def _variants(
    stage: Path, card: ModelCard, chips: np.ndarray, expected: np.ndarray, options: ExportOptions
) -> dict[str, ParityReport]:
    fp32 = stage / MODEL_FILES["fp32"]
    reports = {}
    if options.fp16:
        path = variants.to_fp16(fp32, stage / MODEL_FILES["fp16"])
        reports["fp16"] = _check_variant(
            path, card, chips, expected, "fp16", options.min_cosine["fp16"]
        )
    if options.int8:
        folder = options.calibration_chips or options.chips
        calibration = chip_batch(
            folder, card.input, options.calibration_count, skip=len(chips), seed=options.seed
        )
        if calibration.inputs.shape[0] < 8:
            raise ChipsError(
                f"only {calibration.inputs.shape[0]} calibration chips: INT8 calibration needs "
                "at least 8; give more with --calibration-chips"
            )
        path = variants.to_int8(
            fp32, stage / MODEL_FILES["int8"], calibration.inputs, card.input.name
        )
        reports["int8"] = _check_variant(
            path, card, chips, expected, "int8", options.min_cosine["int8"]
        )
    return reports


def _write_cards(stage: Path, card: ModelCard, reports: dict[str, ParityReport]) -> ModelCard:
    """Embed each model's card and write its sidecar; returns the FP32 card as written."""
    written = write_model_card(stage / MODEL_FILES["fp32"], card)
    for precision in reports:
        if precision != "fp32":
            write_model_card(stage / MODEL_FILES[precision], variant_card(card, precision))
    return written
