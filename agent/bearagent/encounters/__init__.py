"""Encounters: an individual's track of chips at one camera, decided as one sighting."""

from bearagent.encounters.config import EncounterConfig
from bearagent.encounters.track import ChipObservation, Track
from bearagent.encounters.tracker import (
    EncounterEvent,
    EncounterTracker,
    IdentityStore,
    Observed,
)

__all__ = [
    "ChipObservation",
    "EncounterConfig",
    "EncounterEvent",
    "EncounterTracker",
    "IdentityStore",
    "Observed",
    "Track",
]
