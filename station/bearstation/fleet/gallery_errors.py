"""The fleet gallery's user-facing errors: each says what went wrong and what to do."""

from bearstation.errors import StationError


class FleetGalleryError(StationError):
    """Base class of every fleet-gallery refusal."""


class UnknownFleetIndividual(FleetGalleryError):
    """No individual of the fleet gallery has this id or name."""


class FleetNameInvalid(FleetGalleryError):
    """A name that cannot be used (empty, too long, several lines, or looking like an id)."""


class FleetNameTaken(FleetGalleryError):
    """Another individual of the fleet already has this name."""


class FleetMergeRefused(FleetGalleryError):
    """A merge (or split) that cannot be made: one individual, or not merged."""
