"""Steps 2-4 of bench_loop with the fleet running: the field, the review, the training-set
export, the second model and its rollout; and the timer of every step."""

from __future__ import annotations

import csv
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from bearagent.gallery.enroll import enroll_folder
from bearagent.gallery.schema import open_gallery
from bearagent.runtime import RuntimeConfig, open_embedder
from loop_data import LoopData, drop_encounters
from loop_fleet import AGENT_ID, Field, box_query, snapshot, wait
from loop_review import ReviewTally, register_enrolled, review_field
from loop_train import (
    BIN,
    Trained,
    Trainer,
    exported_table,
    half_a_table,
    run_logged,
    write_dataset,
)

T = TypeVar("T")


class Steps:
    """Each step's wall time, in order (sub-steps indented)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def run(self, name: str, work: Callable[[], T]) -> T:
        """Run `work`, timed as `name`."""
        start = time.monotonic()
        result = work()
        self.seconds[name] = time.monotonic() - start
        print(f"[{self.seconds[name]:7.1f} s] {name}", flush=True)
        return result

    def train(self, name: str, work: Callable[[], Trained]) -> Trained:
        """Run a training step; its own steps' times go in indented."""
        trained = self.run(name, work)
        for step, seconds in trained.seconds.items():
            self.seconds[f"  {name.split(':')[0]}: {step}"] = seconds
        return trained


@dataclass(frozen=True)
class FieldResult:
    """What the fleet part of the loop gave."""

    tally: ReviewTally
    exported: str  # the export command's summary
    reviewed: Path  # the box's database after the review (model 1)
    rolled: Path  # ... after the rollout (model 2)
    second: Trained


def enrol(database: Path, folder: Path, model: Path) -> int:
    """The box's gallery from the enrolment folder; references added."""
    with open_embedder(RuntimeConfig(model=model, intra_op_threads=2)) as embedder:
        report = enroll_folder(open_gallery(database), folder, embedder, agent_id=AGENT_ID)
    return sum(report.added.values())


def references(database: Path) -> int:
    """Reference chips in a box's gallery."""
    rows = box_query(database, "SELECT count(DISTINCT source) FROM reference_embeddings")
    return int(rows[0][0])


def field_loop(work: Path, data: LoopData, first: Path, trainer: Trainer, steps: Steps,
               box_db: Path) -> FieldResult:  # fmt: skip
    """Broker, station and box (on model `first`): the field encounters arrive, the reviewer
    decides them, the training set is exported, the second model trained and rolled out."""
    traps = work / "box" / "traps"
    traps.mkdir(parents=True)
    field_files = {c.box_file for e in data.field for c in e.chips}
    with Field(work / "fleet", box_db, traps, first) as fleet:
        station = f"sqlite:///{fleet.station_db}"
        register_enrolled(fleet.engine, box_db)
        steps.run("field: chips written", lambda: drop_encounters(data, data.field, traps))
        steps.run("field: the box records every chip", lambda: wait(
            lambda: fleet.recorded(field_files), "record of every field chip", 3600))  # fmt: skip
        steps.run("field: encounters and chips at the station", lambda: wait(
            fleet.settled, "field encounters and chips at the station", 1800))  # fmt: skip
        tally = steps.run("review: every field encounter decided",
                          lambda: review_field(fleet.engine, box_db, data.truth()))  # fmt: skip
        exported = work / "training-set"
        log = work / "export-training-set.log"
        steps.run("bear-station export training-set", lambda: run_logged(
            [str(BIN / "bear-station"), "export", "training-set", str(exported), "--db", station],
            log))  # fmt: skip
        check_no_leak(exported, data)
        reviewed = snapshot(box_db, work / "eval-reviewed" / "box.db")
        rows = half_a_table(data.rows_a) + exported_table(exported)
        table = write_dataset(work / "model2", data.root, rows, exported)
        second = steps.train("model 2: split, fit, export", lambda: trainer(work / "model2", table))
        steps.run("rollout: publish to switched",
                  lambda: roll_out(fleet, second.model, station, work))  # fmt: skip
        rolled = snapshot(box_db, work / "eval-after" / "box.db")
    summary = log.read_text(encoding="utf-8").strip().replace("\n", "; ")
    return FieldResult(tally, summary, reviewed, rolled, second)


def roll_out(fleet: Field, model: Path, station: str, work: Path) -> None:
    """`bear-station model publish MODEL --to BOX`, then until the box reports it runs it."""
    sha = hashlib.sha256(model.read_bytes()).hexdigest()
    run_logged([str(BIN / "bear-station"), "model", "publish", str(model), "--to", AGENT_ID,
                "--db", station], work / "publish.log")  # fmt: skip
    wait(lambda: fleet.model_at_station() == sha, "switch of the box to model 2", 3600)


def check_no_leak(exported: Path, data: LoopData) -> None:
    """No held-out or gallery chip in the exported training set (`AssertionError`)."""
    with (exported / "metadata.csv").open(newline="", encoding="utf-8") as f:
        files = {row["file"] for row in csv.DictReader(f)}
    for encounter in [*data.heldout, *data.gallery]:
        for chip in encounter.chips:
            if chip.box_file in files:
                raise AssertionError(f"{chip.box_file} (not a field chip) is in the training set")
