"""What the ``bear-export`` commands share: the output, parity, precision and engine options,
and the lines they print about a card and an engine."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from bearagent.modelcard import ModelCard
from bearexport.card import describe_decision
from bearexport.engine import build_checked_engine
from bearexport.outputs import MODEL_FILES
from bearexport.parity import MIN_COSINE
from bearexport.tensorrt_build import EngineOptions

if TYPE_CHECKING:
    from bearexport.pipeline import ExportResult

F = TypeVar("F", bound=Callable[..., Any])


def out_option(func: F) -> F:
    """``--out DIR``."""
    return click.option(
        "--out",
        required=True,
        type=click.Path(path_type=Path, file_okay=False),
        help="Output folder (created; files are replaced only if every check passes).",
    )(func)


def chips_option(func: F) -> F:
    """``--chips DIR``: real chips for the checks."""
    return click.option(
        "--chips",
        type=click.Path(path_type=Path, file_okay=False),
        help="Real face chips for the parity check (default: synthetic chips).",
    )(func)


_PRECISION_OPTIONS = [
    click.option(
        "--calibration-chips",
        type=click.Path(path_type=Path, file_okay=False),
        help="Chips for INT8 calibration (default: --chips, else synthetic).",
    ),
    click.option("--fp16", is_flag=True, help="Also write an FP16 model (and an FP16 engine)."),
    click.option("--int8", is_flag=True, help="Also write a static INT8 model."),
    click.option("--trt", is_flag=True, help="Build a TensorRT engine for this box's GPU."),
    click.option(
        "--parity-chips",
        default=32,
        show_default=True,
        type=click.IntRange(1, 4096),
        help="Chips compared between PyTorch and ONNX Runtime.",
    ),
    click.option(
        "--calibration-count",
        default=64,
        show_default=True,
        type=click.IntRange(8, 4096),
        help="Chips that calibrate the INT8 model (other chips than the parity ones).",
    ),
    click.option(
        "--min-cosine-fp16",
        default=MIN_COSINE["fp16"],
        show_default=True,
        type=click.FloatRange(0.0, 1.0),
        help="Refuse an FP16 model below this.",
    ),
    click.option(
        "--min-cosine-int8",
        default=MIN_COSINE["int8"],
        show_default=True,
        type=click.FloatRange(0.0, 1.0),
        help="Refuse an INT8 model below this.",
    ),
    click.option(
        "--batch-profile",
        nargs=3,
        type=click.IntRange(1, 4096),
        default=(1, 8, 32),
        show_default=True,
        help="TensorRT min, opt and max batch.",
    ),
    click.option(
        "--workspace-mib",
        default=1024,
        show_default=True,
        type=click.IntRange(64),
        help="GPU memory TensorRT may use while building, in MiB.",
    ),
    click.option("--seed", default=0, show_default=True, type=int, help="Seed for picking chips."),
]


def precision_options(func: F) -> F:
    """FP16 / INT8 variants, their parity thresholds, the TensorRT engine, the seed."""
    for option in reversed(_PRECISION_OPTIONS):
        func = option(func)
    return func


def engine_options(fp16: bool, batches: tuple[int, int, int], workspace: int) -> EngineOptions:
    """The TensorRT build settings from the command line (checked up front)."""
    return EngineOptions(
        fp16=fp16,
        min_batch=batches[0],
        opt_batch=batches[1],
        max_batch=batches[2],
        workspace_mib=workspace,
    )


def min_cosines(kwargs: dict[str, Any]) -> dict[str, float]:
    """The parity thresholds per precision, taking the two options out of `kwargs`."""
    return {
        **MIN_COSINE,
        "fp16": kwargs.pop("min_cosine_fp16"),
        "int8": kwargs.pop("min_cosine_int8"),
    }


def build_engine(onnx_path: Path, out: Path, options: EngineOptions) -> None:
    """Build and check a TensorRT engine, and say what was built."""
    result = build_checked_engine(onnx_path, out, options)
    click.echo(result.parity.line())
    side = result.sidecar
    click.echo(
        f"engine: {result.engine} ({side.precision}, TensorRT {side.tensorrt_version}, "
        f"{side.gpu_name} sm {side.compute_capability}, batch {side.min_batch}/"
        f"{side.opt_batch}/{side.max_batch})"
    )


def echo_card(card: ModelCard) -> None:
    """One line about the card that was written."""
    t = card.tracks
    tracks = f"same-individual {t.same_individual:.3f} ({t.method})" if t else "no tracks"
    spec = card.input
    click.echo(
        f"model card (format {card.format_version}): {card.model.name}, {spec.width}x"
        f"{spec.height} {spec.colour_order}, embedding {card.embedding.size}, "
        f"{describe_decision(card.decision)}, {tracks}, sha256 {card.model.sha256}"
    )


def echo_export(result: ExportResult, out: Path) -> None:
    """What an export checked and wrote."""
    for report in result.parity.values():
        click.echo(report.line())
    for precision, size in result.sizes.items():
        click.echo(f"{precision}: {out / MODEL_FILES[precision]} ({size / 1e6:.2f} MB)")
    echo_card(result.card)
