"""Embeddings as BLOBs: float32, little-endian, row after row (the layout of the export file)."""

from __future__ import annotations

import numpy as np

_DTYPE = np.dtype("<f4")


def to_blob(vector: np.ndarray) -> bytes:
    """One embedding as a float32 little-endian BLOB."""
    return np.ascontiguousarray(vector, dtype=_DTYPE).reshape(-1).tobytes()


def from_blob(blob: bytes, dim: int) -> np.ndarray:
    """One BLOB back as a float32 vector of `dim` values (a copy, writable)."""
    return np.frombuffer(blob, dtype=_DTYPE, count=dim).astype(np.float32)


def stack_blobs(blobs: list[bytes], dim: int) -> np.ndarray:
    """Many BLOBs of `dim` values as one (N, dim) float32 matrix, in a single copy."""
    if not blobs:
        return np.zeros((0, dim), dtype=np.float32)
    flat = np.frombuffer(b"".join(blobs), dtype=_DTYPE)
    return flat.reshape(len(blobs), dim).astype(np.float32)
