"""What bench_loop prints: the data, the steps' times, the review, and the before/after table."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from loop_data import LoopData, chip_count
from loop_eval import Figures
from loop_review import ReviewTally


def data_lines(data: LoopData, seed: int, gallery: int, heldout_share: float) -> list[str]:
    """The split, in words."""
    b = data.encounters_b()
    return [
        f"data: {data.root} ({len(data.half_a) + len(data.half_b)} individuals)",
        f"halves by individual (seed {seed}): A {len(data.half_a)} individuals, "
        f"{len(data.rows_a)} chips (training of both models); B {len(data.half_b)} "
        f"individuals, {len(b)} encounters, {chip_count(b)} chips",
        f"half B per individual (encounters in a seeded order): up to {gallery} enrol the "
        f"box's gallery, then {heldout_share:.0%} (at least one) are held out, the rest arrive "
        "in the field",
        f"  gallery {len(data.gallery)} encounters / {chip_count(data.gallery)} chips; field "
        f"{len(data.field)} / {chip_count(data.field)}; held out {len(data.heldout)} / "
        f"{chip_count(data.heldout)}",
        f"leak rule (bear-train's encounters, never on two sides): {data.leak_rule}",
    ]


def review_lines(tally: ReviewTally, exported: str) -> list[str]:
    """What the machine decided on the field encounters, what the reviewer did, the export."""
    machine = ", ".join(f"{k} {v}" for k, v in sorted(tally.machine.items()))
    refused = sum(tally.refused_at_desk.values())
    return [
        f"field: the box decided {sum(tally.machine.values())} encounters ({machine}; "
        f"{tally.machine_right} known and right)",
        f"reviewer (desk library calls): {dict(tally.actions)} in {tally.rounds} rounds; "
        f"refused at the desk {refused} {dict(tally.refused_at_desk)}, by the box "
        f"{tally.refused_by_box}; {tally.decided} of {tally.encounters} field encounters end "
        "as their true individual decided by a person",
        f"bear-station export training-set: {exported}",
    ]


def table(rows: list[tuple[str, str, int, Figures]]) -> list[str]:
    """The before/after table (per held-out encounter)."""
    head = (f"{'moment':<28} {'model':<8} {'refs':>5} {'enc':>4} {'acc@1':>6} {'known':>6} "
            f"{'err':>6} {'review':>7} {'unknown':>8} {'cut':>4}  rule in force")  # fmt: skip
    out = [head, "-" * len(head)]
    for label, model, refs, f in rows:
        out.append(
            f"{label:<28} {model:<8} {refs:>5} {len(f.outcomes):>4} {f.acc1:>6.3f} "
            f"{f.share('known'):>6.3f} {f.automatic_error:>6.3f} {f.share('review'):>7.3f} "
            f"{f.share('unknown'):>8.3f} {f.split:>4}  {f.rule}"
        )
    out.append(
        "per held-out encounter (never seen by either training nor by the reviewer), "
        "decided by a real agent on a copy of the box at that moment; acc@1: its best named "
        "candidate is the true cow; known: share decided known, err: of those, the wrong "
        "cow; cut: held-out encounters the box split into several"
    )
    return out


def times_lines(seconds: dict[str, float]) -> list[str]:
    """Each step's wall time."""
    total = sum(s for name, s in seconds.items() if not name.startswith(" "))
    return [f"  {name:<44} {s:8.1f} s" for name, s in seconds.items()] + [
        f"  {'total':<44} {total:8.1f} s"
    ]


def write_json(path: Path, payload: dict[str, Any], figures: list[Figures]) -> None:
    """Everything measured, for later reading."""
    payload["evaluations"] = [
        {"label": f.label, "acc1": f.acc1, "known": f.share("known"),
         "automatic_error": f.automatic_error, "review": f.share("review"),
         "unknown": f.share("unknown"), "cut": f.split, "rule": f.rule, "seconds": f.seconds,
         "outcomes": [asdict(o) for o in f.outcomes]}
        for f in figures
    ]  # fmt: skip
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
