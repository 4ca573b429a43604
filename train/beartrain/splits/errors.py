"""What can go wrong making a split, each with a message that says how to fix it."""

from __future__ import annotations

from bearagent.errors import BearIdError


class SplitConfigError(BearIdError, ValueError):
    """Split settings that contradict each other or are out of range."""


class SplitImpossible(BearIdError):
    """The data has too few individuals or encounters for the split asked for."""


class SplitInputError(BearIdError):
    """Chip rows that cannot be split as they are (a path twice, an encounter of two bears)."""
