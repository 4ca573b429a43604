"""The loop that makes the model better from the field (issue 21, "Measure"), on the cattle
faces, per held-out encounter, before and after.

1. The cows are split into two halves by individual (seeded). Model 1: `bear-train split`
   (open, every individual in train, 15 % of encounters for val) and `bear-train fit` on
   half A with the cattle recipe (train/configs/cattle-lite0.yaml, `--epochs` epochs),
   exported with `bear-export`.
2. Half B arrives at a box through the field: a real agent whose gallery is enrolled
   (`bearagent gallery enroll`'s library call) from `--gallery` encounters per cow, the
   field encounters written into its watch folder with their capture times (sidecars),
   a real Mosquitto and the real station; the box's chips reach the station's media
   store.
3. A scripted reviewer decides every field encounter (in review, or decided by the
   machine) as its true cow through the desk's library calls (bench/loop_review.py);
   the box applies each decision and publishes the correction.
4. `bear-station export training-set`; model 2 is trained from scratch as model 1 was
   (same recipe, split settings and epochs) on half A plus the exported set, exported,
   and rolled out with `bear-station model publish`; the box switches.
5. Held-out encounters of half B (never seen by either training nor by the reviewer; a
   `--heldout-share` of each cow's encounters after the gallery's) go through a real
   agent on a copy of the box's database at three moments: before the loop (model 1,
   enrolled gallery), after the review (model 1, the gallery the review grew), after
   the rollout (model 2, the same gallery re-embedded). acc@1 and the decisions' shares
   per held-out encounter; each step timed.

    nice -n 10 .venv/bin/python bench/bench_loop.py [--epochs 2] [--individuals N]
        [--gallery 2] [--heldout-share 0.3] [--seed 0] [--work DIR] [--synthetic N]

Skips (exit 0) when ../shared/datasets/cattle-faces is absent.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from beartrain.synthetic import SyntheticConfig, write_population
from loop_cycle import FieldResult, Steps, enrol, field_loop, references
from loop_data import LoopData, prepare, write_gallery_folder
from loop_eval import Figures, evaluate
from loop_fleet import snapshot
from loop_report import data_lines, review_lines, table, times_lines, write_json
from loop_train import Recipe, Trained, Trainer, half_a_table, recipe_trainer, write_dataset

REPO = Path(__file__).resolve().parents[1]
CATTLE = REPO.parent / "shared" / "datasets" / "cattle-faces" / "identities"


@dataclass(frozen=True)
class LoopOptions:
    """How half B is used (see the module docstring)."""

    seed: int = 0
    gallery: int = 2
    heldout_share: float = 0.3
    individuals: int | None = None


@dataclass(frozen=True)
class LoopResult:
    """Everything the loop measured."""

    data: LoopData
    first: Trained
    field: FieldResult
    rows: list[tuple[str, str, int, Figures]]  # moment, model, gallery references, figures
    seconds: dict[str, float]


def _evaluation(label: str, data: LoopData, database: Path, model: Path) -> Callable[[], Figures]:
    return lambda: evaluate(label, data, database, model, database.parent)


def run_loop(work: Path, root: Path, options: LoopOptions, trainer: Trainer) -> LoopResult:
    """The whole loop in `work` on the chips folder `root`; models from `trainer`."""
    steps = Steps()
    data = steps.run("index, halves and roles", lambda: prepare(
        root, seed=options.seed, gallery_per_individual=options.gallery,
        heldout_share=options.heldout_share, individuals=options.individuals))  # fmt: skip
    print("\n".join(data_lines(data, options.seed, options.gallery, options.heldout_share)))
    table1 = write_dataset(work / "model1", root, half_a_table(data.rows_a))
    first = steps.train("model 1: split, fit, export", lambda: trainer(work / "model1", table1))
    box_db = work / "box" / "state" / "bearagent.db"
    write_gallery_folder(data, work / "enrol")
    steps.run("enrol the box's gallery", lambda: enrol(box_db, work / "enrol", first.model))
    before = snapshot(box_db, work / "eval-before" / "box.db")
    field = field_loop(work, data, first.model, trainer, steps, box_db)
    moments = [("before: enrolled gallery", "model 1", before),
               ("after review, old model", "model 1", field.reviewed),
               ("after rollout", "model 2", field.rolled)]  # fmt: skip
    rows: list[tuple[str, str, int, Figures]] = []
    for label, model, database in moments:
        refs = references(database)
        figures = steps.run(f"held-out through the box: {label}",
                            _evaluation(label, data, database, first.model))  # fmt: skip
        rows.append((label, model, refs, figures))
    return LoopResult(data, first, field, rows, steps.seconds)


def report(result: LoopResult, recipe: str, work: Path) -> None:
    """Print the figures; write them to ``work/bench_loop.json``."""
    print("\n" + "\n".join(review_lines(result.field.tally, result.field.exported)))
    for n, trained in ((1, result.first), (2, result.field.second)):
        print(f"model {n} trained on {trained.chips} chips of {trained.individuals} "
              f"individuals: {recipe}")  # fmt: skip
    print("\nsteps (wall time):\n" + "\n".join(times_lines(result.seconds)))
    print("\n" + "\n".join(table(result.rows)))
    tally = result.field.tally
    payload: dict[str, Any] = {"recipe": recipe, "seconds": result.seconds,
                               "review": {"actions": dict(tally.actions),
                                          "machine": dict(tally.machine),
                                          "decided": tally.decided,
                                          "encounters": tally.encounters},
                               "exported": result.field.exported}  # fmt: skip
    write_json(work / "bench_loop.json", payload, [r[3] for r in result.rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=CATTLE, help="chips as ROOT/<individual>/")
    parser.add_argument(
        "--synthetic",
        type=int,
        metavar="N",
        help="a synthetic population of N individuals instead (plumbing)",
    )
    parser.add_argument("--individuals", type=int, help="only this many (seeded), for speed")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--config", type=Path, default=REPO / "train/configs/cattle-lite0.yaml")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        help="more `bear-train fit --set KEY=VALUE` for both models",
    )
    parser.add_argument("--gallery", type=int, default=2, help="encounters per cow enrolled")
    parser.add_argument("--heldout-share", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, help="keep everything here (default: a temp dir)")
    args = parser.parse_args()  # fmt: skip
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.work is not None:
        args.work.mkdir(parents=True, exist_ok=True)
        work, cleanup = args.work, False
    else:
        work, cleanup = Path(tempfile.mkdtemp(prefix="bench-loop-")), True
    try:
        root = args.root
        if args.synthetic:
            root = work / "synthetic"
            write_population(
                root,
                SyntheticConfig(
                    individuals=args.synthetic, size=64, seed=0, min_encounters=4, max_encounters=6
                ),
            )
        elif not root.is_dir():
            print(f"skipped: {root} not found (the cattle faces live in ../shared/datasets)")
            return
        recipe = Recipe(args.config, args.epochs, args.seed, overrides=tuple(args.overrides))
        options = LoopOptions(args.seed, args.gallery, args.heldout_share, args.individuals)
        result = run_loop(work, root, options, recipe_trainer(recipe))
        extra = f", --set {' '.join(args.overrides)}" if args.overrides else ""
        report(result, f"{args.config.name}, {args.epochs} epochs{extra}, from the ImageNet "
               "lite0 weights, bear-train split open (seed, 15 % val, no held-out individuals)",
               work)  # fmt: skip
    finally:
        if cleanup:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
