"""Errors of the detector stage, each saying what went wrong and how to fix it."""

from bearagent.errors import BearIdError


class DetectorError(BearIdError):
    """Base class for every detector problem."""


class DetectorCardMissing(DetectorError):
    """The detector has no card: neither in its ONNX metadata nor beside it."""


class DetectorCardInvalid(DetectorError):
    """The card is not valid JSON or breaks the schema."""


class DetectorCardMismatch(DetectorError):
    """The card and the detector file (or the card's two copies) disagree."""


class DetectorIncompatible(DetectorError):
    """The detector's graph does not fit its card: inputs, outputs or their shapes."""
