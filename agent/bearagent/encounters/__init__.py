"""Encounters: a bear's burst of chips in front of one camera, decided as one sighting."""

from bearagent.encounters.config import EncounterConfig
from bearagent.encounters.tracker import (
    ChipObservation,
    Decision,
    Encounter,
    EncounterEvent,
    EncounterTracker,
    IdentityStore,
)

__all__ = [
    "ChipObservation",
    "Decision",
    "Encounter",
    "EncounterConfig",
    "EncounterEvent",
    "EncounterTracker",
    "IdentityStore",
]
