"""Face chips: decoding image files safely, dating them, and turning them into network input."""

from bearagent.chips.capture import (
    TIME_SOURCES,
    CaptureTime,
    Detection,
    TimeSource,
    capture_time,
    read_sidecar,
    sidecar_path,
)
from bearagent.chips.decode import ChipRejected, decode_chip
from bearagent.chips.exif import read_capture_time
from bearagent.chips.filenames import (
    DEFAULT_FILENAME_PATTERN,
    DEFAULT_TIME_FORMATS,
    FileNamePattern,
    FileNamePatternError,
    NameFields,
)
from bearagent.chips.preprocess import preprocess, preprocess_batch, resize_chip

__all__ = [
    "DEFAULT_FILENAME_PATTERN",
    "DEFAULT_TIME_FORMATS",
    "TIME_SOURCES",
    "CaptureTime",
    "ChipRejected",
    "Detection",
    "FileNamePattern",
    "FileNamePatternError",
    "NameFields",
    "TimeSource",
    "capture_time",
    "decode_chip",
    "preprocess",
    "preprocess_batch",
    "read_capture_time",
    "read_sidecar",
    "resize_chip",
    "sidecar_path",
]
