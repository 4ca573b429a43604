"""The demo's detector (``--frames``): scenes of the synthetic population, a small face
detector trained on the CPU, exported to ``WORKDIR/model/detector.onnx`` with its card."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from bearid_dev.demo.options import DemoOptions
from beartrain.detector.recipe import DetectorRecipe, make_detector
from beartrain.detector.train import DetectorTrainConfig
from beartrain.scenes import SceneConfig

Say = Callable[[str], None]


def demo_recipe(opts: DemoOptions) -> DetectorRecipe:
    """Scenes of the demo's own bears (the gallery's), a few minutes of CPU training; the
    validation and held-out scenes show the population's next bears (unseen by it)."""
    scenes = SceneConfig(
        count=opts.detector_scenes,
        individuals=opts.individuals,
        population_seed=opts.seed,
        seed=opts.seed + 1,
        face_min=40.0,
    )
    training = replace(DetectorTrainConfig(), epochs=opts.detector_epochs, seed=opts.seed)
    quarter = max(40, opts.detector_scenes // 4)
    return DetectorRecipe(
        train_scenes=scenes,
        validation_scenes=quarter,
        heldout_scenes=quarter,
        training=training,
        name="bearid-demo-faces",
    )


def train_detector(opts: DemoOptions, say: Say) -> Path:
    """Render, train, export and measure the demo's detector; returns its ONNX file."""
    out = opts.workdir / "model" / "detector.onnx"
    made = make_detector(opts.workdir / "detector", out, demo_recipe(opts), say)
    say(f"exported {out} (card {out.name}.json; ONNX Runtime vs PyTorch "
        f"{made.exported.max_difference:.1e})")  # fmt: skip
    return out
