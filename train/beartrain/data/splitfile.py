"""Split files: the contract between ``bear-train split`` and ``bear-train fit``.

A split folder holds ``train.csv``, ``val.csv`` and ``test.csv`` (columns
`SPLIT_COLUMNS`; ``known`` is 1 when the individual also appears in train, i.e.
is in the gallery) and ``split.json`` (root, kind, seed, and a summary).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from bearagent.errors import BearIdError
from beartrain.data.records import ChipRow

SPLIT_COLUMNS = ("path", "individual", "camera", "captured_at", "encounter", "known")
SUBSETS = ("train", "val", "test")
SplitKind = Literal["open", "disjoint"]


class SplitFileError(BearIdError):
    """A split folder that is missing or malformed."""


@dataclass(frozen=True)
class SplitRow(ChipRow):
    """A chip in a split: `known` says whether its individual is in the training gallery."""

    known: bool = True


@dataclass
class Split:
    """A whole split, as written by ``bear-train split``."""

    root: Path
    kind: SplitKind
    seed: int
    train: list[SplitRow]
    val: list[SplitRow]
    test: list[SplitRow]
    summary: dict[str, Any] = field(default_factory=dict)

    def subset(self, name: str) -> list[SplitRow]:
        """Rows of ``train``, ``val`` or ``test``."""
        if name not in SUBSETS:
            raise SplitFileError(f"unknown subset {name!r}: choose one of {', '.join(SUBSETS)}")
        rows: list[SplitRow] = getattr(self, name)
        return rows


def write_split(split: Split, folder: Path) -> None:
    """Write the three CSVs and split.json into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in SUBSETS:
        with (folder / f"{name}.csv").open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(SPLIT_COLUMNS)
            for r in split.subset(name):
                when = r.captured_at.isoformat() if r.captured_at else ""
                writer.writerow([r.path, r.individual, r.camera, when, r.encounter, int(r.known)])
    meta = {
        "root": str(split.root),
        "kind": split.kind,
        "seed": split.seed,
        "summary": split.summary,
    }
    (folder / "split.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")


def read_split(folder: Path) -> Split:
    """Read a split folder written by `write_split`."""
    meta_path = folder / "split.json"
    if not meta_path.is_file():
        raise SplitFileError(
            f"{folder} is not a split folder (no split.json): create one with "
            "`bear-train split ROOT --out FOLDER`"
        )
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    subsets = {name: _read_rows(folder / f"{name}.csv") for name in SUBSETS}
    return Split(
        root=Path(meta["root"]),
        kind=meta["kind"],
        seed=int(meta["seed"]),
        summary=meta.get("summary", {}),
        **subsets,
    )


def _read_rows(path: Path) -> list[SplitRow]:
    if not path.is_file():
        raise SplitFileError(f"split file {path} is missing: run `bear-train split` again")
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if tuple(reader.fieldnames or ()) != SPLIT_COLUMNS:
            raise SplitFileError(
                f"{path} has columns {reader.fieldnames}, expected {', '.join(SPLIT_COLUMNS)}"
            )
        return [
            SplitRow(
                path=row["path"],
                individual=row["individual"],
                camera=row["camera"],
                captured_at=datetime.fromisoformat(row["captured_at"])
                if row["captured_at"]
                else None,
                encounter=row["encounter"],
                known=row["known"] == "1",
            )
            for row in reader
        ]
