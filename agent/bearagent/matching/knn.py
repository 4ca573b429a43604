"""Cosine k-NN over reference embeddings, ranking individuals by their best reference.

References are rows of float32 matrices sorted by owner, so one matrix product
gives every query-reference cosine, `np.maximum.reduceat` the best per individual,
and `np.argpartition` the top k without sorting them all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Largest (queries x references) similarity block computed at once (64 MiB of float32).
MAX_BLOCK = 1 << 24


@dataclass(frozen=True)
class Candidate:
    """One individual ranked for a query: its id, name, kind and best cosine similarity."""

    individual_id: str
    name: str | None
    kind: str
    similarity: float


def best_per_individual(queries: np.ndarray, matrix: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """(Q, M): each query's best cosine with each individual's block of rows.

    `queries` (Q, E) and `matrix` (N, E) hold L2-normalised rows, so a dot product
    is the cosine; `starts` (M,) are the first rows of each individual's block.
    """
    cosines = queries @ matrix.T  # (Q, N)
    best: np.ndarray = np.maximum.reduceat(cosines, starts, axis=1)
    return best


def top_k(best: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k highest columns per row of `best`: (column indices, values), highest first."""
    kk = min(k, best.shape[1])
    if kk <= 0:
        return np.zeros((best.shape[0], 0), np.int64), np.zeros((best.shape[0], 0), np.float32)
    if kk < best.shape[1]:
        part = np.argpartition(best, best.shape[1] - kk, axis=1)[:, -kk:]
    else:
        part = np.broadcast_to(np.arange(best.shape[1]), best.shape)
    values = np.take_along_axis(best, part, axis=1)
    order = np.argsort(-values, axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(values, order, axis=1)


def top_k_individuals(
    queries: np.ndarray, matrix: np.ndarray, starts: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The k best individuals per query: (indices into `starts`, similarities), best first."""
    if starts.shape[0] == 0 or queries.shape[0] == 0:
        return top_k(np.zeros((queries.shape[0], 0), np.float32), k)
    return top_k(best_per_individual(queries, matrix, starts), k)


def query_blocks(n_queries: int, n_references: int) -> list[slice]:
    """Slices of the queries small enough that a similarity block stays under `MAX_BLOCK`."""
    step = max(1, MAX_BLOCK // max(1, n_references))
    return [slice(lo, min(n_queries, lo + step)) for lo in range(0, n_queries, step)]
