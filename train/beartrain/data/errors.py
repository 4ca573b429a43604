"""What can go wrong reading a chips folder, each with a message that says how to fix it."""

from __future__ import annotations

from bearagent.errors import BearIdError


class ChipsFolderError(BearIdError):
    """The chips folder is missing, or holds no chips in the layout <root>/<individual>/<image>."""


class MetadataError(BearIdError):
    """The metadata CSV is missing, malformed, or names chips that are not there."""


class DataConfigError(BearIdError):
    """A data setting that cannot work: a broken file-name pattern or an unknown timezone."""
