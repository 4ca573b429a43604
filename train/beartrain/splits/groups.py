"""Chip rows grouped by encounter and individual, checked for what a split relies on."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from beartrain.data.records import ChipRow
from beartrain.splits.errors import SplitInputError


@dataclass(frozen=True)
class Encounter:
    """The chips of one encounter, all of one individual."""

    id: str
    individual: str
    rows: tuple[ChipRow, ...]


def encounters_by_individual(rows: list[ChipRow]) -> dict[str, list[Encounter]]:
    """Each individual's encounters, individuals and encounters in sorted order."""
    seen: set[str] = set()
    members: defaultdict[str, list[ChipRow]] = defaultdict(list)
    for row in rows:
        if row.path in seen:
            raise SplitInputError(f"chip {row.path} appears twice: index each file once")
        seen.add(row.path)
        members[row.encounter].append(row)
    grouped: defaultdict[str, list[Encounter]] = defaultdict(list)
    for encounter_id in sorted(members):
        chips = members[encounter_id]
        individuals = sorted({r.individual for r in chips})
        if len(individuals) > 1:
            raise SplitInputError(
                f"encounter {encounter_id} holds chips of {len(individuals)} individuals "
                f"({', '.join(individuals[:3])}): give each individual its own encounter id"
            )
        grouped[individuals[0]].append(
            Encounter(encounter_id, individuals[0], tuple(sorted(chips, key=lambda r: r.path)))
        )
    return {name: grouped[name] for name in sorted(grouped)}
