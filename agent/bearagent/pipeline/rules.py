"""The decision rule in force while the agent runs, refreshed from the gallery's calibration.

`bearagent gallery calibrate` (or the agent at start) stores thresholds
calibrated on the gallery; a running agent picks up a newer calibration within
`REFRESH_S` without a restart.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import sqlite_utils

from bearagent.decisions import DecisionRule
from bearagent.decisions.config import DecisionConfig
from bearagent.decisions.in_force import GalleryThresholds, RuleInForce, rule_in_force, score_in_use
from bearagent.gallery.calibration import StoredCalibration, current_calibration
from bearagent.modelcard import DecisionSpec

log = logging.getLogger(__name__)

#: Seconds between looks at the calibrations table.
REFRESH_S = 30.0


def gallery_thresholds(stored: StoredCalibration | None) -> GalleryThresholds | None:
    """A stored calibration as the thresholds `rule_in_force` weighs."""
    if stored is None:
        return None
    return GalleryThresholds(
        stored.score,
        stored.known,
        stored.unknown,
        stored.individuals,
        stored.encounters,
        stored.why,
        stored.cohort,
    )


def resolve_rule(
    db: sqlite_utils.Database, model_sha256: str, card: DecisionSpec, cfg: DecisionConfig
) -> RuleInForce:
    """The rule in force now: config, then the gallery's current calibration, then the card."""
    stored = (
        current_calibration(db, model_sha256, score_in_use(card, cfg))
        if cfg.calibrate_on_gallery
        else None
    )
    return rule_in_force(card, cfg, gallery_thresholds(stored))


class RuleKeeper:
    """Holds the rule in force and looks for a newer gallery calibration now and then."""

    def __init__(
        self,
        db: sqlite_utils.Database,
        model_sha256: str,
        card: DecisionSpec,
        cfg: DecisionConfig,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db, self._sha, self._card, self._cfg, self._clock = db, model_sha256, card, cfg, clock
        self.in_force = resolve_rule(db, model_sha256, card, cfg)
        self._checked = clock()
        log.info("decision rule: %s; %s", self.in_force.rule.describe(), self.in_force.why)

    def __call__(self) -> DecisionRule:
        """The rule to decide with (refreshed at most every `REFRESH_S`)."""
        if self._clock() - self._checked >= REFRESH_S and not self._db.conn.in_transaction:
            self.refresh()
        return self.in_force.rule

    def refresh(self) -> bool:
        """Look for a newer calibration now; True when the rule changed."""
        self._checked = self._clock()
        fresh = resolve_rule(self._db, self._sha, self._card, self._cfg)
        if fresh.rule == self.in_force.rule:
            return False
        log.info("decision rule changed: %s; %s", fresh.rule.describe(), fresh.why)
        self.in_force = fresh
        return True
