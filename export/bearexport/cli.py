"""``bear-export``: turn a trained embedder into ONNX (and TensorRT) with its model card.

``bear-export RUN_OR_CHECKPOINT --out DIR`` exports (the default command);
``bear-export MODEL.onnx --trt --out DIR`` builds a TensorRT engine on this box;
``bear-export verify MODEL`` checks an existing export. Each command parses
options and calls one library function; errors become a one-line ``Error: ...``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click

from bearagent.clikit import ErrorReportingGroup, version_option
from bearagent.decisions import SCORE_NAMES
from bearagent.runtime import DEFAULT_PROVIDERS
from bearexport.engine import build_checked_engine
from bearexport.errors import ExportSourceError
from bearexport.outputs import MODEL_FILES
from bearexport.parity import MIN_COSINE
from bearexport.parity import require as require_parity
from bearexport.tensorrt_build import EngineOptions
from bearexport.verify import BATCH_ADVICE, VERIFY_ADVICE, verify_model

_DEFAULT_COMMAND = "export"


class ExportGroup(ErrorReportingGroup):
    """A group whose default command is ``export``: ``bear-export RUN --out DIR`` works."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h", "--version"):
            args = [_DEFAULT_COMMAND, *args]
        return super().parse_args(ctx, args)


@click.group(cls=ExportGroup)
@version_option()
def main() -> None:
    """Export a bear-train checkpoint to ONNX / TensorRT with a model card.

    \b
    bear-export RUN_OR_CHECKPOINT --out DIR [--fp16] [--int8] [--trt]
    bear-export MODEL.onnx --trt --out DIR     (on the GPU box; no torch needed)
    bear-export verify MODEL [--chips DIR]
    """
    # Our progress at INFO; the exporters' and TensorRT's chatter only when it matters.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("bearexport").setLevel(logging.INFO)


def _engine_options(fp16: bool, batches: tuple[int, int, int], workspace: int) -> EngineOptions:
    return EngineOptions(
        fp16=fp16,
        min_batch=batches[0],
        opt_batch=batches[1],
        max_batch=batches[2],
        workspace_mib=workspace,
    )


@main.command("export")
@click.argument("source", metavar="RUN_OR_CHECKPOINT", type=click.Path(path_type=Path))
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Output folder (created; files are replaced only if every check passes).",
)
@click.option(
    "--chips",
    type=click.Path(path_type=Path, file_okay=False),
    help="Real face chips for the parity check (default: synthetic chips).",
)
@click.option(
    "--calibration-chips",
    type=click.Path(path_type=Path, file_okay=False),
    help="Chips for INT8 calibration (default: --chips, else synthetic).",
)
@click.option("--fp16", is_flag=True, help="Also write an FP16 model (and an FP16 engine).")
@click.option("--int8", is_flag=True, help="Also write a static INT8 model.")
@click.option("--trt", is_flag=True, help="Build a TensorRT engine for this box's GPU.")
@click.option(
    "--flip-tta",
    is_flag=True,
    help="Bake test-time flip averaging into the graph (each chip and its mirror; twice the "
    "compute per chip).",
)
@click.option("--name", help="Model name in the card (default: bearid-<backbone>).")
@click.option(
    "--score",
    type=click.Choice(SCORE_NAMES),
    help="Open-set score of the decision rule instead of the calibrated one (with thresholds).",
)
@click.option(
    "--known-threshold",
    type=float,
    help="Score at or above which an encounter is known, instead of the calibrated one.",
)
@click.option(
    "--unknown-threshold",
    type=float,
    help="Score below which an encounter is unknown, instead of the calibrated one.",
)
@click.option(
    "--threshold",
    type=click.FloatRange(-1.0, 1.0),
    help="One threshold for both (no review band), on the best similarity unless --score.",
)
@click.option(
    "--same-individual",
    type=click.FloatRange(-1.0, 1.0),
    help="Similarity at which a chip joins a track, instead of the calibrated one.",
)
@click.option(
    "--parity-chips",
    default=32,
    show_default=True,
    type=click.IntRange(1, 4096),
    help="Chips compared between PyTorch and ONNX Runtime.",
)
@click.option(
    "--calibration-count",
    default=64,
    show_default=True,
    type=click.IntRange(8, 4096),
    help="Chips that calibrate the INT8 model (other chips than the parity ones).",
)
@click.option(
    "--min-cosine-fp16",
    default=MIN_COSINE["fp16"],
    show_default=True,
    type=click.FloatRange(0.0, 1.0),
    help="Refuse an FP16 model below this.",
)
@click.option(
    "--min-cosine-int8",
    default=MIN_COSINE["int8"],
    show_default=True,
    type=click.FloatRange(0.0, 1.0),
    help="Refuse an INT8 model below this.",
)
@click.option(
    "--batch-profile",
    nargs=3,
    type=click.IntRange(1, 4096),
    default=(1, 8, 32),
    show_default=True,
    help="TensorRT min, opt and max batch.",
)
@click.option(
    "--workspace-mib",
    default=1024,
    show_default=True,
    type=click.IntRange(64),
    help="GPU memory TensorRT may use while building, in MiB.",
)
@click.option("--seed", default=0, show_default=True, type=int, help="Seed for picking chips.")
def export_command(source: Path, out: Path, trt: bool, fp16: bool, **kwargs: Any) -> None:
    """Export RUN_OR_CHECKPOINT (or build an engine from MODEL.onnx with --trt)."""
    batches, workspace = kwargs.pop("batch_profile"), kwargs.pop("workspace_mib")
    engine = _engine_options(fp16, batches, workspace) if trt else None  # checked up front
    if source.suffix.lower() == ".onnx":
        if engine is None:
            raise ExportSourceError(
                f"{source} is already an ONNX model: add --trt to build a TensorRT engine from "
                f"it, or check it with `bear-export verify {source}`"
            )
        _build_engine(source, out, engine)
        return
    onnx_path = _export(source, out, fp16=fp16, **kwargs)
    if engine is not None:
        _build_engine(onnx_path, out, engine)


