"""The disjoint split: train, val and test hold different individuals."""

from __future__ import annotations

import random

from beartrain.splits.assignment import Assignment, Subset
from beartrain.splits.config import SplitConfig
from beartrain.splits.errors import SplitImpossible
from beartrain.splits.groups import Encounter


def assign_disjoint(by_individual: dict[str, list[Encounter]], cfg: SplitConfig) -> Assignment:
    """Assign whole individuals to train/val/test; deterministic for ``cfg.seed``."""
    names = sorted(by_individual)
    counts = _counts(len(names), cfg)
    rng = random.Random(cfg.seed)
    rng.shuffle(names)
    subset_of: dict[str, Subset] = {}
    unknown: set[str] = set()
    for position, name in enumerate(names):
        side = _side(position, counts)
        subset_of.update({e.id: side for e in by_individual[name]})
        if side != "train":
            unknown.add(name)
    return Assignment(subset_of, frozenset(unknown))


def _side(position: int, counts: tuple[int, int]) -> Subset:
    """The subset of the individual at `position` in the shuffled order."""
    if position < counts[0]:
        return "val"
    if position < counts[0] + counts[1]:
        return "test"
    return "train"


def _counts(n: int, cfg: SplitConfig) -> tuple[int, int]:
    """Individuals for val and for test: at least one where the share is above 0."""
    val = max(round(cfg.val_share * n), int(cfg.val_share > 0))
    test = max(round(cfg.test_share * n), int(cfg.test_share > 0))
    if n - val - test < 1:
        raise SplitImpossible(
            f"a disjoint split with val share {cfg.val_share} and test share {cfg.test_share} "
            f"needs at least {val + test + 1} individuals (val {val}, test {test}, train 1) "
            f"but the data has {n}: add individuals or lower the shares"
        )
    return val, test
