"""`decide`: the one function that turns ranked candidates into known / review / unknown."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from bearagent.decisions.rule import DecisionRule, Outcome
from bearagent.decisions.scores import CandidateStats, open_set_score, ranked_matrix
from bearagent.matching.knn import Candidate


@dataclass(frozen=True)
class Decision:
    """Who a query (an encounter, or one chip) is, and why.

    - ``known``: `individual_id` is the best candidate (a named bear, or a
      provisional one met before: `provisional`);
    - ``review``: `individual_id` is None; the candidates are the proposals and a
      person decides;
    - ``unknown``: `individual_id` is None until the tracker gives the encounter a
      new provisional individual (`with_individual`).
    """

    outcome: Outcome
    individual_id: str | None
    name: str | None
    provisional: bool
    score: float
    similarity: float  # the best candidate's similarity (-1 with an empty gallery)
    rule: DecisionRule
    candidates: tuple[Candidate, ...]

    @property
    def proposal(self) -> Candidate | None:
        """The best candidate (what `review` proposes), if any."""
        return self.candidates[0] if self.candidates else None

    def with_individual(self, individual_id: str, *, provisional: bool = True) -> Decision:
        """The same decision naming the individual it created (an unknown's new id)."""
        return replace(self, individual_id=individual_id, name=None, provisional=provisional)


class CohortMissing(ValueError):
    """A cohort score without the gallery's statistics of the candidates."""


def decide_ranked(
    ranked: NDArray[np.float64], rule: DecisionRule, stats: CandidateStats | None = None
) -> tuple[NDArray[np.str_], NDArray[np.float64]]:
    """Outcomes and scores of many queries at once ((Q, K) best-first similarities).

    A cohort score needs `stats` of each query's best candidate. A query without any
    candidate (an empty gallery) is unknown whatever its score.
    """
    r = np.atleast_2d(np.asarray(ranked, dtype=np.float64))
    scores = open_set_score(rule.score, r, stats)
    outcomes = rule.classify(scores)
    if r.shape[1] == 0:
        return np.full(len(r), Outcome.UNKNOWN.value), scores
    return np.where(np.isfinite(r[:, 0]), outcomes, Outcome.UNKNOWN.value), scores


def decide(candidates: Sequence[Candidate], rule: DecisionRule) -> Decision:
    """The decision for one query from its candidates (best first)."""
    best = candidates[0] if candidates else None
    stats = None
    if rule.needs_cohort:
        if rule.cohort is None:
            raise CohortMissing(
                f"the open-set score {rule.score!r} needs the gallery's cohort statistics: "
                "calibrate on the gallery first (`bearagent gallery calibrate`)"
            )
        stats = rule.cohort.lookup([best.individual_id if best is not None else None])
    outcomes, scores = decide_ranked(ranked_matrix([candidates]), rule, stats)
    outcome = Outcome(str(outcomes[0]))
    similarity = float(best.similarity) if best is not None else -1.0
    accepted = outcome is Outcome.KNOWN and best is not None
    return Decision(
        outcome=outcome,
        individual_id=best.individual_id if accepted and best else None,
        name=best.name if accepted and best else None,
        provisional=bool(accepted and best and best.kind == "provisional"),
        score=float(scores[0]),
        similarity=similarity,
        rule=rule,
        candidates=tuple(candidates),
    )
