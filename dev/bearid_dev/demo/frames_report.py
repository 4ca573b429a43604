"""The verdict of ``--frames``: blanks, detections, encounters and how many were right.

Each chip the agent cut is traced to the bear it shows through its sidecar: the
source frame and box it names are matched (IoU >= 0.3) with the faces rendered
into that frame. A visit (one bear at one camera) is then judged by the agent
encounter holding most of its chips, as the chip demo judges a dropped burst.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bearagent.detection.nms import iou_matrix
from bearagent.store import open_database
from bearid_dev.demo.field import drop_number
from bearid_dev.demo.frames import CLIP_FPS, FieldTruth
from bearid_dev.demo.frames_field import FramesField

Say = Callable[[str], None]
#: Overlap at which a chip's box counts as a rendered face.
MATCH_IOU = 0.3


@dataclass(frozen=True)
class FramesSummary:
    """Frame-level and encounter-level results of the field run."""

    files: dict[str, int]  # frames, clips
    statuses: dict[str, int]  # frames table: blank, detected, rejected
    blank_frames: int  # frames with no bear in them
    blank_recorded: int  # of those, recorded blank
    faces: int  # faces in the searched frames
    faces_found: int  # of those, cut as a chip
    chips: int
    stray_chips: int  # chips showing no face
    known_total: int = 0
    known_correct: int = 0
    unknown_total: int = 0
    unknown_flagged: int = 0
    review_total: int = 0
    missing: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    agent_encounters: int = 0

    @property
    def accuracy(self) -> float:
        """Share of the visits decided correctly."""
        total = self.known_total + self.unknown_total
        return (self.known_correct + self.unknown_flagged) / total if total else 0.0


def _searched(key: str) -> bool:
    """Whether the agent searched this frame (clip frames: one a second)."""
    if "#t=" not in key:
        return True
    return round(float(key.split("#t=")[1]) * CLIP_FPS) % round(CLIP_FPS) == 0


def chip_owners(chips_root: Path, truth: FieldTruth) -> dict[str, str | None]:
    """Each chip (path below the chips folder) -> the bear it shows, or None."""
    owners: dict[str, str | None] = {}
    for chip in sorted(chips_root.rglob("*.jpg")):
        side = json.loads(chip.with_name(chip.name + ".json").read_text())
        x, y, w, h = side["box"]
        faces = truth.faces.get(side["source_frame"], [])
        owner = None
        if faces:
            boxes = np.array([[f.x1, f.y1, f.x2, f.y2] for f in faces])
            overlaps = iou_matrix(np.array([[x, y, x + w, y + h]]), boxes)[0]
            best = int(np.argmax(overlaps))
            owner = faces[best].individual if overlaps[best] >= MATCH_IOU else None
        owners[chip.relative_to(chips_root).as_posix()] = owner
    return owners


def _kind(drop_kind: str) -> str:
    return "clips" if drop_kind == "clip" else "frames"


def _frame_counts(run: FramesField, owners: dict[str, str | None]) -> dict[str, Any]:
    truth = run.truth
    searched = {k: v for k, v in truth.faces.items() if _searched(k)}
    blank_keys = {k for k, v in searched.items() if not v and "#t=" not in k}
    db = open_database(run.database)
    try:
        rows = db.execute("SELECT path, status FROM frames").fetchall()
    finally:
        db.conn.close()
    statuses = Counter(str(s) for _, s in rows)
    blank_recorded = sum(1 for p, s in rows if p in blank_keys and s == "blank")
    found = Counter(owner for owner in owners.values() if owner is not None)
    faces = sum(len(v) for v in searched.values())
    return {
        "files": dict(Counter(_kind(d.kind) for d in truth.drops for _ in d.files)),
        "statuses": dict(statuses),
        "blank_frames": len(blank_keys),
        "blank_recorded": blank_recorded,
        "faces": faces,
        "faces_found": min(faces, sum(found.values())),
        "chips": len(owners),
        "stray_chips": sum(1 for o in owners.values() if o is None),
    }


def summarise_frames(run: FramesField) -> FramesSummary:
    """Compare the agent's encounters with the bears rendered into the frames."""
    owners = chip_owners(run.chips, run.truth)
    best: dict[tuple[int, str], tuple[int, dict[str, Any]]] = {}  # visit -> (chips, decision)
    for end in run.ends:
        visits = Counter((drop_number(c["file"]), owners.get(c["file"])) for c in end["chips"])
        for (number, who), n in visits.items():
            if who is not None and n > best.get((number, who), (0, {}))[0]:
                best[(number, who)] = (n, end["decision"])
    counts = Counter[str]()
    provisional_of: dict[str, str] = {}
    for drop in run.truth.drops:
        for visitor in drop.visitors:
            decision = best.get((drop.number, visitor.individual), (0, None))[1]
            kind = "known" if visitor.known else "unknown"
            counts[f"{kind}_total"] += 1
            if decision is None:
                counts["missing"] += 1
            elif decision["status"] == "review":
                counts["review_total"] += 1
            elif visitor.known:
                counts["known_correct"] += decision["name"] == visitor.individual
            else:
                decided = str(decision["individual_id"])
                first = provisional_of.setdefault(visitor.individual, decided)
                counts["unknown_flagged"] += decided.startswith("unknown-") and decided == first
    return FramesSummary(
        **_frame_counts(run, owners),
        known_total=counts["known_total"],
        known_correct=counts["known_correct"],
        unknown_total=counts["unknown_total"],
        unknown_flagged=counts["unknown_flagged"],
        review_total=counts["review_total"],
        missing=counts["missing"],
        outcomes=dict(Counter(e["decision"]["status"] for e in run.ends)),
        agent_encounters=len(run.ends),
    )


def print_frames_summary(s: FramesSummary, say: Say) -> None:
    """The closing lines of the demo with --frames."""
    statuses = ", ".join(f"{k} {v}" for k, v in sorted(s.statuses.items()))
    frames, clips = s.files.get("frames", 0), s.files.get("clips", 0)
    o = s.outcomes
    visits = s.known_total + s.unknown_total
    say("summary:")
    say(f"  files from the cameras     {frames} frames, {clips} clip(s): {statuses}")
    say(
        f"  blanks                     {s.blank_recorded}/{s.blank_frames} empty frames "
        "recorded blank (never embedded)"
    )
    say(
        f"  detections                 {s.chips} chips cut: {s.faces_found}/{s.faces} faces "
        f"found, {s.stray_chips} chips of no face"
    )
    say(
        f"  agent's encounters         {s.agent_encounters} for {visits} visits: known "
        f"{o.get('known', 0)}, review {o.get('review', 0)}, unknown {o.get('unknown', 0)}"
    )
    if s.review_total:
        say(f"  left to a person (review)  {s.review_total} visits")
    say(f"  known bears recognised     {s.known_correct}/{s.known_total} visits")
    say(f"  unknown bears flagged      {s.unknown_flagged}/{s.unknown_total} visits")
    if s.missing:
        say(f"  visits without a decision  {s.missing}")
    say(f"  encounter accuracy         {s.accuracy:.0%} (per visit)")
