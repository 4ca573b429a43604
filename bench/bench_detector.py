"""The detector stage on this CPU: frames/s and clips/s with the detector and without it,
and the detector's recall and precision on held-out synthetic scenes and on frames made
of real face chips (../shared/datasets) pasted onto scene backgrounds.

    .venv/bin/python bench/bench_detector.py [--detector model/detector.onnx] [--frames 40]

Without --detector, the detector is made first with bear-train's recipe (scenes, CPU
training, export), cached in /tmp/bearid-bench-detector. "Without the detector" is the
same stage reading, hashing, decoding and dating the same files (clips: decoding and
sampling their frames) with no model: what the frames cost before any face is searched.
Recall and precision are per face box (IoU >= 0.5) at the card's score threshold.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np

from bearagent.chips import FileNamePattern
from bearagent.detection.crops import CropRules
from bearagent.detection.decoders import Boxes
from bearagent.detection.finders import Findings, OneStage
from bearagent.detection.onnx_detector import OnnxDetector, SessionSettings
from bearagent.detection.processing import FrameProcessor, ProcessorSettings
from bearagent.watch import ChipSource
from beartrain.detector.evaluate import evaluate_detector, score_matches
from beartrain.detector.metrics import match_all
from beartrain.detector.recipe import DetectorRecipe, make_detector
from beartrain.scenes import SceneConfig, backdrop, iter_scenes
from beartrain.scenes.clips import write_clip
from beartrain.synthetic import encode_jpeg

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
CACHE = Path(tempfile.gettempdir()) / "bearid-bench-detector"


class NoDetector:
    """A finder that finds nothing: the stage's cost without a model."""

    name = "none"

    def find(self, image_bgr: np.ndarray) -> Findings:
        return Findings(Boxes.empty())

    def close(self) -> None:
        pass


def processor(finder: object, root: Path) -> FrameProcessor:
    settings = ProcessorSettings(
        chips_root=root / "chips",
        rules=CropRules(),
        names=FileNamePattern(timezone=UTC),
        timezone=UTC,
        max_frame_bytes=100_000_000,
        max_clip_bytes=2_000_000_000,
        max_pixels=40_000_000,
        clip_sample_fps=1.0,
        clip_max_frames=300,
        chip_quality=95,
    )
    return FrameProcessor(finder, settings)  # type: ignore[arg-type]


def frames_for(root: Path, count: int, size: tuple[int, int]) -> list[ChipSource]:
    """`count` held-out-style scenes at `size` (w, h), written as camera JPEGs."""
    folder = root / f"frames-{size[0]}x{size[1]}" / "north" / "cam01"
    folder.mkdir(parents=True, exist_ok=True)
    cfg = SceneConfig(count=count, seed=77, first_index=40, face_min=40)
    sources = []
    for index, image, _, _ in iter_scenes(cfg):
        big = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
        path = folder / f"IMG_{index:04d}.JPG"
        path.write_bytes(encode_jpeg(big, datetime(2026, 7, 1, tzinfo=UTC), quality=90))
        sources.append(ChipSource(path, root, path.relative_to(root).as_posix(), "north", "cam01"))
    return sources


def clips_for(root: Path, count: int, seconds: int, size: tuple[int, int]) -> list[ChipSource]:
    """`count` MP4 clips of `seconds` at 10 fps, each a scene with its bears standing."""
    folder = root / "clips" / "north" / "cam02"
    folder.mkdir(parents=True, exist_ok=True)
    sources = []
    for index, image, _, _ in iter_scenes(SceneConfig(count=count, seed=78, face_min=40)):
        big = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
        rng = np.random.default_rng(index)
        frames = [np.clip(big + rng.normal(0, 2, big.shape), 0, 255).astype(np.uint8)
                  for _ in range(seconds * 10)]  # fmt: skip
        path = write_clip(folder / f"PICT{index:04d}.MP4", frames, 10.0)
        sources.append(ChipSource(path, root, path.relative_to(root).as_posix(), "north", "cam02"))
    return sources


def rate(work: Callable[[ChipSource], object], sources: list[ChipSource]) -> float:
    """Files per second through `work`, one at a time (after one untimed warm-up file)."""
    work(sources[0])
    start = time.perf_counter()
    for source in sources:
        work(source)
    return len(sources) / (time.perf_counter() - start)


def never_seen(_sha: str) -> bool:
    """Every file is new to the bench."""
    return False


def frame_rate(work: FrameProcessor, sources: list[ChipSource]) -> float:
    """Frames per second through `work.frame`."""
    return rate(lambda s: work.frame(s, s.path.stat().st_mtime_ns, never_seen), sources)


