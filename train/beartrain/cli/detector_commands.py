"""``bear-train detector``: scenes, fit, export and evaluate a small face detector."""

from __future__ import annotations

from pathlib import Path

import click

from beartrain.cli.group import main
from beartrain.detector.evaluate import evaluate_detector
from beartrain.detector.recipe import finish_detector
from beartrain.detector.train import CHECKPOINT, DetectorTrainConfig, fit_detector
from beartrain.scenes import SceneConfig, write_scenes

_DIR = click.Path(path_type=Path, file_okay=False)


@main.group("detector")
def detector_group() -> None:
    """Train a small face detector on synthetic camera-trap scenes (CPU, minutes)."""


@detector_group.command("scenes")
@click.argument("root", type=_DIR)
@click.option("--count", default=1200, show_default=True, help="How many scenes.")
@click.option("--seed", default=1, show_default=True, help="The scenes' seed.")
@click.option("--individuals", default=12, show_default=True, help="Bears that appear.")
@click.option(
    "--first-index", default=0, show_default=True, help="Index of the first (held-out: unseen)."
)
@click.option("--population-seed", default=0, show_default=True, help="bear-train synth --seed.")
@click.option("--max-bears", default=3, show_default=True, help="Bears per scene at most.")
@click.option("--size", nargs=2, type=int, default=(640, 480), show_default=True, help="W H.")
@click.option(
    "--face-size",
    nargs=2,
    type=float,
    default=(36.0, 150.0),
    show_default=True,
    help="Smallest and largest face box side, pixels.",
)
@click.option("--night-share", default=0.25, show_default=True, help="Share of night frames.")
@click.option(
    "--occlusion-share", default=0.3, show_default=True, help="Share of bears hidden in part."
)
def scenes_command(
    root: Path,
    count: int,
    seed: int,
    individuals: int,
    first_index: int,
    population_seed: int,
    max_bears: int,
    size: tuple[int, int],
    face_size: tuple[float, float],
    night_share: float,
    occlusion_share: float,
) -> None:
    """Render scenes of the synthetic population into ROOT (images/, labels/, data.yaml)."""
    cfg = SceneConfig(
        count=count,
        seed=seed,
        individuals=individuals,
        first_index=first_index,
        population_seed=population_seed,
        max_bears=max_bears,
        width=size[0],
        height=size[1],
        face_min=face_size[0],
        face_max=face_size[1],
        night_share=night_share,
        occlusion_share=occlusion_share,
    )
    records = write_scenes(root, cfg)
    faces = sum(len(r.faces) for r in records)
    blank = sum(not r.faces for r in records)
    click.echo(f"wrote {len(records)} scenes ({faces} faces, {blank} without a bear) to {root}")


@detector_group.command("fit")
@click.argument("scenes", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--out", type=_DIR, required=True, help="Run folder.")
@click.option("--epochs", default=DetectorTrainConfig.epochs, show_default=True)
@click.option("--batch-size", default=DetectorTrainConfig.batch_size, show_default=True)
@click.option("--input-size", default=DetectorTrainConfig.input_size, show_default=True)
@click.option("--width", default=DetectorTrainConfig.width, show_default=True, help="Channels.")
@click.option("--lr", default=DetectorTrainConfig.lr, show_default=True)
@click.option("--seed", default=DetectorTrainConfig.seed, show_default=True)
@click.option("--threads", default=DetectorTrainConfig.threads, show_default=True)
def fit_command(
    scenes: Path,
    out: Path,
    epochs: int,
    batch_size: int,
    input_size: int,
    width: int,
    lr: float,
    seed: int,
    threads: int,
) -> None:
    """Train the detector on a SCENES folder (deterministic for a seed) into --out."""
    cfg = DetectorTrainConfig(
        input_size=input_size,
        width=width,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        threads=threads,
    )
    result = fit_detector(scenes, out, cfg, say=click.echo)
    click.echo(f"trained in {result.seconds:.0f} s: {result.checkpoint}")


@detector_group.command("export")
@click.argument("run", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option(
    "--out", type=click.Path(path_type=Path, dir_okay=False), required=True, help="detector.onnx"
)
@click.option("--name", default="bearid-faces", show_default=True, help="The card's model name.")
@click.option(
    "--score-threshold",
    default=0.5,
    show_default=True,
    help="The card's threshold without --validation (scores estimate the IoU with the face).",
)
@click.option("--iou-threshold", default=0.45, show_default=True, help="The card's NMS overlap.")
@click.option(
    "--validation",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="Scenes to choose the score threshold on (best F1); not the held-out ones.",
)
@click.option(
    "--scenes",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="Held-out scenes to measure on; the figures go into the card.",
)
def export_command(
    run: Path,
    out: Path,
    name: str,
    score_threshold: float,
    iou_threshold: float,
    validation: Path | None,
    scenes: Path | None,
) -> None:
    """Export RUN's detector to ONNX (YOLOv8 raw layout) with its card beside it."""
    exported, score = finish_detector(
        run / CHECKPOINT,
        out,
        name=name,
        validation=validation,
        heldout=scenes,
        threshold=score_threshold,
        iou=iou_threshold,
    )
    click.echo(
        f"exported {out} (ONNX Runtime vs PyTorch: {exported.max_difference:.1e}; score "
        f"threshold {exported.card.thresholds.score:.2f})"
    )
    if score is not None:
        click.echo(score.line())


@detector_group.command("evaluate")
@click.argument("model", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.argument("scenes", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--threshold", type=float, help="Score threshold (default: the card's).")
def evaluate_command(model: Path, scenes: Path, threshold: float | None) -> None:
    """mAP@0.5, recall and precision of MODEL (an ONNX detector with its card) on SCENES."""
    click.echo(evaluate_detector(model, scenes, threshold).line())
