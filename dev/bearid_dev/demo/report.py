"""The demo's verdict: how many encounters the agent got right, and why not the others."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bearid_dev.demo.data import FieldEncounter
from bearid_dev.demo.field import Seen

Say = Callable[[str], None]


@dataclass(frozen=True)
class DemoSummary:
    """Encounter-level results of the field run."""

    known_total: int
    known_correct: int
    unknown_total: int
    unknown_flagged: int
    repeat_visits_linked: int  # later visits of a stranger matched to its first visit's id
    repeat_visits: int
    missing: int  # encounters whose `end` never arrived

    @property
    def accuracy(self) -> float:
        """Share of all encounters decided correctly."""
        total = self.known_total + self.unknown_total
        return (self.known_correct + self.unknown_flagged) / total if total else 0.0


def summarise(encounters: list[FieldEncounter], seen: dict[int, Seen]) -> DemoSummary:
    """Compare each encounter's final decision with the truth."""
    known_ok = unknown_ok = linked = repeats = missing = 0
    provisional_of: dict[str, str] = {}
    for number, encounter in enumerate(encounters):
        final = seen.get(number, Seen()).final
        if final is None:
            missing += 1
            continue
        decided = str(final["individual_id"])
        if encounter.known:
            known_ok += final["name"] == encounter.individual
            continue
        is_provisional = decided.startswith("unknown-")
        unknown_ok += is_provisional
        if encounter.individual in provisional_of:
            repeats += 1
            linked += decided == provisional_of[encounter.individual]
        elif is_provisional:
            provisional_of[encounter.individual] = decided
    known = sum(e.known for e in encounters)
    return DemoSummary(
        known, known_ok, len(encounters) - known, unknown_ok, linked, repeats, missing
    )


def print_summary(summary: DemoSummary, say: Say) -> None:
    """The closing lines of the demo."""
    say("summary:")
    say(f"  known bears recognised     {summary.known_correct}/{summary.known_total} encounters")
    say(
        f"  unknown bears flagged      {summary.unknown_flagged}/{summary.unknown_total} encounters"
    )
    say(f"  repeat visits linked       {summary.repeat_visits_linked}/{summary.repeat_visits}")
    if summary.missing:
        say(f"  encounters without an end  {summary.missing}")
    say(f"  encounter accuracy         {summary.accuracy:.0%}")
