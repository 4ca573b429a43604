"""Encounters: an individual's track of chips at one camera, decided as one sighting."""

from bearagent.encounters.config import EncounterConfig
from bearagent.encounters.events import EncounterEvent, EventType, Observed
from bearagent.encounters.track import ChipObservation, Track
from bearagent.encounters.tracker import EncounterTracker, IdentityStore

__all__ = [
    "ChipObservation",
    "EncounterConfig",
    "EncounterEvent",
    "EncounterTracker",
    "EventType",
    "IdentityStore",
    "Observed",
    "Track",
]
