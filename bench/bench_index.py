"""Indexing throughput (chips/s, one thread): walking, dating (metadata, EXIF, file name,
mtime) and grouping encounters, on a synthetic population and on the real cattle chips
when ../shared/datasets is present; then the open and disjoint splits.

    .venv/bin/python bench/bench_index.py [--individuals 40]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from pathlib import Path

from beartrain.data import DataConfig, index_folder
from beartrain.splits import SplitConfig, make_split
from beartrain.synthetic import SyntheticConfig, write_population

CATTLE = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "cattle-faces" / "identities"


def measure(label: str, root: Path, cfg: DataConfig) -> None:
    """Index `root` and split it both ways, printing rates and counts."""
    start = time.perf_counter()
    index = index_folder(cfg, root)
    indexed = time.perf_counter()
    rows = index.rows
    for kind in ("open", "disjoint"):
        make_split(rows, SplitConfig("open" if kind == "open" else "disjoint"), root)
    done = time.perf_counter()
    sources = Counter(c.source for c in index.chips)
    rate = len(rows) / (indexed - start)
    print(
        f"{label:<18} {len(rows):>5} chips {len({r.individual for r in rows}):>3} individuals "
        f"{len({r.encounter for r in rows}):>4} encounters  index {rate:6.0f} chips/s  "
        f"two splits {1000 * (done - indexed):5.1f} ms  sources {dict(sources)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--individuals", type=int, default=40, help="synthetic individuals")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "synthetic"
        write_population(root, SyntheticConfig(individuals=args.individuals, size=64))
        measure("synthetic (EXIF)", root, DataConfig())
        measure("synthetic (CSV)", root, DataConfig(metadata_csv=root / "metadata.csv"))
    if CATTLE.is_dir():
        measure("cattle-faces", CATTLE, DataConfig())
    else:
        print(f"cattle-faces: skipped, {CATTLE} is absent")


if __name__ == "__main__":
    main()
