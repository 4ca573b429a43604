"""`KnnIndex`: reference embeddings of many individuals in memory, searched by cosine."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from threadpoolctl import ThreadpoolController

from bearagent.gallery import ReferenceSet
from bearagent.matching.knn import Candidate, best_per_individual, query_blocks, top_k

#: Merge the appended parts into one when there are more than this many of them.
MAX_PARTS = 8


@cache
def _blas() -> Any:
    """The process's BLAS thread pools (found once, on first search, not at import)."""
    return ThreadpoolController()


@dataclass(frozen=True)
class _Part:
    """Rows grouped by owner: block j (from starts[j]) belongs to individual groups[j]."""

    matrix: np.ndarray
    starts: np.ndarray
    groups: np.ndarray


def _grouped(matrix: np.ndarray, owners: np.ndarray) -> _Part:
    order = np.argsort(owners, kind="stable")
    sorted_owners = owners[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = sorted_owners[1:] != sorted_owners[:-1]
    starts = np.flatnonzero(first)
    matrix = np.ascontiguousarray(matrix[order], dtype=np.float32)
    return _Part(matrix, starts, sorted_owners[starts])


class KnnIndex:
    """References of many individuals, searched for the best individuals per query.

    Rows are kept in a few parts, each grouped by owner: a gallery snapshot, plus
    references appended since (`add`), which are merged together now and then.
    """

    def __init__(
        self,
        matrix: np.ndarray,
        owners: Sequence[str],
        names: dict[str, str | None] | None = None,
        kinds: dict[str, str] | None = None,
        *,
        blas_threads: int | None = 1,
    ) -> None:
        """Index (N, E) L2-normalised `matrix` whose row i belongs to individual `owners[i]`.

        `blas_threads`: BLAS threads per search (None: the library's default). One
        is the default: a search is memory-bound, and on cores shared with the
        embedder extra BLAS threads mostly wait, which shows as latency spikes.
        The limit is process-wide while a search runs.
        """
        self._blas_threads = blas_threads
        self._ids: list[str] = []
        self._names: list[str | None] = []
        self._kinds: list[str] = []
        self._position: dict[str, int] = {}
        self._parts: list[_Part] = []
        self._dim = int(matrix.shape[1]) if matrix.ndim == 2 else 0
        self.add(matrix, owners, names, kinds)

    @classmethod
    def from_references(cls, refs: ReferenceSet, *, blas_threads: int | None = 1) -> KnnIndex:
        """An index over a gallery snapshot (already grouped by owner: no re-sorting)."""
        index = cls(np.zeros((0, refs.matrix.shape[1]), np.float32), [], blas_threads=blas_threads)
        index._ids, index._names, index._kinds = list(refs.ids), list(refs.names), list(refs.kinds)
        index._position = {id_: i for i, id_ in enumerate(refs.ids)}
        if refs.ids:
            groups = np.arange(len(refs.ids), dtype=np.int64)
            index._parts = [_Part(np.ascontiguousarray(refs.matrix), refs.starts, groups)]
        return index

    @property
    def size(self) -> int:
        """Number of references."""
        return sum(int(p.matrix.shape[0]) for p in self._parts)

    @property
    def individuals(self) -> int:
        """Number of individuals with at least one reference."""
        return len(self._ids)

    def add(
        self,
        matrix: np.ndarray,
        owners: Sequence[str],
        names: dict[str, str | None] | None = None,
        kinds: dict[str, str] | None = None,
    ) -> None:
        """Append references: row i of (N, E) `matrix` belongs to `owners[i]` (new or not)."""
        if matrix.ndim != 2 or matrix.shape[0] != len(owners):
            raise ValueError(f"matrix {matrix.shape} and {len(owners)} owners do not match")
        if not owners:
            return
        if self.size and matrix.shape[1] != self._dim:
            raise ValueError(f"references of size {matrix.shape[1]}, the index has {self._dim}")
        self._dim = int(matrix.shape[1])
        for owner in owners:
            if owner not in self._position:
                self._position[owner] = len(self._ids)
                self._ids.append(owner)
                self._names.append((names or {}).get(owner))
                self._kinds.append((kinds or {}).get(owner, "known"))
        positions = np.fromiter((self._position[o] for o in owners), np.int64, len(owners))
        self._parts.append(_grouped(np.asarray(matrix, dtype=np.float32), positions))
        if len(self._parts) > MAX_PARTS:
            self._compact()

    def _compact(self) -> None:
        """Merge the appended parts into one, leaving the first (largest) part alone.

        Merging everything would briefly hold two more copies of every reference
        (10^5 references: about 100 MB); the appended parts are the agent's own few
        provisional references since the last full load.
        """
        big, *small = self._parts
        matrix = np.concatenate([p.matrix for p in small])
        owners = np.concatenate([np.repeat(p.groups, np.diff(p.starts, append=len(p.matrix)))
                                 for p in small])  # fmt: skip
        self._parts = [big, _grouped(matrix, owners)]

    def search(self, queries: np.ndarray, k: int = 5) -> list[list[Candidate]]:
        """The top-k individuals for each (E,) or (Q, E) L2-normalised query, best first."""
        q = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        if self._parts and q.shape[1] != self._dim:
            raise ValueError(f"queries have size {q.shape[1]}, the references {self._dim}")
        results: list[list[Candidate]] = []
        for block in query_blocks(q.shape[0], self.size):
            with self._threads():
                best = self._best(q[block])
            idx, sims = top_k(best, k)
            results += [
                [
                    Candidate(self._ids[j], self._names[j], self._kinds[j], float(s))
                    for j, s in zip(row_idx, row_sims, strict=True)
                ]
                for row_idx, row_sims in zip(idx, sims, strict=True)
            ]
        return results

    def _threads(self) -> AbstractContextManager[Any]:
        if self._blas_threads is None:
            return nullcontext()
        limit: AbstractContextManager[Any] = _blas().limit(
            limits=self._blas_threads, user_api="blas"
        )
        return limit

    def _best(self, queries: np.ndarray) -> np.ndarray:
        """(Q, individuals): best cosine per individual over every part."""
        if len(self._parts) == 1 and len(self._parts[0].groups) == len(self._ids):
            # One part holding every individual: its groups are 0..M-1 in order.
            part = self._parts[0]
            return best_per_individual(queries, part.matrix, part.starts)
        out = np.full((queries.shape[0], len(self._ids)), -np.inf, dtype=np.float32)
        for part in self._parts:
            best = best_per_individual(queries, part.matrix, part.starts)
            out[:, part.groups] = np.maximum(out[:, part.groups], best)
        return out
