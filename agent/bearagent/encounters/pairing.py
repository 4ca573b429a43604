"""Which two tracks of one camera are one individual's visit, and so merge.

Two tracks merge only when their capture-time spans overlap or lie within the gap
of each other, and either both are decided as the same individual (known, or the
stranger one of them created), or their means are alike (at least the merge
similarity; a lower bar when the gallery's best candidate is the same for both).
Tracks decided as two different known individuals, or both already strangers with
their own provisional individuals, never merge on likeness.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bearagent.decisions import Outcome
from bearagent.encounters.track import Track


@dataclass(frozen=True)
class MergeBars:
    """The likeness two tracks' means need to merge."""

    gap_s: float
    similarity: float  # alike enough on their own
    same_proposal: float  # alike enough when the gallery proposes the same individual for both


def pair_to_merge(
    tracks: Sequence[Track], changed: Sequence[Track], bars: MergeBars
) -> tuple[Track, Track] | None:
    """(keep, absorbed): a track of `changed` and one of `tracks` that are one individual,
    if any (the most surely so first).

    Only a track that changed (took chips, or was decided anew) can newly be one
    individual with another; the older of the two keeps (by capture time, so the
    survivor does not depend on arrival order).
    """
    best: tuple[tuple[int, float], Track, Track] | None = None
    for a in changed:
        for b in tracks:
            if a is b or not a.near(b, bars.gap_s):
                continue
            rank = _merge_rank(a, b, bars)
            if rank is not None and (best is None or rank > best[0]):
                best = (rank, a, b)
    if best is None:
        return None
    _, a, b = best
    return (a, b) if a.older_than(b) else (b, a)


def _merge_rank(a: Track, b: Track, bars: MergeBars) -> tuple[int, float] | None:
    """How surely two near tracks are one individual (higher first), or None if not."""
    alike = float(a.mean() @ b.mean())
    if _same_individual(a, b):
        return (1, alike)
    if _kept_apart(a, b):
        return None
    bar = bars.similarity
    if _same_proposal(a, b):  # the gallery agrees: a lower bar
        bar = min(bar, bars.same_proposal)
    return (0, alike) if alike >= bar else None


def _same_individual(a: Track, b: Track) -> bool:
    """Both decided as the same individual: known, or the stranger one of them created."""
    da, db = a.decision, b.decision
    return (
        da is not None
        and db is not None
        and da.individual_id is not None
        and da.individual_id == db.individual_id
    )


def _kept_apart(a: Track, b: Track) -> bool:
    """Tracks that must not merge on likeness alone: decided as two different known
    individuals, or both already strangers with their own provisional individuals."""
    da, db = a.decision, b.decision
    if (
        da is not None and db is not None and da.outcome is Outcome.KNOWN
        and db.outcome is Outcome.KNOWN and da.individual_id != db.individual_id
    ):  # fmt: skip
        return True
    return a.provisional_id is not None and b.provisional_id is not None


def _same_proposal(a: Track, b: Track) -> bool:
    """Whether two tracks' decisions have the same best candidate."""
    pa = a.decision.proposal if a.decision is not None else None
    pb = b.decision.proposal if b.decision is not None else None
    return pa is not None and pb is not None and pa.individual_id == pb.individual_id
