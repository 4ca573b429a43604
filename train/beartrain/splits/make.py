"""Making a split: rows in, a `Split` (or a split folder) out."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from beartrain.data.config import DataConfig
from beartrain.data.encounters import FORMED_BY
from beartrain.data.index import index_folder
from beartrain.data.records import ChipRow
from beartrain.data.splitfile import SUBSETS, Split, SplitRow, write_split
from beartrain.splits.assignment import Assignment
from beartrain.splits.config import SplitConfig
from beartrain.splits.disjoint import assign_disjoint
from beartrain.splits.errors import SplitImpossible
from beartrain.splits.groups import encounters_by_individual
from beartrain.splits.open_set import assign_open
from beartrain.splits.summary import split_summary


def make_split(rows: list[ChipRow], cfg: SplitConfig, root: Path) -> Split:
    """Split `rows` as `cfg` asks; every chip lands in exactly one subset."""
    by_individual = encounters_by_individual(rows)
    if len(by_individual) < 2:
        raise SplitImpossible(
            f"a {cfg.kind} split needs at least 2 individuals but the data has "
            f"{len(by_individual)}: add individuals"
        )
    assign = assign_open if cfg.kind == "open" else assign_disjoint
    assignment: Assignment = assign(by_individual, cfg)
    subsets: dict[str, list[SplitRow]] = {name: [] for name in SUBSETS}
    for row in sorted(rows, key=lambda r: r.path):
        known = row.individual not in assignment.unknown
        subsets[assignment.subset_of[row.encounter]].append(
            SplitRow(row.path, row.individual, row.camera, row.captured_at, row.encounter, known)
        )
    summary = {"config": cfg.as_dict(), **split_summary(subsets)}
    if cfg.kind == "open":
        summary["held_out"] = list(assignment.held_out)
    return Split(root=root, kind=cfg.kind, seed=cfg.seed, summary=summary, **subsets)


def split_folder(root: Path, data: DataConfig, cfg: SplitConfig, out: Path) -> Split:
    """Index `root`, split it, and write the split folder `out`."""
    index = index_folder(data, root)
    split = make_split(index.rows, cfg, root.resolve())
    formed = Counter("+".join(h for h in FORMED_BY if h in hows) for hows in index.formed.values())
    split.summary["data"] = {
        "encounter_gap_s": data.encounter_gap_s,
        "metadata_csv": str(data.metadata_csv) if data.metadata_csv else None,
        "time_sources": dict(Counter(c.source for c in index.chips)),
        "grouping": grouping_rule(data),
        "encounters_formed_by": dict(sorted(formed.items())),
    }
    write_split(split, out)
    return split


def grouping_rule(data: DataConfig) -> str:
    """The leak rule of a split, in words (for split.json and the benches)."""
    content = {
        "hash": f"perceptual hash within {data.hash_distance} bits",
        "backbone": f"frozen-backbone cosine >= {data.backbone_similarity}",
        "both": f"perceptual hash within {data.hash_distance} bits or frozen-backbone cosine "
        f">= {data.backbone_similarity}",
        "none": "no content grouping",
    }[data.content_grouping]
    series = "numbered undated chips of a folder as one series; " if data.counter_series else ""
    mtime = "mtime chains bursts" if data.mtime_encounters else "mtime does not date"
    return (
        f"bursts within {data.encounter_gap_s:g} s per individual and camera, clips and shot "
        f"series from names; undated crops of one source photo together; {series}"
        f"near-duplicates of undated chips together ({content}); {mtime}"
    )
