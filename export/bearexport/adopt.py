"""`bear-export adopt MODEL.onnx`: any ONNX embedder as a bearid model.

The user states the preprocessing (input size, mean, std, colour order, resize
rule); the graph gives the rest (input and output names, embedding size, whether
outputs are unit vectors). The graph is checked to be an embedder, run at batch
1 and 8 (a batch fixed in the graph is made symbolic when the graph allows it),
copied into one file with the card (an uncalibrated rule: the box calibrates on
its gallery), checked through the agent's own runtime against the original and
timed. Needs no torch.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx

from bearagent.modelcard import (
    ColourOrder,
    EmbeddingSpec,
    InputSpec,
    Interpolation,
    ModelCard,
    ResizeRule,
    sha256_file,
    write_model_card,
)
from bearagent.runtime import RuntimeConfig, open_embedder
from bearagent.runtime.base import l2_normalise
from bearexport import onnx_graph, onnxrun
from bearexport.adopt_batch import BatchCheck, check_batch, probe, run_graph
from bearexport.adopt_speed import SPEED_FILE, Speed, measure_speed, write_speed
from bearexport.card import build_card, uncalibrated_decision
from bearexport.errors import ExportOptionError, NotAnEmbedder
from bearexport.input_options import Preprocessing, input_spec
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
    require,
    write_reference,
)

log = logging.getLogger(__name__)

#: What to do when the adopted copy does not compute what the original does.
ADOPT_ADVICE = "Nothing was written. The graph is not deterministic, or ONNX Runtime cannot run it."
#: Rows of a unit-norm embedding differ from 1 by less than this.
UNIT_NORM_TOLERANCE = 1e-3


@dataclass(frozen=True)
class AdoptOptions:
    """How the images were prepared for the graph, and how to check and time it."""

    preprocessing: Preprocessing = field(default_factory=Preprocessing)
    output: str | None = None
    name: str | None = None
    score: str = "best"
    chips: Path | None = None
    check_chips: int = 16
    reference_chips: int = 8
    seconds: float = 2.0
    threads: int = 0
    seed: int = 0


@dataclass(frozen=True)
class AdoptResult:
    """What adopt wrote and found."""

    card: ModelCard
    files: list[Path]
    batch: BatchCheck
    parity: ParityReport
    speed: Speed


def _size(
    graph_input: onnx_graph.Tensor, given: tuple[int, int] | None, source: Path
) -> tuple[int, int]:
    """The input (height, width): the graph's when fixed, checked against --input."""
    fixed = (onnx_graph.fixed_side(graph_input, 2), onnx_graph.fixed_side(graph_input, 3))
    if given is None:
        if fixed[0] is None or fixed[1] is None:
            raise ExportOptionError(
                f"{source} takes images of any size: give the size it was trained at with "
                "--input HEIGHTxWIDTH"
            )
        return fixed[0], fixed[1]
    for side, want, got in (("height", fixed[0], given[0]), ("width", fixed[1], given[1])):
        if want is not None and want != got:
            raise ExportOptionError(
                f"--input {given[0]}x{given[1]} does not fit {source}: its graph takes images of "
                f"{side} {want} ({graph_input.describe()}); give --input "
                f"{fixed[0] or given[0]}x{fixed[1] or given[1]}, or leave it out"
            )
    return given


def adopted_input_spec(
    graph_input: onnx_graph.Tensor, given: Preprocessing, source: Path
) -> InputSpec:
    """The card's input: the user's preprocessing, the graph's input name and size."""
    if given.mean is None or given.std is None:
        raise ExportOptionError(
            "give the normalisation the model was trained with: --mean R,G,B and --std R,G,B "
            "on the 0-1 scale (ImageNet: --mean 0.485,0.456,0.406 --std 0.229,0.224,0.225)"
        )
    return input_spec(
        _size(graph_input, given.size, source),
        given.mean,
        given.std,
        colour=given.colour or ColourOrder.RGB,
        resize=given.resize or ResizeRule.STRETCH,
        interpolation=given.interpolation or Interpolation.LINEAR,
        name=graph_input.name,
    )


def _looks_like_probabilities(rows: np.ndarray) -> bool:
    return bool(np.all(rows >= 0) and np.allclose(rows.sum(axis=1), 1.0, atol=1e-3))


