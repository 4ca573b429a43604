"""The two thresholds of a rule, chosen so that each keeps its promise.

Queries are *genuine* (their individual is in the gallery; ``correct`` says whether
their best candidate is it) or *strangers*. With ``confidence`` c (default 0.95):

- the **unknown** threshold is the highest one whose false-unknown rate (genuine
  queries below it, of all genuine) has a Clopper-Pearson upper bound within its
  target, *and* that flags strangers more often than known individuals: the lower
  bound of its detection rate lies above the upper bound of its false-unknown
  rate. Where the scores carry no signal, flagging is a coin toss and no unknown
  threshold is kept;
- the **known** threshold is the lowest one at or above the unknown threshold
  whose automatic error (wrong ids and strangers among the accepted) has an upper
  bound within its target, counted on the queries it accepts.

Where no threshold keeps a promise, that kind of automatic decision is withheld:
the threshold becomes `NEVER_KNOWN` / `NEVER_UNKNOWN` (no score reaches it) and
the choice says why. Both withheld: everything goes to review.

``confidence=None`` gives the point estimates instead (the rule before bounds, kept
to measure what the bounds change): the highest unknown threshold flagging at most
the target share, the lowest known threshold meeting the target, known raised to
unknown where they cross.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from bearagent.decisions.bounds import (
    DEFAULT_CONFIDENCE,
    lower_bound,
    trials_needed,
    upper_bound,
    within,
)
from bearagent.decisions.scores import NEVER_KNOWN, NEVER_UNKNOWN

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


class CalibrationError(ValueError):
    """Thresholds cannot be chosen from these queries."""


@dataclass(frozen=True)
class ThresholdChoice:
    """Two thresholds, and why an automatic decision is withheld (if one is)."""

    known: float
    unknown: float
    withheld: tuple[str, ...] = ()


def _pct(confidence: float) -> str:
    return f"{100 * confidence:g} %"


def unknown_threshold(
    genuine: FloatArray,
    target_false_unknown: float,
    confidence: float | None = DEFAULT_CONFIDENCE,
    strangers: FloatArray | None = None,
) -> float:
    """The unknown threshold (see the module docstring; NEVER_UNKNOWN when withheld)."""
    return _unknown(genuine, strangers, target_false_unknown, confidence)[0]


def _unknown(
    genuine: FloatArray,
    strangers: FloatArray | None,
    target: float,
    confidence: float | None,
) -> tuple[float, str | None]:
    g = np.sort(np.asarray(genuine, np.float64))
    n = len(g)
    if n == 0:
        raise CalibrationError("no genuine queries: the unknown threshold needs known individuals")
    if confidence is None:  # point estimate: exactly the m lowest fall below s[m]
        m = math.floor(target * n + 1e-9)
        return float(g[min(m, n - 1)]), None
    candidates = np.unique(g)
    flagged = np.searchsorted(g, candidates, side="left")
    ok = within(flagged, n, target, confidence)
    if not ok.any():
        return NEVER_UNKNOWN, (
            f"no automatic unknown: {n} known queries cannot show a false-unknown rate <= "
            f"{target:g} at {_pct(confidence)} confidence (at least "
            f"{trials_needed(target, confidence)} are needed)"
        )
    s = np.sort(np.asarray(strangers if strangers is not None else [], np.float64))
    kept, flags = candidates[ok], flagged[ok]
    detected = np.searchsorted(s, kept, side="left")
    separates = lower_bound(detected, len(s), confidence) > upper_bound(flags, n, confidence)
    if separates.any():
        return float(kept[np.flatnonzero(separates)[-1]]), None
    top = len(kept) - 1
    return NEVER_UNKNOWN, (
        f"no automatic unknown: no threshold within the false-unknown target flags strangers "
        f"more often than known individuals at {_pct(confidence)} confidence (the highest "
        f"flags {int(detected[top])} of {len(s)} strangers and {int(flags[top])} of {n} known)"
    )


def known_threshold(
    genuine: FloatArray,
    correct: BoolArray,
    strangers: FloatArray,
    target_error: float,
    confidence: float | None = DEFAULT_CONFIDENCE,
    floor: float = -math.inf,
) -> float:
    """The known threshold, at or above `floor` (NEVER_KNOWN when withheld)."""
    return _known(genuine, correct, strangers, target_error, confidence, floor)[0]


def _known(
    genuine: FloatArray,
    correct: BoolArray,
    strangers: FloatArray,
    target: float,
    confidence: float | None,
    floor: float,
) -> tuple[float, str | None]:
    scores = np.concatenate([np.asarray(genuine, np.float64), np.asarray(strangers, np.float64)])
    wrong = np.concatenate([~np.asarray(correct, bool), np.ones(len(strangers), bool)])
    if len(scores) == 0:
        raise CalibrationError("no queries to calibrate the known threshold on")
    order = np.argsort(-scores, kind="stable")
    s, w = scores[order], wrong[order]
    errors = np.cumsum(w)
    # A prefix may end only where the next score is lower (ties go together).
    ends = np.flatnonzero(np.append(s[1:] < s[:-1], True))
    ends = ends[s[ends] >= floor]
    if confidence is None:
        ok = ends[errors[ends] / (ends + 1) <= target + 1e-12]
        return (float(s[ok[-1]]) if len(ok) else float(np.nextafter(s[0], np.inf))), None
    ok = ends[within(errors[ends], ends + 1, target, confidence)]
    if len(ok):
        return float(s[ok[-1]]), None
    return NEVER_KNOWN, _no_known_reason(errors, ends, target, confidence)


def _no_known_reason(errors: NDArray[np.int64], ends: NDArray[np.int64], target: float,
                     confidence: float) -> str:  # fmt: skip
    """Why no known threshold keeps its promise, with the best bound any threshold reaches."""
    start = (
        f"no automatic known: no threshold keeps the automatic error <= {target:g} at "
        f"{_pct(confidence)} confidence"
    )
    if len(ends) == 0:
        return f"{start} (no query scores above the unknown threshold)"
    # The best bound is where a prefix is longest for its error count: check the first few.
    last_with = [ends[errors[ends] == k][-1] for k in range(21) if (errors[ends] == k).any()]
    picks = np.asarray(last_with if last_with else ends[:1], np.int64)
    bounds = upper_bound(errors[picks], picks + 1, confidence)
    i = int(np.argmin(bounds))
    return (
        f"{start} (the best: {int(picks[i]) + 1} accepted, {int(errors[picks[i]])} wrong, upper "
        f"bound {bounds[i]:.3f}; {trials_needed(target, confidence)} error-free would be needed)"
    )


def choose(
    genuine: FloatArray,
    correct: BoolArray,
    strangers: FloatArray,
    target_error: float = 0.05,
    target_false_unknown: float = 0.05,
    confidence: float | None = DEFAULT_CONFIDENCE,
) -> ThresholdChoice:
    """Both thresholds for the two targets (known >= unknown always), and what is withheld."""
    unknown, why_unknown = _unknown(genuine, strangers, target_false_unknown, confidence)
    floor = unknown if confidence is not None else -math.inf
    known, why_known = _known(genuine, correct, strangers, target_error, confidence, floor)
    withheld = tuple(w for w in (why_known, why_unknown) if w is not None)
    return ThresholdChoice(max(known, unknown), unknown, withheld)


def choose_thresholds(
    genuine: FloatArray,
    correct: BoolArray,
    strangers: FloatArray,
    target_error: float = 0.05,
    target_false_unknown: float = 0.05,
    confidence: float | None = DEFAULT_CONFIDENCE,
) -> tuple[float, float]:
    """(known, unknown) thresholds for the two targets; known >= unknown always."""
    c = choose(genuine, correct, strangers, target_error, target_false_unknown, confidence)
    return c.known, c.unknown
