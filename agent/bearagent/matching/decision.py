"""The decision for a query: the best candidate if similar enough, else unknown."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bearagent.matching.knn import Candidate
from bearagent.modelcard import ModelCard


@dataclass(frozen=True)
class Decision:
    """A query's outcome: matched to an individual (known or provisional) or unknown."""

    individual_id: str | None
    name: str | None
    kind: str | None
    similarity: float | None
    threshold: float
    candidates: tuple[Candidate, ...]

    @property
    def matched(self) -> bool:
        """Whether the best candidate reached the threshold."""
        return self.individual_id is not None

    @property
    def outcome(self) -> str:
        """``known``, ``provisional`` (a bear the agent met before) or ``unknown``."""
        return self.kind if self.kind is not None else "unknown"


def threshold_for(card: ModelCard, override: float | None = None) -> float:
    """The unknown threshold: the configured override, else the model card's."""
    return card.threshold.value if override is None else override


def decide(candidates: Sequence[Candidate], threshold: float) -> Decision:
    """Match the best candidate when its similarity is at least `threshold`; else unknown."""
    best = candidates[0] if candidates else None
    similarity = None if best is None else best.similarity
    if best is None or best.similarity < threshold:
        return Decision(None, None, None, similarity, threshold, tuple(candidates))
    return Decision(
        best.individual_id, best.name, best.kind, similarity, threshold, tuple(candidates)
    )
