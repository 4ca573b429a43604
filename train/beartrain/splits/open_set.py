"""The open-set split: whole encounters to train/val/test, plus individuals held out entirely.

Held-out individuals go whole to val or to test (never both), so the unknown
threshold calibrated on val meets other unknown bears in test. Every known
individual keeps one random encounter in train; its other encounters are dealt
to the subset furthest below its share of the known chips.
"""

from __future__ import annotations

import random

from beartrain.splits.assignment import Assignment, Subset
from beartrain.splits.config import SplitConfig
from beartrain.splits.errors import SplitImpossible
from beartrain.splits.groups import Encounter


def assign_open(by_individual: dict[str, list[Encounter]], cfg: SplitConfig) -> Assignment:
    """Assign encounters for an open-set split; deterministic for ``cfg.seed``."""
    rng = random.Random(cfg.seed)
    names = sorted(by_individual)
    held_out = _held_out(names, cfg, rng)
    subset_of: dict[str, Subset] = {}
    sides: tuple[Subset, Subset] = ("val", "test")
    for side, members in zip(sides, _divide_held_out(held_out, cfg, rng), strict=True):
        for name in members:
            subset_of.update({e.id: side for e in by_individual[name]})
    known = [name for name in names if name not in held_out]
    subset_of.update(_deal_known(by_individual, known, cfg, rng))
    return Assignment(subset_of, frozenset(held_out), tuple(sorted(held_out)))


def _held_out(names: list[str], cfg: SplitConfig, rng: random.Random) -> list[str]:
    sides = int(cfg.val_share > 0) + int(cfg.test_share > 0)
    count = 0 if cfg.holdout_share == 0 else max(round(cfg.holdout_share * len(names)), sides)
    if len(names) - count < 1:
        raise SplitImpossible(
            f"an open split with holdout share {cfg.holdout_share} holds out {count} "
            f"individuals but the data has {len(names)}: it needs at least {count + 1} "
            "(one to train on); add individuals or lower --holdout-share"
        )
    return sorted(rng.sample(names, count))


def _divide_held_out(
    held_out: list[str], cfg: SplitConfig, rng: random.Random
) -> tuple[list[str], list[str]]:
    """Held-out individuals for val and for test, in proportion to their shares."""
    if not held_out:
        return [], []
    order = list(held_out)
    rng.shuffle(order)
    if cfg.test_share == 0:
        return order, []
    if cfg.val_share == 0:
        return [], order
    to_val = round(len(order) * cfg.val_share / (cfg.val_share + cfg.test_share))
    to_val = min(max(to_val, 1), len(order) - 1)
    return order[:to_val], order[to_val:]


def _deal_known(
    by_individual: dict[str, list[Encounter]],
    known: list[str],
    cfg: SplitConfig,
    rng: random.Random,
) -> dict[str, Subset]:
    subset_of: dict[str, Subset] = {}
    chips: dict[Subset, int] = {"train": 0, "val": 0, "test": 0}
    pool: list[Encounter] = []
    for name in known:
        encounters = by_individual[name]
        keep = rng.randrange(len(encounters))
        subset_of[encounters[keep].id] = "train"
        chips["train"] += len(encounters[keep].rows)
        pool.extend(e for i, e in enumerate(encounters) if i != keep)
    _check_pool(len(pool), len(known), cfg)
    rng.shuffle(pool)
    total = chips["train"] + sum(len(e.rows) for e in pool)
    target: dict[Subset, float] = {
        "train": (1 - cfg.val_share - cfg.test_share) * total,
        "val": cfg.val_share * total,
        "test": cfg.test_share * total,
    }
    for encounter in pool:
        # the subset furthest below its target; ties go to train, then val
        side = max(target, key=lambda s: target[s] - chips[s])
        subset_of[encounter.id] = side
        chips[side] += len(encounter.rows)
    return subset_of


def _check_pool(pool: int, known: int, cfg: SplitConfig) -> None:
    """Val and test each need a known encounter beyond the one per individual kept in train."""
    needed = int(cfg.val_share > 0) + int(cfg.test_share > 0)
    if pool < needed:
        raise SplitImpossible(
            f"an open split needs at least {needed} encounters of known individuals beyond the "
            f"one each keeps in train, to give val and test known chips; the {known} known "
            f"individuals have {pool}: add encounters, or set --val-share/--test-share to 0"
        )
