"""The detector stage: camera-trap frames and clips in, face chips with sidecars out.

A YOLO-style ONNX detector (its card beside it: `card`, `cardio`) finds faces in
frames and sampled clip frames (`onnx_detector`, `finders`: one stage, or an
animal detector then a face detector); each good box becomes a chip in the chips
folder (`crops`, `chipwriter`), which the agent's chip path takes from there.
Every frame is recorded once in the ``frames`` table (`frames_table`); blanks wait
there for the publisher. `wiring` puts the stage into the agent.

Kept light on purpose: the configuration schema imports `config` from here, so
the stage's modules are imported where they are used.
"""

from bearagent.detection.card import DETECTOR_CARD_VERSION, DetectorCard
from bearagent.detection.config import DetectorConfig
from bearagent.detection.errors import (
    DetectorCardInvalid,
    DetectorCardMismatch,
    DetectorCardMissing,
    DetectorError,
    DetectorIncompatible,
)
from bearagent.detection.frames_table import (
    BlankFrame,
    frames_summary,
    mark_blanks_published,
    unpublished_blanks,
)

__all__ = [
    "DETECTOR_CARD_VERSION",
    "BlankFrame",
    "DetectorCard",
    "DetectorCardInvalid",
    "DetectorCardMismatch",
    "DetectorCardMissing",
    "DetectorConfig",
    "DetectorError",
    "DetectorIncompatible",
    "frames_summary",
    "mark_blanks_published",
    "unpublished_blanks",
]
