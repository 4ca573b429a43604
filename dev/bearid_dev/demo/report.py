"""The demo's verdict: how many encounters the agent got right, and why not the others."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bearid_dev.demo.data import FieldEncounter
from bearid_dev.demo.field import Seen, drop_number, final_decision

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
    outcomes: dict[str, int] = field(default_factory=dict)  # agent encounters by final status
    purity: float = 0.0  # mean share of an agent encounter's chips from its majority drop
    agent_encounters: int = 0
    review_total: int = 0  # dropped encounters the agent left to a person
    review_top_right: int = 0  # known bears in review whose first candidate is right

    @property
    def accuracy(self) -> float:
        """Share of all encounters decided correctly."""
        total = self.known_total + self.unknown_total
        return (self.known_correct + self.unknown_flagged) / total if total else 0.0


def _by_drop(ends: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """For each drop, the final decision of the agent encounter holding most of its chips."""
    best: dict[int, tuple[int, dict[str, Any]]] = {}
    for end in ends:
        for number, n in Counter(drop_number(c["file"]) for c in end["chips"]).items():
            if n > best.get(number, (0, {}))[0]:
                best[number] = (n, final_decision(end))
    return {number: decision for number, (_, decision) in best.items()}


def summarise(
    encounters: list[FieldEncounter], seen: dict[int, Seen], ends: list[dict[str, Any]]
) -> DemoSummary:
    """Compare each dropped encounter's final decision with the truth."""
    known_ok = unknown_ok = linked = repeats = missing = review = top_right = 0
    provisional_of: dict[str, str] = {}
    finals = _by_drop(ends)
    for number, encounter in enumerate(encounters):
        final = finals.get(number, seen.get(number, Seen()).final)
        if final is None:
            missing += 1
            continue
        if final["status"] == "review":
            review += 1
            top = (final.get("top_k") or [{}])[0].get("name")
            top_right += encounter.known and top == encounter.individual
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
    purities = [
        Counter(drop_number(c["file"]) for c in e["chips"]).most_common(1)[0][1] / len(e["chips"])
        for e in ends
        if e["chips"]
    ]
    return DemoSummary(
        known,
        known_ok,
        len(encounters) - known,
        unknown_ok,
        linked,
        repeats,
        missing,
        outcomes=dict(Counter(e["decision"]["status"] for e in ends)),
        purity=sum(purities) / len(purities) if purities else 0.0,
        agent_encounters=len(ends),
        review_total=review,
        review_top_right=top_right,
    )


def print_summary(summary: DemoSummary, say: Say) -> None:
    """The closing lines of the demo."""
    say("summary:")
    o = summary.outcomes
    say(
        f"  agent's encounters         {summary.agent_encounters} for "
        f"{summary.known_total + summary.unknown_total} visits: known {o.get('known', 0)}, "
        f"review {o.get('review', 0)}, unknown {o.get('unknown', 0)}"
    )
    say(f"  encounter purity           {summary.purity:.3f} (share of an encounter's chips "
        "from one visit)")  # fmt: skip
    if summary.review_total:
        say(f"  left to a person (review)  {summary.review_total} visits; first candidate right "
            f"for {summary.review_top_right} known bears")  # fmt: skip
    say(f"  known bears recognised     {summary.known_correct}/{summary.known_total} encounters")
    say(
        f"  unknown bears flagged      {summary.unknown_flagged}/{summary.unknown_total} encounters"
    )
    say(f"  repeat visits linked       {summary.repeat_visits_linked}/{summary.repeat_visits}")
    if summary.missing:
        say(f"  encounters without an end  {summary.missing}")
    say(f"  encounter accuracy         {summary.accuracy:.0%}")
