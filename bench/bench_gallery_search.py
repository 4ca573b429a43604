"""Gallery search time per query at 10^3 ... 10^6 references (issue 6 targets).

Targets on the 2-core development machine: 10^5 references in at most 5 ms per
query, 10^6 in at most 60 ms. Run::

    .venv/bin/python bench/bench_gallery_search.py [--dim 128] [--refs-per-individual 10]

Prints, per gallery size, the median and 95th percentile time of one query
(batch 1, as the agent does for a single chip) and the per-query time of a batch
of 8 (a micro-batch of chips). Searches run on one BLAS thread as in the agent;
``--blas-threads 0`` leaves numpy's default (all cores) for comparison.
``--sqlite`` also times loading the agent's index from a real gallery file and
its refresh after one new reference.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from bearagent import gallery
from bearagent.matching import GalleryIndex, KnnIndex
from bearagent.store import transaction

SIZES = (10**3, 10**4, 10**5, 10**6)
TARGETS_MS = {10**5: 5.0, 10**6: 60.0}


def _unit_rows(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    x = rng.standard_normal((n, dim), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def _time_ms(index: KnnIndex, queries: np.ndarray, k: int, repeats: int) -> list[float]:
    times = []
    for r in range(repeats):
        q = queries[r % len(queries)]
        start = time.perf_counter()
        index.search(q, k)
        times.append((time.perf_counter() - start) * 1000 / (1 if q.ndim == 1 else len(q)))
    return times


def _sqlite_timings(matrix: np.ndarray, per_individual: int) -> str:
    """Fill a gallery file with `matrix`; time a full index load and a one-row refresh."""
    sha = "0" * 64
    with tempfile.TemporaryDirectory() as tmp:
        db = gallery.open_gallery(Path(tmp) / "gallery.db")
        with transaction(db):
            for first in range(0, len(matrix), per_individual):
                bear = gallery.create_known(db, f"bear {first // per_individual}")
                rows = matrix[first : first + per_individual]
                gallery.add_references(
                    db, bear, rows, sha, [f"/{bear}/{i}.jpg" for i in range(len(rows))]
                )
        start = time.perf_counter()
        index = GalleryIndex(db, sha)
        load = time.perf_counter() - start
        gallery.create_provisional(
            gallery.open_gallery(Path(tmp) / "gallery.db"), matrix[:1], sha, "/x.jpg"
        )
        start = time.perf_counter()
        index.refresh()
        refresh = time.perf_counter() - start
    return f"load from SQLite {load * 1000:.0f} ms, refresh after 1 new row {refresh * 1000:.1f} ms"


def main() -> None:
    """Build synthetic galleries and print search timings."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dim", type=int, default=128, help="embedding size")
    parser.add_argument("--refs-per-individual", type=int, default=10)
    parser.add_argument("--k", type=int, default=5, help="candidates per query")
    parser.add_argument("--sqlite", action="store_true", help="also time loading from SQLite")
    parser.add_argument("--blas-threads", type=int, default=1, help="0: numpy's default")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    threads = args.blas_threads or None
    print(
        f"dim {args.dim}, {args.refs_per_individual} references per individual, "
        f"top-{args.k}, BLAS threads per search: {threads or 'default'}"
    )
    print(
        f"{'references':>10} {'batch-1 p50 ms':>15} {'p95 ms':>8} {'batch-8 ms/query':>17} target"
    )
    for n in SIZES:
        matrix = _unit_rows(rng, n, args.dim)
        owners = [f"bear-{i // args.refs_per_individual:06d}" for i in range(n)]
        index = KnnIndex(matrix, owners, blas_threads=threads)
        singles = _unit_rows(rng, 16, args.dim)
        repeats = 200 if n <= 10**5 else 30
        _time_ms(index, singles, args.k, 3)  # warm caches and BLAS threads
        one = np.array(_time_ms(index, singles, args.k, repeats))
        batches = [_unit_rows(rng, 8, args.dim) for _ in range(4)]
        eight = np.array(_time_ms(index, np.stack(batches), args.k, max(4, repeats // 8)))
        target = f"<= {TARGETS_MS[n]:g} ms" if n in TARGETS_MS else ""
        print(
            f"{n:>10} {np.median(one):>15.3f} {np.percentile(one, 95):>8.3f} "
            f"{np.median(eight):>17.3f} {target}"
        )
        if args.sqlite:
            print(f"{'':>10} {_sqlite_timings(matrix, args.refs_per_individual)}")


if __name__ == "__main__":
    main()
