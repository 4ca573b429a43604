"""Near-duplicate chips by content: what groups chips that nothing else dates.

Chips without a reliable capture time (only a file modification time, or none)
cannot be chained into bursts by time. Two copies of one photo (a re-encoding,
a resized copy) or two crops of one frame would then sit in two encounters and
could land on two sides of a split, inflating every figure. Here:

- a perceptual hash (`imagehash.phash`, 64 bits of the low DCT frequencies of a
  32x32 grey thumbnail) of every chip; chips of one individual within
  ``hash_distance`` bits of each other are near-duplicates (re-encodings and
  resizes differ by 0-4 bits, crops shifted by 5 % of the chip by about 8; other
  photos of the same cow are 15 or more apart on the cattle faces);
- optionally the frozen backbone's cosine (`beartrain.data.content_backbone`);
- `link_groups`: union-find over encounters, transitively.

Only pairs with at least one undated chip are linked: dated chips are grouped by
their times.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from beartrain.data.errors import ChipsFolderError

#: Bits of `imagehash.phash`.
HASH_BITS = 64


def perceptual_hash(path: Path) -> int:
    """The 64-bit perceptual hash of the image at `path` (EXIF orientation applied)."""
    import imagehash
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            grey = ImageOps.exif_transpose(image).convert("L")
    except (OSError, UnidentifiedImageError, ValueError) as e:
        raise ChipsFolderError(
            f"cannot decode chip {path} for its content hash ({e}): remove or replace it"
        ) from e
    bits = imagehash.phash(grey).hash.flatten()
    return int("".join("1" if b else "0" for b in bits), 2)


#: Set bits of every byte value.
_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def hamming(hashes: Sequence[int]) -> NDArray[np.int64]:
    """(N, N) Hamming distances between 64-bit hashes."""
    h = np.asarray(hashes, dtype=np.uint64)
    x = (h[:, None] ^ h[None, :]).view(np.uint8).reshape(len(h), len(h), 8)
    out: NDArray[np.int64] = _POPCOUNT[x].sum(axis=2, dtype=np.int64)
    return out


def near_pairs(close: NDArray[np.bool_], undated: NDArray[np.bool_]) -> Iterable[tuple[int, int]]:
    """Index pairs (i < j) marked close where at least one chip is undated."""
    mask = np.triu(close, k=1) & (undated[:, None] | undated[None, :])
    return zip(*(idx.tolist() for idx in np.nonzero(mask)), strict=True)


class UnionFind:
    """Disjoint sets over hashable keys; `find` gives a set's smallest key."""

    def __init__(self) -> None:
        self._parent: dict[str, str] = {}

    def find(self, key: str) -> str:
        """The representative (smallest key) of `key`'s set."""
        parent = self._parent.setdefault(key, key)
        if parent != key:
            parent = self._parent[key] = self.find(parent)
        return parent

    def union(self, a: str, b: str) -> bool:
        """Join the sets of `a` and `b`; True when they were apart."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        low, high = sorted((ra, rb))
        self._parent[high] = low
        return True