def clip_rate(work: FrameProcessor, sources: list[ChipSource]) -> float:
    """Clips per second through `work.clip`."""
    return rate(lambda s: work.clip(s, s.path.stat().st_mtime_ns, never_seen), sources)


def throughput(detector: Path, root: Path, frames: int, clips: int) -> None:
    with_model = processor(OneStage(OnnxDetector(detector)), root / "with")
    without = processor(NoDetector(), root / "without")
    for size in ((1920, 1080), (4000, 3000)):
        sources = frames_for(root, frames, size)
        a, b = frame_rate(without, sources), frame_rate(with_model, sources)
        print(f"frames {size[0]}x{size[1]} JPEG: {a:6.2f}/s without the detector, "
              f"{b:6.2f}/s with it ({frames} frames)")  # fmt: skip
    sources = clips_for(root, clips, 10, (1280, 720))
    a, b = clip_rate(without, sources), clip_rate(with_model, sources)
    print(f"clips 10 s 1280x720 MP4 at 10 fps, searched at 1 fps: {a:6.2f}/s without the "
          f"detector, {b:6.2f}/s with it ({clips} clips)")  # fmt: skip


def real_chip_frames(dataset: Path, count: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Frames of 1-3 real face chips pasted onto scene backgrounds, with their boxes."""
    files = sorted(p for p in dataset.rglob("*") if p.suffix.lower() in (".jpg", ".png"))
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        frame = np.clip(backdrop(rng, 480, 640, int(rng.integers(0, 4))), 0, 255).astype(np.uint8)
        boxes: list[list[int]] = []
        for _ in range(int(rng.integers(1, 4))):
            chip = cv2.imread(str(files[int(rng.integers(len(files)))]), cv2.IMREAD_COLOR)
            if chip is None:
                continue
            side = float(rng.uniform(50, 150))
            scale = side / max(chip.shape[:2])
            w, h = max(8, round(chip.shape[1] * scale)), max(8, round(chip.shape[0] * scale))
            x, y = int(rng.integers(0, 640 - w)), int(rng.integers(0, 480 - h))
            if any(x < b[2] and b[0] < x + w and y < b[3] and b[1] < y + h for b in boxes):
                continue
            frame[y : y + h, x : x + w] = cv2.resize(chip, (w, h), interpolation=cv2.INTER_AREA)
            boxes.append([x, y, x + w, y + h])
        out.append((frame, np.array(boxes, float).reshape(-1, 4)))
    return out


def real_chips(detector: Path, count: int) -> None:
    for name, sub in (("cattle-faces", "identities"), ("chimp-faces", "")):
        dataset = DATASETS / name / sub
        if not dataset.is_dir():
            print(f"{name}: not found at {dataset}; skipped")
            continue
        model = OnnxDetector(detector, SessionSettings(score_threshold=0.01))
        frames = real_chip_frames(dataset, count, seed=5)
        found = [model.detect(frame) for frame, _ in frames]
        matched = match_all([(f.xyxy, f.scores) for f in found], [b for _, b in frames])
        score = score_matches(matched, model.card.thresholds.score, len(frames), {})
        print(f"{name} chips pasted on scene backgrounds: mAP@0.5 {score.map50:.3f}, recall "
              f"{score.recall:.3f}, precision {score.precision:.3f} at score >= "
              f"{score.threshold:.2f} ({score.faces} faces in {len(frames)} frames)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--detector", type=Path, help="an ONNX detector with its card")
    parser.add_argument("--frames", type=int, default=40, help="frames per size")
    parser.add_argument("--clips", type=int, default=4, help="clips")
    parser.add_argument("--real", type=int, default=150, help="frames of real chips per set")
    parser.add_argument("--scenes", type=int, default=1200, help="training scenes (recipe)")
    parser.add_argument("--epochs", type=int, default=20, help="training epochs (recipe)")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    detector = args.detector
    heldout: Path | None = None
    if detector is None:
        base = DetectorRecipe()
        recipe = replace(
            base,
            train_scenes=replace(base.train_scenes, count=args.scenes),
            training=replace(base.training, epochs=args.epochs),
        )
        detector = CACHE / f"detector-{args.scenes}-{args.epochs}.onnx"
        heldout = CACHE / f"work-{args.scenes}-{args.epochs}" / "scenes-heldout"
        if not detector.is_file():
            made = make_detector(heldout.parent, detector, recipe)
            print(f"trained in {made.fit.seconds:.0f} s")
    print(f"detector: {detector}")
    if heldout is not None and heldout.is_dir():
        score = evaluate_detector(detector, heldout)
        print(f"held-out synthetic scenes (unseen bears, another seed): {score.line()}")
    with tempfile.TemporaryDirectory() as scratch:
        throughput(detector, Path(scratch), args.frames, args.clips)
    real_chips(detector, args.real)


if __name__ == "__main__":
    main()
