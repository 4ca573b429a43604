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
    review_top_right: int = 0  # known bears in review whose first candidate is right
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


def chip_faces(chips_root: Path, truth: FieldTruth) -> dict[str, tuple[str, int] | None]:
    """Each chip (path below the chips folder) -> the face it shows (frame key, index)."""
    found: dict[str, tuple[str, int] | None] = {}
    for chip in sorted(chips_root.rglob("*.jpg")):
        side = json.loads(chip.with_name(chip.name + ".json").read_text())
        x, y, w, h = side["box"]
        faces = truth.faces.get(side["source_frame"], [])
        face = None
        if faces:
            boxes = np.array([[f.x1, f.y1, f.x2, f.y2] for f in faces])
            overlaps = iou_matrix(np.array([[x, y, x + w, y + h]]), boxes)[0]
            best = int(np.argmax(overlaps))
            face = (side["source_frame"], best) if overlaps[best] >= MATCH_IOU else None
        found[chip.relative_to(chips_root).as_posix()] = face
    return found


def _kind(drop_kind: str) -> str:
    return "clips" if drop_kind == "clip" else "frames"


def _frame_counts(run: FramesField, faces_of: dict[str, tuple[str, int] | None]) -> dict[str, Any]:
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
    faces = sum(len(v) for v in searched.values())
    return {
        "files": dict(Counter(_kind(d.kind) for d in truth.drops for _ in d.files)),
        "statuses": dict(statuses),
        "blank_frames": len(blank_keys),
        "blank_recorded": blank_recorded,
        "faces": faces,
        "faces_found": len({face for face in faces_of.values() if face is not None}),
        "chips": len(faces_of),
        "stray_chips": sum(1 for face in faces_of.values() if face is None),
    }


def final_decisions(database: Path) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """Each chip's encounter (file -> id), and each encounter's final decision (following
    merges): status, individual id and name."""
    db = open_database(database)
    try:
        chips = {str(f): str(e) for f, e in db.execute("SELECT file, encounter_id FROM sightings")}
        names = {str(i): n for i, n in db.execute("SELECT id, name FROM individuals")}
        rows = db.execute("SELECT id, status, individual_id, merged_into, decision FROM encounters")
        encounters = {str(r[0]): (r[1], r[2], r[3], json.loads(r[4] or "{}")) for r in rows}
    finally:
        db.conn.close()
    decisions: dict[str, dict[str, Any]] = {}
    for encounter in encounters:
        final, hops = encounter, 0
        while encounters[final][2] and encounters[final][2] in encounters and hops < 20:
            final, hops = encounters[final][2], hops + 1
        status, individual, _, decided = encounters[final]
        top = (decided.get("top_k") or [{}])[0].get("name")
        decisions[encounter] = {"id": final, "status": status, "individual_id": individual,
                                "name": names.get(str(individual)), "top": top}  # fmt: skip
    return chips, decisions


def summarise_frames(run: FramesField) -> FramesSummary:
    """Compare the agent's encounters (in its database) with the bears in the frames."""
    faces_of = chip_faces(run.chips, run.truth)
    owners = {
        file: run.truth.faces[face[0]][face[1]].individual if face else None
        for file, face in faces_of.items()
    }
    chip_encounter, decisions = final_decisions(run.database)
    votes: dict[tuple[int, str], Counter[str]] = {}  # visit -> chips per final encounter
    for file, owner in owners.items():
        if owner is not None and file in chip_encounter:
            final = decisions[chip_encounter[file]]["id"]
            votes.setdefault((drop_number(file), owner), Counter())[final] += 1
    by_id = {d["id"]: d for d in decisions.values()}
    counts = Counter[str]()
    provisional_of: dict[str, str] = {}
    for drop in run.truth.drops:
        for visitor in drop.visitors:
            vote = votes.get((drop.number, visitor.individual))
            decision = by_id[vote.most_common(1)[0][0]] if vote else None
            kind = "known" if visitor.known else "unknown"
            counts[f"{kind}_total"] += 1
            if decision is None:
                counts["missing"] += 1
            elif decision["status"] == "review":
                counts["review_total"] += 1
                counts["review_top_right"] += (
                    visitor.known and decision["top"] == visitor.individual
                )
            elif visitor.known:
                counts["known_correct"] += decision["name"] == visitor.individual
            else:
                decided = str(decision["individual_id"])
                first = provisional_of.setdefault(visitor.individual, decided)
                counts["unknown_flagged"] += decided.startswith("unknown-") and decided == first
    finals = {d["id"]: d["status"] for d in decisions.values()}
    return FramesSummary(
        **_frame_counts(run, faces_of),
        known_total=counts["known_total"],
        known_correct=counts["known_correct"],
        unknown_total=counts["unknown_total"],
        unknown_flagged=counts["unknown_flagged"],
        review_total=counts["review_total"],
        review_top_right=counts["review_top_right"],
        missing=counts["missing"],
        outcomes=dict(Counter(str(s) for s in finals.values())),
        agent_encounters=len(finals),
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
        say(
            f"  left to a person (review)  {s.review_total} visits; first candidate right for "
            f"{s.review_top_right} known bears"
        )
    say(f"  known bears recognised     {s.known_correct}/{s.known_total} visits")
    say(f"  unknown bears flagged      {s.unknown_flagged}/{s.unknown_total} visits")
    if s.missing:
        say(f"  visits without a decision  {s.missing}")
    say(f"  encounter accuracy         {s.accuracy:.0%} (per visit)")
