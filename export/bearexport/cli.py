"""``bear-export``: turn a trained embedder into ONNX (and TensorRT) with its model card.

``bear-export RUN_OR_CHECKPOINT --out DIR`` exports (the default command);
``bear-export --timm NAME --out DIR`` exports any timm model (``timm`` command);
``bear-export adopt MODEL.onnx ... --out DIR`` wraps any ONNX embedder with a card;
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
from bearexport.cli_common import (
    build_engine,
    chips_option,
    echo_export,
    engine_options,
    min_cosines,
    out_option,
    precision_options,
)
from bearexport.cli_foreign import adopt_command, timm_command
from bearexport.errors import ExportSourceError
from bearexport.outputs import MODEL_FILES
from bearexport.parity import require as require_parity
from bearexport.verify import BATCH_ADVICE, VERIFY_ADVICE, verify_model

_DEFAULT_COMMAND = "export"


def timm_alias(args: list[str]) -> list[str]:
    """``--timm NAME ...`` (anywhere) as the ``timm`` command: ``timm ... NAME ...``."""
    for i, arg in enumerate(args):
        if arg == "--timm":
            return ["timm", *args[:i], *args[i + 1 :]]
        if arg.startswith("--timm="):
            return ["timm", *args[:i], arg.removeprefix("--timm="), *args[i + 1 :]]
    return args


class ExportGroup(ErrorReportingGroup):
    """A group whose default command is ``export``: ``bear-export RUN --out DIR`` works, and
    ``bear-export --timm NAME --out DIR`` runs the ``timm`` command."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands:
            args = timm_alias(args)
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h", "--version"):
            args = [_DEFAULT_COMMAND, *args]
        return super().parse_args(ctx, args)


@click.group(cls=ExportGroup)
@version_option()
def main() -> None:
    """Export a bear-train checkpoint, a timm model or an ONNX embedder with a model card.

    \b
    bear-export RUN_OR_CHECKPOINT --out DIR [--fp16] [--int8] [--trt]
    bear-export --timm NAME --out DIR [--no-pretrained] [--checkpoint FILE]
    bear-export adopt MODEL.onnx --input HxW --mean R,G,B --std R,G,B --out DIR
    bear-export MODEL.onnx --trt --out DIR     (on the GPU box; no torch needed)
    bear-export verify MODEL [--chips DIR]
    """
    # Our progress at INFO; the exporters' and TensorRT's chatter only when it matters.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("bearexport").setLevel(logging.INFO)


@main.command("export")
@click.argument("source", metavar="RUN_OR_CHECKPOINT", type=click.Path(path_type=Path))
@out_option
@chips_option
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
@precision_options
def export_command(source: Path, out: Path, trt: bool, fp16: bool, **kwargs: Any) -> None:
    """Export RUN_OR_CHECKPOINT (or build an engine from MODEL.onnx with --trt)."""
    batches, workspace = kwargs.pop("batch_profile"), kwargs.pop("workspace_mib")
    engine = engine_options(fp16, batches, workspace) if trt else None  # checked up front
    if source.suffix.lower() == ".onnx":
        if engine is None:
            raise ExportSourceError(
                f"{source} is already an ONNX model: add --trt to build a TensorRT engine from "
                f"it, or check it with `bear-export verify {source}`"
            )
        build_engine(source, out, engine)
        return
    onnx_path = _export(source, out, fp16=fp16, **kwargs)
    if engine is not None:
        build_engine(onnx_path, out, engine)


def _export(source: Path, out: Path, **kwargs: Any) -> Path:
    from bearexport.card import ManualRule
    from bearexport.pipeline import ExportOptions, export_checkpoint

    cosines = min_cosines(kwargs)
    manual = ManualRule(
        score=kwargs.pop("score"),
        known=kwargs.pop("known_threshold"),
        unknown=kwargs.pop("unknown_threshold"),
        threshold=kwargs.pop("threshold"),
        same_individual=kwargs.pop("same_individual"),
    )
    options = ExportOptions(min_cosine=cosines, manual=manual, **kwargs)
    result = export_checkpoint(source, out, options)
    echo_export(result, out)
    return out / MODEL_FILES["fp32"]


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


main.add_command(timm_command)
main.add_command(adopt_command)
