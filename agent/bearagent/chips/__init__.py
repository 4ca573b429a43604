"""Face chips: decoding image files safely, and turning them into network input."""

from bearagent.chips.decode import ChipRejected, decode_chip
from bearagent.chips.exif import read_capture_time
from bearagent.chips.preprocess import preprocess, preprocess_batch, resize_chip

__all__ = [
    "ChipRejected",
    "decode_chip",
    "preprocess",
    "preprocess_batch",
    "read_capture_time",
    "resize_chip",
]
