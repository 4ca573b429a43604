"""What can go wrong when publishing a model."""

from bearstation.errors import StationError


class RolloutError(StationError):
    """Base class of the rollout's errors at the station."""


class ModelNotPublishable(RolloutError):
    """The file is not a model the boxes could use (no card, a damaged file, ...)."""


class UnknownBox(RolloutError):
    """A target box the station has never heard from."""
