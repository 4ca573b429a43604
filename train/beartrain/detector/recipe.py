"""The whole detector recipe in one call: scenes, training, export, held-out measurement.

Training scenes show individuals ``first_index`` .. ``first_index + individuals - 1``;
the held-out scenes are rendered with another seed and show other individuals
(the next `individuals` of the population), so the figures are for unseen bears
in unseen scenes (leak rule: no individual and no scene on both sides).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from bearagent.detection.card import DetectorQuality
from beartrain.detector.evaluate import DetectorScore, evaluate_detector
from beartrain.detector.export import ExportedDetector, export_detector, record_quality
from beartrain.detector.train import DetectorTrainConfig, FitResult, fit_detector
from beartrain.scenes import SceneConfig, write_scenes


@dataclass(frozen=True)
class DetectorRecipe:
    """Scenes to train on, scenes to measure on, and how to train."""

    train_scenes: SceneConfig = field(default_factory=lambda: SceneConfig(count=600, seed=1))
    heldout_scenes: int = 150
    training: DetectorTrainConfig = field(default_factory=DetectorTrainConfig)
    name: str = "bearid-faces"
    score_threshold: float = 0.5

    def heldout(self) -> SceneConfig:
        """The held-out scenes: another seed, the next individuals of the population."""
        t = self.train_scenes
        return replace(
            t,
            count=self.heldout_scenes,
            seed=t.seed + 1000,
            first_index=t.first_index + t.individuals,
        )


@dataclass(frozen=True)
class MadeDetector:
    """What the recipe made."""

    exported: ExportedDetector
    fit: FitResult
    score: DetectorScore


def make_detector(
    workdir: Path, out: Path, recipe: DetectorRecipe, say: Callable[[str], None] = print
) -> MadeDetector:
    """Render scenes into `workdir`, train, export to `out` (+ card), measure, record."""
    train_dir, heldout_dir = workdir / "scenes-train", workdir / "scenes-heldout"
    write_scenes(train_dir, recipe.train_scenes)
    write_scenes(heldout_dir, recipe.heldout())
    held_out = recipe.heldout_scenes
    say(f"detector scenes: {recipe.train_scenes.count} to train on, {held_out} held out")
    fit = fit_detector(train_dir, workdir / "detector-run", recipe.training, say)
    say(f"detector trained in {fit.seconds:.0f} s")
    exported = export_detector(fit.checkpoint, out, name=recipe.name, score=recipe.score_threshold)
    score = evaluate_detector(out, heldout_dir)
    quality = DetectorQuality(
        map50=round(score.map50, 4),
        recall=round(score.recall, 4),
        precision=round(score.precision, 4),
        evaluation_set=f"{score.scenes} held-out synthetic scenes, {score.faces} faces of unseen "
        "individuals (per face box, IoU 0.5)",
    )
    card = record_quality(out, exported.card, quality)
    say(f"detector on held-out scenes: {score.line()}")
    return MadeDetector(replace(exported, card=card), fit, score)
