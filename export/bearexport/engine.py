"""`bear-export --trt`: an engine for this box's GPU, checked against the ONNX model's reference.

Takes an exported ONNX model and its card (no torch needed), builds the engine
in a staging folder, runs it with the agent's own TensorRT runtime on the
reference chips, and moves it into place only if parity holds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

from bearagent.modelcard import load_model_card
from bearagent.runtime import EngineSidecar, RuntimeConfig, engine_sidecar_path, open_embedder
from bearexport import onnxrun
from bearexport.errors import ExportSourceError
from bearexport.inputs import chip_batch
from bearexport.outputs import precision_of, publish, staging
from bearexport.parity import MIN_COSINE, REFERENCE_FILE, ParityReport, compare, read_reference
from bearexport.parity import require as require_parity
from bearexport.tensorrt_build import EngineOptions, build_engine, import_tensorrt

log = logging.getLogger(__name__)

#: The timing cache kept in the output folder, so rebuilds on the same box are faster.
TIMING_CACHE = "tensorrt.timing-cache"


@dataclass(frozen=True)
class EngineResult:
    """The engine written, its sidecar and its parity against the reference."""

    engine: Path
    sidecar: EngineSidecar
    parity: ParityReport


def engine_name(onnx_path: Path) -> str:
    """The engine's file name: the agent's default, the ONNX name with suffix ``.engine``."""
    return onnx_path.with_suffix(".engine").name


def build_checked_engine(onnx_path: Path, out: Path, options: EngineOptions) -> EngineResult:
    """Build the engine of `onnx_path` into `out`, refusing it if parity fails."""
    if onnx_path.suffix.lower() != ".onnx" or not onnx_path.is_file():
        raise ExportSourceError(
            f"{onnx_path} is not an exported .onnx model: give the embedder.onnx written by "
            "`bear-export` (its card must sit inside and beside it)"
        )
    card = load_model_card(onnx_path)
    import_tensorrt()  # fail before creating anything when TensorRT is missing
    if options.timing_cache is None:
        options = replace(options, timing_cache=out / TIMING_CACHE)
    with staging(out) as stage:
        engine = stage / engine_name(onnx_path)
        sidecar = build_engine(onnx_path, card, engine, options)
        report = _engine_parity(onnx_path, engine, options)
        log.debug("%s", report.line())
        publish(stage, out)
    final = out / engine.name
    log.info("wrote %s and %s", final, engine_sidecar_path(final).name)
    return EngineResult(final, sidecar, report)


def _engine_parity(onnx_path: Path, engine: Path, options: EngineOptions) -> ParityReport:
    """The engine, run by the agent's runtime, against the stored reference (or ONNX Runtime)."""
    card = load_model_card(onnx_path)
    reference_file = onnx_path.parent / REFERENCE_FILE
    if reference_file.is_file():
        ref = read_reference(reference_file)
        inputs, expected = ref.inputs, ref.embeddings
    else:
        inputs = chip_batch(None, card.input, 16).inputs
        sess = onnxrun.session(onnx_path)
        expected = onnxrun.run(sess, inputs, card.input.name, card.embedding.name)
    config = RuntimeConfig(
        backend="tensorrt",
        model=onnx_path,
        engine=engine,
        max_batch=options.max_batch,
        warm_up=False,
    )
    with open_embedder(config) as embedder:
        got = embedder.embed(inputs)
    precision = "fp16" if options.fp16 else "fp32"
    required = min(precision_of(onnx_path)[1], MIN_COSINE[precision])
    advice = (
        "The engine was not installed: build it without --fp16, or run the model with the "
        "onnxruntime backend."
    )
    return require_parity(compare(expected, got, f"tensorrt {precision}", required), advice)
