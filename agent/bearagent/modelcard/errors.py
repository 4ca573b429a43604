"""Errors raised when a model card is missing, malformed, or does not match its model."""

from bearagent.errors import BearIdError


class ModelCardError(BearIdError):
    """Base class for every model card problem."""


class ModelCardMissing(ModelCardError):
    """The model carries no card, neither inside the ONNX file nor beside it."""


class ModelCardInvalid(ModelCardError):
    """The card is not valid JSON or breaks the schema (missing or wrong fields)."""


class ModelCardVersionError(ModelCardError):
    """The card's format version is not one this bearid can read."""


class ModelCardMismatch(ModelCardError):
    """The card and the model file (or the two copies of the card) disagree."""
