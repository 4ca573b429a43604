"""The whole detector recipe in one call: scenes, training, export, held-out measurement.

Training scenes show individuals ``first_index`` .. ``first_index + individuals - 1``;
the validation scenes (where the score threshold is chosen: the best F1) and the
held-out scenes (where the figures come from) are rendered with other seeds and show
other individuals each, so the figures are for unseen bears in unseen scenes (leak
rule: no individual and no scene on two sides).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from bearagent.detection.card import DetectorQuality
from beartrain.detector.evaluate import DetectorScore, calibrate_threshold, evaluate_detector
from beartrain.detector.export import (
    ExportedDetector,
    export_detector,
    record_quality,
    record_threshold,
)
from beartrain.detector.train import DetectorTrainConfig, FitResult, fit_detector
from beartrain.scenes import SceneConfig, write_scenes


@dataclass(frozen=True)
class DetectorRecipe:
    """Scenes to train on, to choose the threshold on, to measure on; how to train."""

    train_scenes: SceneConfig = field(default_factory=lambda: SceneConfig(count=1200, seed=1))
    validation_scenes: int = 100
    heldout_scenes: int = 150
    training: DetectorTrainConfig = field(default_factory=DetectorTrainConfig)
    name: str = "bearid-faces"
    min_threshold: float = 0.3  # the calibrated score threshold is at least this

    def _others(self, count: int, step: int) -> SceneConfig:
        t = self.train_scenes
        first = t.first_index + step * t.individuals
        return replace(t, count=count, seed=t.seed + 1000 * step, first_index=first)

    def validation(self) -> SceneConfig:
        """Scenes the threshold is chosen on: another seed, the next individuals."""
        return self._others(self.validation_scenes, 2)

    def heldout(self) -> SceneConfig:
        """The held-out scenes: another seed, other individuals again."""
        return self._others(self.heldout_scenes, 1)


@dataclass(frozen=True)
class MadeDetector:
    """What the recipe made."""

    exported: ExportedDetector
    fit: FitResult
    score: DetectorScore


def finish_detector(
    checkpoint: Path,
    out: Path,
    *,
    name: str,
    validation: Path | None = None,
    heldout: Path | None = None,
    threshold: float = 0.5,
    min_threshold: float = 0.3,
    iou: float = 0.45,
) -> tuple[ExportedDetector, DetectorScore | None]:
    """Export a checkpoint with its card; with `validation` scenes, choose the score threshold
    there (best F1, at least `min_threshold`); with `heldout` scenes, measure there and put
    the figures into the card."""
    exported = export_detector(checkpoint, out, name=name, score=threshold, iou=iou)
    card = exported.card
    if validation is not None:
        card = record_threshold(out, card, calibrate_threshold(out, validation, min_threshold))
    score = None
    if heldout is not None:
        score = evaluate_detector(out, heldout)
        chosen = f"best F1 on {validation.name}" if validation is not None else "given"
        quality = DetectorQuality(
            map50=round(score.map50, 4),
            recall=round(score.recall, 4),
            precision=round(score.precision, 4),
            evaluation_set=f"{heldout.name}: {score.scenes} scenes, {score.faces} faces (per face "
            f"box, IoU 0.5); score threshold {card.thresholds.score:.2f} ({chosen})",
        )
        card = record_quality(out, card, quality)
    return replace(exported, card=card), score


def make_detector(
    workdir: Path, out: Path, recipe: DetectorRecipe, say: Callable[[str], None] = print
) -> MadeDetector:
    """Render scenes into `workdir`, train, export to `out` (+ card), choose the threshold on
    the validation scenes, measure on the held-out ones, and record both in the card."""
    dirs = {k: workdir / f"scenes-{k}" for k in ("train", "validation", "heldout")}
    write_scenes(dirs["train"], recipe.train_scenes)
    write_scenes(dirs["validation"], recipe.validation())
    write_scenes(dirs["heldout"], recipe.heldout())
    say(f"detector scenes: {recipe.train_scenes.count} to train on, {recipe.validation_scenes} "
        f"to choose the threshold on, {recipe.heldout_scenes} held out")  # fmt: skip
    fit = fit_detector(dirs["train"], workdir / "detector-run", recipe.training, say)
    say(f"detector trained in {fit.seconds:.0f} s")
    exported, score = finish_detector(
        fit.checkpoint,
        out,
        name=recipe.name,
        validation=dirs["validation"],
        heldout=dirs["heldout"],
        min_threshold=recipe.min_threshold,
    )
    assert score is not None
    threshold = exported.card.thresholds.score
    say(f"detector threshold {threshold:.2f} (best F1 on validation scenes of other bears); on "
        f"held-out scenes: {score.line()}")  # fmt: skip
    return MadeDetector(exported, fit, score)
