"""Putting the detector stage into the agent: which roots hold frames, which chips.

With the detector on, the watch roots hold frames and clips, watched by the
stage's own watcher; the agent's chip watcher watches only the chips folder,
whose layout is the stage's own (``<site>/<camera>/...``), so the default path
pattern applies there whatever ``watch.path_pattern`` says about the trap folders.
"""

from __future__ import annotations

from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

from bearagent.detection.config import DetectorConfig
from bearagent.detection.crops import CropRules
from bearagent.detection.errors import DetectorError
from bearagent.detection.finders import FaceFinder, OneStage, TwoStage
from bearagent.detection.onnx_detector import OnnxDetector, SessionSettings
from bearagent.detection.processing import FrameProcessor, ProcessorSettings
from bearagent.detection.stage import FrameStage, StageSettings
from bearagent.pipeline.stats import AgentStats
from bearagent.watch import WatchConfig

if TYPE_CHECKING:
    from bearagent.config import AgentConfig

#: The chips folder's layout: <site>/<camera>/<frame>_<k>.jpg.
CHIPS_PATH_PATTERN = str(WatchConfig.model_fields["path_pattern"].default)


def chip_watch_config(watch: WatchConfig, chips_root: Path) -> WatchConfig:
    """The chip watcher's settings with the detector on: only the chips folder, JPEG chips."""
    return watch.model_copy(
        update={
            "roots": [chips_root],
            "extensions": [".jpg"],
            "path_pattern": CHIPS_PATH_PATTERN,
            "observer": "native",
        }
    )


def frame_watch_config(watch: WatchConfig, detector: DetectorConfig) -> WatchConfig:
    """The stage's watcher settings: the watch roots, frame and clip extensions."""
    return watch.model_copy(
        update={"extensions": [*detector.frame_extensions, *detector.clip_extensions]}
    )


def open_finder(cfg: DetectorConfig) -> FaceFinder:
    """The configured face finder, its detectors' cards and outputs checked (or refused)."""
    if cfg.model is None:
        raise DetectorError("detector.model is not set: give --detector FILE or set it")
    threads = (cfg.providers, cfg.intra_op_threads)
    faces = OnnxDetector(
        cfg.model, SessionSettings(*threads, cfg.score_threshold, cfg.iou_threshold)
    )
    if cfg.animal_model is None:
        return OneStage(faces)
    animals = OnnxDetector(cfg.animal_model, SessionSettings(*threads, cfg.animal_score_threshold))
    return TwoStage(animals, faces, cfg.animal_margin)


def processor_settings(cfg: AgentConfig, timezone: tzinfo) -> ProcessorSettings:
    """The processor's settings from the agent's configuration."""
    d = cfg.detector
    return ProcessorSettings(
        chips_root=d.chips_path(cfg.agent.state_dir),
        rules=CropRules(d.margin, d.square_chips, d.min_size_px, d.min_sharpness),
        names=cfg.capture.pattern(timezone),
        timezone=timezone,
        max_frame_bytes=d.max_frame_bytes,
        max_clip_bytes=d.max_clip_bytes,
        max_pixels=cfg.watch.max_pixels,
        clip_sample_fps=d.clip_sample_fps,
        clip_max_frames=d.clip_max_frames,
        chip_quality=d.chip_quality,
    )


def open_frame_stage(cfg: AgentConfig, stats: AgentStats, timezone: tzinfo) -> FrameStage:
    """The detector stage for this configuration (not started); refuses a detector whose
    card or outputs do not fit."""
    settings = processor_settings(cfg, timezone)
    settings.chips_root.mkdir(parents=True, exist_ok=True)
    stage = StageSettings(
        watch=frame_watch_config(cfg.watch, cfg.detector),
        clip_extensions=frozenset(cfg.detector.clip_extensions),
        site=cfg.agent.site,
        database=cfg.agent.database_path,
    )
    return FrameStage(stage, FrameProcessor(open_finder(cfg.detector), settings), stats)


def start_frame_stage(
    cfg: AgentConfig, stats: AgentStats, timezone: tzinfo
) -> tuple[FrameStage, WatchConfig]:
    """Open and start the detector stage on the watch roots; returns it and the settings of
    the agent's chip watcher (the chips folder only). Chips it writes before the chip
    watcher starts wait in the folder for the watcher's backlog scan."""
    stage = open_frame_stage(cfg, stats, timezone)
    stage.start()
    chips_root = cfg.detector.chips_path(cfg.agent.state_dir)
    return stage, chip_watch_config(cfg.watch, chips_root)
