"""Why a box refuses an offered model (the reason goes back to the station as it is)."""

from bearagent.errors import BearIdError


class RolloutError(BearIdError):
    """Base class of the rollout's problems on the box."""


class ModelRefused(RolloutError):
    """The offered model cannot be used here; the box keeps the model it runs.

    The message is the reason the station shows: what is wrong and what to do.
    """


class SwitchDeferred(RolloutError):
    """The switch cannot happen right now (e.g. a reference chip appeared that must be
    fetched first); the rollout goes on and tries again."""
