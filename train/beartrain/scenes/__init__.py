"""Synthetic camera-trap scenes: the population's bears in whole frames, with face boxes."""

from beartrain.scenes.compose import BearPose, FaceArt, FaceBox, Look, backdrop, paint, random_look
from beartrain.scenes.generate import (
    CLASSES,
    SceneConfig,
    SceneConfigError,
    SceneRecord,
    face_art,
    iter_scenes,
    random_pose,
    read_scenes,
    render_scene,
    write_scenes,
    yolo_label,
)

__all__ = [
    "CLASSES",
    "BearPose",
    "FaceArt",
    "FaceBox",
    "Look",
    "SceneConfig",
    "SceneConfigError",
    "SceneRecord",
    "backdrop",
    "face_art",
    "iter_scenes",
    "paint",
    "random_look",
    "random_pose",
    "read_scenes",
    "render_scene",
    "write_scenes",
    "yolo_label",
]