def _export(source: Path, out: Path, **kwargs: Any) -> Path:
    from bearexport.card import ManualRule
    from bearexport.pipeline import ExportOptions, export_checkpoint

    cosines = {
        **MIN_COSINE,
        "fp16": kwargs.pop("min_cosine_fp16"),
        "int8": kwargs.pop("min_cosine_int8"),
    }
    manual = ManualRule(
        score=kwargs.pop("score"),
        known=kwargs.pop("known_threshold"),
        unknown=kwargs.pop("unknown_threshold"),
        threshold=kwargs.pop("threshold"),
        same_individual=kwargs.pop("same_individual"),
    )
    options = ExportOptions(min_cosine=cosines, manual=manual, **kwargs)
    result = export_checkpoint(source, out, options)
    for report in result.parity.values():
        click.echo(report.line())
    for precision, size in result.sizes.items():
        click.echo(f"{precision}: {out / MODEL_FILES[precision]} ({size / 1e6:.2f} MB)")
    card = result.card
    d, t = card.decision, card.tracks
    tracks = f"same-individual {t.same_individual:.3f} ({t.method})" if t else "no tracks"
    click.echo(
        f"model card (format {card.format_version}): {card.model.name}, {card.input.width}x"
        f"{card.input.height} {card.input.colour_order}, embedding {card.embedding.size}, "
        f"decision {d.score}: known >= {d.known_threshold:.3f}, unknown < "
        f"{d.unknown_threshold:.3f} ({d.method}), {tracks}, sha256 {card.model.sha256}"
    )
    return out / MODEL_FILES["fp32"]


def _build_engine(onnx_path: Path, out: Path, options: EngineOptions) -> None:
    result = build_checked_engine(onnx_path, out, options)
    click.echo(result.parity.line())
    side = result.sidecar
    click.echo(
        f"engine: {result.engine} ({side.precision}, TensorRT {side.tensorrt_version}, "
        f"{side.gpu_name} sm {side.compute_capability}, batch {side.min_batch}/"
        f"{side.opt_batch}/{side.max_batch})"
    )


@main.command("verify")
@click.argument("model", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--chips",
    type=click.Path(path_type=Path, file_okay=False),
    help="Real face chips: check batch 1 against whole batches and time on them.",
)
@click.option("--chip-count", default=32, show_default=True, type=click.IntRange(1, 4096))
@click.option(
    "--batch",
    "batches",
    multiple=True,
    type=click.IntRange(1, 4096),
    default=(1, 8, 32),
    show_default=True,
    help="Batch sizes to time.",
)
@click.option(
    "--seconds",
    default=2.0,
    show_default=True,
    type=click.FloatRange(0.0),
    help="Time spent measuring each batch size.",
)
@click.option(
    "--threads",
    default=0,
    show_default=True,
    type=click.IntRange(0),
    help="ONNX Runtime intra-op threads (0: decide).",
)
@click.option(
    "--provider",
    "providers",
    multiple=True,
    help="ONNX Runtime providers in order (default: TensorRT, CUDA, CPU).",
)
def verify_command(
    model: Path,
    chips: Path | None,
    chip_count: int,
    batches: tuple[int, ...],
    seconds: float,
    threads: int,
    providers: tuple[str, ...],
) -> None:
    """Check MODEL against its export's reference embeddings and time it."""
    report = verify_model(
        model,
        chips,
        chip_count=chip_count,
        batches=tuple(batches),
        seconds=seconds,
        threads=threads,
        providers=providers or DEFAULT_PROVIDERS,
    )
    for line in report.lines():
        click.echo(line)
    require_parity(report.parity, VERIFY_ADVICE)
    if report.batch_consistency is not None:
        require_parity(report.batch_consistency, BATCH_ADVICE)
