"""``bear-export --timm NAME`` and ``bear-export adopt MODEL.onnx``: models bear-train did not
train, as bearid models whose thresholds the box calibrates on its own gallery."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from bearagent.decisions import SCORE_NAMES
from bearagent.modelcard import Interpolation, ResizeRule
from bearexport.cli_common import (
    build_engine,
    chips_option,
    echo_card,
    echo_export,
    engine_options,
    min_cosines,
    out_option,
    precision_options,
)
from bearexport.input_options import Preprocessing
from bearexport.outputs import MODEL_FILES

F = TypeVar("F", bound=Callable[..., Any])


def _score_option(func: F) -> F:
    return click.option(
        "--score",
        type=click.Choice(SCORE_NAMES),
        default="best",
        show_default=True,
        help="Open-set score the box calibrates its thresholds for.",
    )(func)


def _resize_option(default: str | None) -> Callable[[F], F]:
    return click.option(
        "--resize",
        type=click.Choice([r.value for r in ResizeRule]),
        default=default,
        show_default=default is not None,
        help="How a chip becomes the input size"
        + (" (default: from timm's crop mode)." if default is None else "."),
    )


def _interpolation_option(default: str | None) -> Callable[[F], F]:
    return click.option(
        "--interpolation",
        type=click.Choice([i.value for i in Interpolation]),
        default=default,
        show_default=default is not None,
        help="Resampling filter" + (" (default: timm's)." if default is None else "."),
    )


@click.command("timm")
@click.argument("name")
@out_option
@click.option(
    "--pretrained/--no-pretrained",
    default=True,
    show_default=True,
    help="timm's pretrained weights (downloaded), or random ones (tests only).",
)
@click.option(
    "--checkpoint",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Weights file (.pth, .bin, .safetensors) for the architecture NAME, instead of a "
    "download.",
)
@click.option("--name", "model_name", help="Model name in the card (default: from NAME).")
@_score_option
@click.option("--input", "size", help="HEIGHTxWIDTH instead of timm's input size.")
@click.option("--mean", help="R,G,B on the 0-1 scale instead of timm's mean.")
@click.option("--std", help="R,G,B on the 0-1 scale instead of timm's std.")
@_resize_option(None)
@_interpolation_option(None)
@click.option(
    "--flip-tta",
    is_flag=True,
    help="Bake test-time flip averaging into the graph (twice the compute per chip).",
)
@chips_option
@precision_options
def timm_command(name: str, out: Path, trt: bool, fp16: bool, **kwargs: Any) -> None:
    """Export the timm model NAME (also written `bear-export --timm NAME`).

    NAME: an architecture (swin_tiny_patch4_window7_224), hf-hub:OWNER/REPO
    (hf-hub:BVRA/MegaDescriptor-T-224) or local-dir:FOLDER (its config.json and
    weights, downloaded beforehand). Input size, mean, std and resize come from
    timm's pretrained config; the card has no thresholds (the box calibrates them).
    """
    from bearexport.pipeline import ExportOptions
    from bearexport.timm_source import TimmExportOptions, TimmSource, export_timm

    batches, workspace = kwargs.pop("batch_profile"), kwargs.pop("workspace_mib")
    engine = engine_options(fp16, batches, workspace) if trt else None  # checked up front
    source = TimmSource(name, kwargs.pop("pretrained"), kwargs.pop("checkpoint"))
    preprocessing = Preprocessing.parse(
        size=kwargs.pop("size"),
        mean=kwargs.pop("mean"),
        std=kwargs.pop("std"),
        resize=kwargs.pop("resize"),
        interpolation=kwargs.pop("interpolation"),
    )
    score, flip_tta = kwargs.pop("score"), kwargs.pop("flip_tta")
    cosines = min_cosines(kwargs)
    export = ExportOptions(min_cosine=cosines, name=kwargs.pop("model_name"), fp16=fp16, **kwargs)
    options = TimmExportOptions(export, preprocessing, score, flip_tta)
    result = export_timm(source, out, options)
    echo_export(result, out)
    click.echo(f"source: {result.card.model.source}")
    if engine is not None:
        build_engine(out / MODEL_FILES["fp32"], out, engine)


@click.command("adopt")
@click.argument("model", type=click.Path(path_type=Path, dir_okay=False))
@out_option
@click.option("--input", "size", help="HEIGHTxWIDTH the model takes (default: the graph's).")
@click.option("--mean", required=True, help="R,G,B on the 0-1 scale, e.g. 0.485,0.456,0.406.")
@click.option("--std", required=True, help="R,G,B on the 0-1 scale, e.g. 0.229,0.224,0.225.")
@click.option(
    "--colour",
    type=click.Choice(["rgb", "bgr"]),
    default="rgb",
    show_default=True,
    help="Channel order the model takes.",
)
@_resize_option("stretch")
@_interpolation_option("linear")
@click.option("--output", help="The graph output holding the embedding (when it has several).")
@click.option("--name", "model_name", help="Model name in the card (default: the file's stem).")
@_score_option
@chips_option
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
    help="ONNX Runtime intra-op threads while checking and timing (0: decide).",
)
def adopt_command(model: Path, out: Path, **kwargs: Any) -> None:
    """Wrap the ONNX embedder MODEL with a bearid model card.

    Give the preprocessing it was trained with; the graph gives its input and output
    names and embedding size. Checks batch 1 and 8, compares the adopted copy with
    the original through the agent's runtime, and times it (speed.json).
    """
    from bearexport.adopt import AdoptOptions, adopt_model, describe

    preprocessing = Preprocessing.parse(
        size=kwargs.pop("size"),
        mean=kwargs.pop("mean"),
        std=kwargs.pop("std"),
        colour=kwargs.pop("colour"),
        resize=kwargs.pop("resize"),
        interpolation=kwargs.pop("interpolation"),
    )
    options = AdoptOptions(preprocessing, name=kwargs.pop("model_name"), **kwargs)
    result = adopt_model(model, out, options)
    for line in describe(result):
        click.echo(line)
    echo_card(result.card)
    click.echo(f"source: {result.card.model.source}")