def embedding_output(produced: dict[str, np.ndarray], wanted: str | None, source: Path) -> str:
    """The output holding one embedding (a row of E >= 2 numbers) per image."""
    described = ", ".join(f"{n!r} {tuple(a.shape)}" for n, a in produced.items())
    rows = next(iter(produced.values())).shape[0] if produced else 0
    if wanted is not None and wanted not in produced:
        raise ExportOptionError(
            f"--output {wanted!r}: {source} has outputs {', '.join(map(repr, produced))}"
        )
    names = [wanted] if wanted is not None else list(produced)
    found = [n for n in names if produced[n].ndim == 2 and produced[n].shape[1] >= 2]
    if not found:
        raise NotAnEmbedder(
            f"{source} is not an embedder: for {rows} image(s) it gives {described}, and "
            "bear-export adopt needs an output of shape (N, E), one embedding per image"
        )
    if len(found) > 1:
        raise ExportOptionError(
            f"{source} has several outputs of shape (N, E) ({', '.join(map(repr, found))}): "
            "choose the embedding with --output NAME"
        )
    name = found[0]
    if _looks_like_probabilities(produced[name]):
        raise NotAnEmbedder(
            f"output {name!r} of {source} looks like class probabilities (each row sums to 1): "
            "adopt the graph's features, not its classifier"
        )
    return name


def _card(source: Path, model: onnx.ModelProto, spec: InputSpec, embedding: EmbeddingSpec,
          options: AdoptOptions) -> ModelCard:  # fmt: skip
    producer = f"{model.producer_name} {model.producer_version}".strip() or "unknown producer"
    card = build_card(
        name=options.name or source.stem,
        backbone=model.graph.name or "unknown",
        input_spec=spec,
        embedding_size=embedding.size,
        decision=uncalibrated_decision(options.score),
        tracks=None,
        training=None,
        source=f"adopted ONNX {source.name} (sha256 {sha256_file(source)[:16]}, {producer})",
    )
    return card.model_copy(update={"embedding": embedding})


def _agent_check(path: Path, chips: np.ndarray, expected: np.ndarray, batch: BatchCheck,
                 options: AdoptOptions) -> tuple[ParityReport, Speed]:  # fmt: skip
    """Run the adopted copy as the agent does: the same embeddings, and how fast."""
    config = RuntimeConfig(
        model=path,
        providers=["CPUExecutionProvider"],
        intra_op_threads=options.threads,
        max_batch=batch.max_batch or 32,
        warm_up=False,
    )
    with open_embedder(config) as embedder:
        got = embedder.embed(chips)
        report = require(compare(expected, got, "fp32 adopted vs original", MIN_COSINE["fp32"]),
                         ADOPT_ADVICE)  # fmt: skip
        speed = measure_speed(embedder, chips, batch, options.seconds, options.threads)
    return report, speed


def adopt_model(source: Path, out: Path, options: AdoptOptions) -> AdoptResult:
    """Adopt the ONNX embedder `source` into `out`; nothing is written unless every check passes."""
    model = onnx_graph.load_single_file(source)
    graph_input = onnx_graph.image_input(model, source)
    spec = adopted_input_spec(graph_input, options.preprocessing, source)
    chips = chip_batch(options.chips, spec, max(options.check_chips, 8), seed=options.seed).inputs
    original = onnxrun.session(source, options.threads)
    fixed = onnx_graph.fixed_side(graph_input, 0)
    produced = probe(original, spec.name, chips, fixed, source)
    output = embedding_output(produced, options.output, source)
    batch, model = check_batch(model, original, chips, spec.name, output, source)
    raw = run_graph(original, spec.name, chips, fixed, [output])[output]
    unit = bool(np.all(np.abs(np.linalg.norm(raw, axis=1) - 1.0) < UNIT_NORM_TOLERANCE))
    embedding = EmbeddingSpec(size=raw.shape[1], l2_normalised=unit, name=output)
    card = _card(source, model, spec, embedding, options)
    expected = l2_normalise(raw)  # what the agent makes of the original's outputs
    with staging(out) as stage:
        path = stage / MODEL_FILES["fp32"]
        onnx.save(model, str(path))
        written = write_model_card(path, card)
        report, speed = _agent_check(path, chips, expected, batch, options)
        n = min(options.reference_chips, len(chips))
        names = [f"synthetic or --chips check chip {i}" for i in range(n)]
        write_reference(stage / REFERENCE_FILE, Reference(chips[:n], expected[:n], names))
        write_parity_record(stage, {"fp32": report})
        write_speed(stage / SPEED_FILE, speed, batch)
        files = publish(stage, out)
    for stale in remove_stale(out, {"fp32"}):
        log.info("removed %s, left by an earlier export", stale)
    return AdoptResult(written, files, batch, report, speed)


def describe(result: AdoptResult) -> list[str]:
    """The lines the command prints."""
    lines = [result.parity.line(), result.batch.note]
    return lines + [f"speed: {line}" for line in result.speed.lines()]
