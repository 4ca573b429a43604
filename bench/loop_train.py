"""Training in bench_loop, through the real command lines: `bear-train split` and `fit` on a
metadata table, then `bear-export`.

The data set of a run is a folder of links (never copies): ``data`` -> the chips folder
(half A's chips as ``data/<individual>/<chip>``) and, for the second model, ``field`` ->
the station's exported training set. One metadata table lists every chip with its
individual and its encounter (bear-train's own encounters for half A, the box's
encounters for the exported chips), so `bear-train split` keeps each whole.
"""

from __future__ import annotations

import csv
import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from beartrain.data.metadata import METADATA_FIELDS
from beartrain.data.records import ChipRow

BIN = Path(sys.executable).parent


class StepFailed(RuntimeError):
    """A command of the loop failed; its log says why."""


@dataclass(frozen=True)
class Recipe:
    """How both models are trained: the same recipe, split and epochs."""

    config: Path
    epochs: int
    seed: int
    val_share: float = 0.15
    overrides: tuple[str, ...] = ()  # more KEY=VALUE for `bear-train fit --set`


def run_logged(command: list[str], log: Path) -> float:
    """Run `command`, its output into `log`; seconds taken (`StepFailed` with the log's tail
    when it fails)."""
    start = time.monotonic()
    with log.open("w", encoding="utf-8") as out:
        done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-25:])
        raise StepFailed(f"{' '.join(command)} failed ({done.returncode}); see {log}:\n{tail}")
    return time.monotonic() - start


def _link(link: Path, target: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.is_symlink():
        link.symlink_to(target.resolve(), target_is_directory=True)


def _row(path: str, individual: str, camera: str, when: str, encounter: str) -> dict[str, str]:
    return dict(zip(METADATA_FIELDS, (path, individual, camera, when, encounter), strict=True))


def half_a_table(rows: list[ChipRow]) -> list[dict[str, str]]:
    """Half A's chips as metadata rows under ``data/`` (bear-train's encounters)."""
    return [
        _row(f"data/{r.path}", r.individual, r.camera,
             r.captured_at.isoformat() if r.captured_at else "", f"A:{r.encounter}")
        for r in rows
    ]  # fmt: skip


def exported_table(training_set: Path) -> list[dict[str, str]]:
    """The exported training set's chips as metadata rows under ``field/`` (its identity,
    date, camera and the box's encounter)."""
    with (training_set / "metadata.csv").open(newline="", encoding="utf-8") as f:
        return [
            _row(f"field/{r['path']}", r["identity"], r["camera"], r["date"],
                 f"field:{r['encounter']}")
            for r in csv.DictReader(f)
        ]  # fmt: skip


def write_dataset(folder: Path, data_root: Path, rows: list[dict[str, str]],
                  training_set: Path | None = None) -> Path:  # fmt: skip
    """The run's data folder (links) and its metadata table; the table's path."""
    _link(folder / "data", data_root)
    if training_set is not None:
        _link(folder / "field", training_set)
    table = folder / "metadata.csv"
    with table.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, METADATA_FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return table


def train_and_export(folder: Path, table: Path, recipe: Recipe) -> dict[str, float]:
    """`bear-train split` (open, every individual in train), `fit`, `bear-export` into
    `folder`; seconds of each. The model is ``folder/model/embedder.onnx``."""
    split, run, model = folder / "split", folder / "run", folder / "model"
    seconds = {
        "split": run_logged([
            str(BIN / "bear-train"), "split", str(table.parent), "--metadata", str(table),
            "--kind", "open", "--seed", str(recipe.seed), "--out", str(split),
            "--val-share", str(recipe.val_share), "--test-share", "0", "--holdout-share", "0",
        ], folder / "split.log"),
    }  # fmt: skip
    seconds["fit"] = run_logged([
        str(BIN / "bear-train"), "fit", "--config", str(recipe.config), "--out", str(run),
        "--set", f"data.split={split}", "--set", f"train.epochs={recipe.epochs}",
        "--set", f"train.patience={recipe.epochs}", "--set", "train.umap=false",
        "--set", "train.progress=false", *(a for o in recipe.overrides for a in ("--set", o)),
    ], folder / "fit.log")  # fmt: skip
    seconds["export"] = run_logged(
        [str(BIN / "bear-export"), str(run), "--out", str(model)], folder / "export.log"
    )
    return seconds


def model_file(folder: Path) -> Path:
    """The exported embedder of a training folder."""
    return folder / "model" / "embedder.onnx"


def trained_chips(folder: Path) -> tuple[int, int]:
    """(chips, individuals) in the train subset of the folder's split."""
    with (folder / "split" / "train.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return len(rows), len({r["individual"] for r in rows})


@dataclass(frozen=True)
class Trained:
    """A model the loop trained: its file, what it was trained on, and the seconds taken."""

    model: Path
    chips: int
    individuals: int
    seconds: dict[str, float]


#: (folder, metadata table) -> the model trained on the table's chips, exported in folder.
Trainer = Callable[[Path, Path], Trained]


def _fingerprint(table: Path, recipe: Recipe) -> dict[str, object]:
    """What a trained folder was trained from: the recipe and the metadata table's SHA-256."""
    return {
        "config": str(recipe.config), "epochs": recipe.epochs, "seed": recipe.seed,
        "val_share": recipe.val_share, "overrides": list(recipe.overrides),
        "table_sha256": _table_digest(table),
    }  # fmt: skip


def _table_digest(table: Path) -> str:
    """SHA-256 of the table's chips, individuals and encounters (not its dates: undated
    chips are dated at run time)."""
    with table.open(newline="", encoding="utf-8") as f:
        rows = sorted(
            f"{r['path']}\t{r['individual']}\t{r['encounter']}" for r in csv.DictReader(f)
        )
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()


def recipe_trainer(recipe: Recipe) -> Trainer:
    """The bench's trainer: `train_and_export` with `recipe`. A folder (``--work``) that
    already holds a model trained by the same recipe on the same table is reused (its
    ``trained.json``), so a run stopped after model 1 need not train it again."""

    def train(folder: Path, table: Path) -> Trained:
        marker = folder / "trained.json"
        wanted = _fingerprint(table, recipe)
        if marker.is_file() and model_file(folder).is_file():
            done = json.loads(marker.read_text(encoding="utf-8"))
            if done.get("fingerprint") == wanted:
                chips, individuals = trained_chips(folder)
                print(f"reusing {model_file(folder)} (same recipe and table)")
                return Trained(model_file(folder), chips, individuals, done["seconds"])
        seconds = train_and_export(folder, table, recipe)
        marker.write_text(json.dumps({"fingerprint": wanted, "seconds": seconds}),
                          encoding="utf-8")  # fmt: skip
        chips, individuals = trained_chips(folder)
        return Trained(model_file(folder), chips, individuals, seconds)

    return train
