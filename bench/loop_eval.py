"""Held-out encounters through the box's decisions, for bench_loop.

A real agent (`bearagent.app.Agent`, no broker: events to a log) runs on a copy of the
box's database taken at the moment measured (its gallery, its calibration, the model it
runs), the held-out encounters' chips arrive in its watch folder with their capture
times, and the agent is stopped once it recorded them all (it ends its encounters).
The copy is thrown away, so the field box never sees a held-out chip.

Per held-out encounter (bear-train's), the box's decision is that of the box encounter
holding most of its chips (each arrives on a camera of its own, so a box encounter
never mixes two). acc@1: the box's best named candidate (its top-k, less the
provisional bears this evaluation itself created) is the true individual. Shares of
known (right / wrong: the automatic error), review and unknown decisions.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bearagent.app import Agent
from bearagent.wire.payloads import PROVISIONAL_ID
from loop_data import Encounter, LoopData, drop_encounters
from loop_fleet import box_config, box_query, wait


@dataclass(frozen=True)
class Outcome:
    """The box's decision on one held-out encounter."""

    truth: str
    status: str  # known | review | unknown
    decided: str | None  # the individual's name, when known
    best_named: str | None  # the best named candidate
    box_encounters: int  # box encounters its chips ended up in
    rule: str  # the decision rule that decided it: score, thresholds and their source


@dataclass(frozen=True)
class Figures:
    """Per held-out encounter, one moment of the loop."""

    label: str
    outcomes: list[Outcome]
    seconds: float
    database: Path  # the copy of the box that decided them

    def share(self, status: str) -> float:
        """Share of held-out encounters with this outcome."""
        return sum(o.status == status for o in self.outcomes) / max(len(self.outcomes), 1)

    @property
    def acc1(self) -> float:
        """acc@1 per encounter: the best named candidate is the true individual."""
        right = sum(o.best_named == o.truth for o in self.outcomes)
        return right / max(len(self.outcomes), 1)

    @property
    def automatic_error(self) -> float:
        """Of the encounters decided known, the share decided as the wrong individual."""
        known = [o for o in self.outcomes if o.status == "known"]
        return sum(o.decided != o.truth for o in known) / max(len(known), 1)

    @property
    def rule(self) -> str:
        """The rule that decided most of them (and how many others there were)."""
        rules = Counter(o.rule for o in self.outcomes)
        if not rules:
            return "none"
        text = rules.most_common(1)[0][0]
        return text if len(rules) == 1 else f"{text} (and {len(rules) - 1} other rules)"

    @property
    def split(self) -> int:
        """Held-out encounters the box cut into more than one encounter."""
        return sum(o.box_encounters > 1 for o in self.outcomes)


def _best_named(top_k: list[dict[str, Any]]) -> str | None:
    for candidate in top_k:
        if not PROVISIONAL_ID.match(str(candidate["individual_id"])):
            name = candidate.get("name")
            return str(name) if name is not None else str(candidate["individual_id"])
    return None


def _rule(decision: dict[str, Any]) -> str:
    """``score known>=K unknown<U (source)``; a withheld automatic decision (the calibration
    found no threshold within its target) shows as ``never``."""
    limits = decision["thresholds"]
    known = "never" if limits["known"] > 1 else f">={limits['known']:.3f}"
    unknown = "never" if limits["unknown"] < -1 else f"<{limits['unknown']:.3f}"
    return f"{decision['score']['name']}: known {known}, unknown {unknown} ({limits['source']})"


def _outcomes(database: Path, encounters: list[Encounter]) -> list[Outcome]:
    where = dict(box_query(database, "SELECT file, encounter_id FROM sightings"))
    events = {
        str(i): json.loads(e)
        for i, e in box_query(database, "SELECT id, last_event FROM encounters")
    }  # fmt: skip
    names = dict(box_query(database, "SELECT id, name FROM individuals"))
    out = []
    for encounter in encounters:
        held = Counter(str(where[c.box_file]) for c in encounter.chips if c.box_file in where)
        if not held:
            out.append(Outcome(encounter.individual, "missing", None, None, 0, "none"))
            continue
        event = events[held.most_common(1)[0][0]]
        decision = event["decision"]
        decided = names.get(decision["individual_id"]) if decision["status"] == "known" else None
        out.append(Outcome(encounter.individual, str(decision["status"]), decided,
                           _best_named(event["top_k"]), len(held), _rule(decision)))  # fmt: skip
    return out


def evaluate(label: str, data: LoopData, database: Path, model: Path, folder: Path) -> Figures:
    """The held-out encounters through an agent on `database` (a copy) with `model` (the
    box's configured model; a model it switched to since is used as on the box)."""
    start = time.monotonic()
    traps = folder / "traps"
    traps.mkdir(parents=True)
    files = {c.box_file for e in data.heldout for c in e.chips}
    with (folder / "events.jsonl").open("w", encoding="utf-8") as log, redirect_stdout(log):
        agent = Agent(box_config(database, traps, model, None))
        agent.start()
        try:
            drop_encounters(data, data.heldout, traps)
            wait(lambda: _recorded(database, files), f"record of {len(files)} held-out chips",
                 3600, every=1.0)  # fmt: skip
        finally:
            agent.stop()
    outcomes = _outcomes(database, data.heldout)
    return Figures(label, outcomes, time.monotonic() - start, database)


def _recorded(database: Path, files: set[str]) -> bool:
    rows = box_query(database, "SELECT path FROM files")
    return files <= {str(r[0]) for r in rows}
