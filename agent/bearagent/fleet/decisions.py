"""``decision``: a person's decision at the station's review desk about one of this box's
encounters, applied through the box's own review actions.

The handler keeps each decision once (`decision_records`), then applies every pending
one with the same `ReviewService` the box's review page uses, as the person named at
the desk: the action changes the sightings, the encounter and the gallery in one
transaction and publishes its ``correction`` (naming the desk's command), which tells
the station the decision is applied. A decision about an encounter the agent still has
open waits here until the encounter has ended (it is tried again with every decision
message; the station repeats an unanswered one). A decision the box cannot apply (an
encounter or individual it does not know, an undo of something changed since) is
answered with a ``refused`` correction carrying the box's words.
"""

from __future__ import annotations

import logging
import uuid

import sqlite_utils

from bearagent.config import AgentConfig
from bearagent.errors import BearIdError
from bearagent.fleet import decision_records as records
from bearagent.fleet.decision_payloads import refusal_payload
from bearagent.fleet.decision_records import DeskDecision
from bearagent.fleet.inbound import StationMessage
from bearagent.gallery import get_individual
from bearagent.gallery.errors import UnknownIndividual
from bearagent.mqtt import outbox
from bearagent.review.actions import ActionResult, Reviewer, ReviewService, refusals
from bearagent.review.actions.audit import identity
from bearagent.review.actions.calibrate import Recalibrator
from bearagent.review.actions.embedding import ChipEmbedder
from bearagent.review.errors import ActionRefused, NotFound
from bearagent.review.queries.encounters import get_encounter
from bearagent.review.queries.gallery import open_encounters_of
from bearagent.review.schema import ensure_schema as ensure_review_schema
from bearagent.store import StoreError, transaction
from bearagent.wire.payloads import Identity

log = logging.getLogger(__name__)


class StillOpen(Exception):
    """The decision must wait: its encounter (or its provisional bear's) is still open."""


class DecisionHandler:
    """Applies the desk's decisions on the publisher thread, with its connection."""

    def __init__(self, cfg: AgentConfig) -> None:
        self.cfg = cfg
        self._service: ReviewService | None = None
        self._recalibrator: Recalibrator | None = None
        self._schema_ready: set[int] = set()

    def handle(self, message: StationMessage, db: sqlite_utils.Database) -> None:
        """Keep the decision (once), then apply every pending one."""
        self._ensure_schema(db)
        try:
            decision = DeskDecision.from_body(message.body)
        except (KeyError, ValueError) as e:
            log.warning("ignoring a desk decision on %s: %s", message.topic, e)
            return
        with transaction(db):
            new = records.record(db, decision)
        if not new:
            log.debug("desk decision %s again", decision.command_id)
        self.apply_pending(db)

    def apply_pending(self, db: sqlite_utils.Database) -> int:
        """Apply the decisions not applied yet, oldest first; returns how many got an answer
        (applied or refused)."""
        answered = 0
        for decision in records.pending(db):
            try:
                answered += self._apply(db, decision)
            except StoreError as e:  # a locked or full database: the next message tries again
                log.warning("desk decision %s not applied yet: %s", decision.command_id, e)
        return answered

    def close(self) -> None:
        """Stop the calibration thread and let the model go."""
        if self._recalibrator is not None:
            self._recalibrator.close()
        if self._service is not None and self._service.embedder is not None:
            self._service.embedder.close()

    # --- applying ------------------------------------------------------------------------

    def _apply(self, db: sqlite_utils.Database, decision: DeskDecision) -> int:
        done = records.applied_action(db, decision.command_id)
        if done is not None:  # applied just before a crash: only the record is missing
            with transaction(db):
                records.set_state(db, decision.command_id, "applied", action_id=done[0],
                                  event_id=done[1])  # fmt: skip
            return 1
        who = Reviewer(decision.by, decision.client, decision.command_id)
        try:
            result = self._run(db, decision, who)
        except StillOpen as e:
            with transaction(db):
                records.set_state(db, decision.command_id, "waiting", reason=str(e))
            return 0
        except StoreError:
            raise
        except BearIdError as e:
            self._refuse(db, decision, str(e))
            return 1
        with transaction(db):
            records.set_state(db, decision.command_id, "applied", action_id=result.action_id,
                              event_id=result.event_id)  # fmt: skip
        log.info("desk decision %s (%s of encounter %s by %s): %s", decision.command_id,
                 decision.action, decision.encounter_id, decision.by, result.summary)  # fmt: skip
        return 1

    def _run(self, db: sqlite_utils.Database, d: DeskDecision, who: Reviewer) -> ActionResult:
        service = self._review_service()
        if d.action == "undo":
            assert d.undoes is not None
            return service.undo(db, self._action_of(db, d.undoes), who)
        self._check_ended(db, d.encounter_id)
        try:
            if d.action == "confirm":
                return service.confirm(db, d.encounter_id, who)
            if d.action == "assign":
                assert d.individual_id is not None
                _check_individual(db, d.individual_id)
                return service.assign(db, d.encounter_id, d.individual_id, who)
            if d.action == "create":
                assert d.name is not None
                return service.create(db, d.encounter_id, d.name, who)
            return service.reject(db, d.encounter_id, self._chips(db, d), d.note or "", who)
        except ActionRefused as e:
            if str(e) == refusals.changed(d.encounter_id):  # the agent wrote meanwhile
                raise StillOpen(str(e)) from e
            raise

    def _check_ended(self, db: sqlite_utils.Database, encounter_id: str) -> None:
        view = get_encounter(db, encounter_id, references=0)
        where = f"{view.site}/{view.camera}"
        if not view.ended and not view.merged_into:
            raise StillOpen(refusals.still_open(view.id, where))
        if view.status == "unknown" and view.individual_id is not None:
            still = open_encounters_of(db, view.individual_id)
            if still:
                raise StillOpen(refusals.individual_open(view.individual_id, still[0][0]))

    def _chips(self, db: sqlite_utils.Database, d: DeskDecision) -> list[int]:
        """The sighting ids of the chips a reject names (all of them when it names none)."""
        view = get_encounter(db, d.encounter_id, references=0)
        live = [c for c in view.chips if not c.rejected]
        if d.files is None:
            return [c.sighting_id for c in live]
        named = set(d.files)
        unknown = sorted(named - {c.file for c in view.chips})
        if unknown:
            raise NotFound(f"encounter {d.encounter_id} has no chip {unknown[0]!r} on this box")
        return [c.sighting_id for c in live if c.file in named]

    def _action_of(self, db: sqlite_utils.Database, command_id: str) -> int:
        """The review action that applied desk command `command_id`."""
        done = records.applied_action(db, command_id)
        if done is None:
            state = records.state_of(db, command_id)
            why = "never reached this box" if state is None else f"is {state[0]} here"
            raise ActionRefused(f"cannot undo desk decision {command_id}: it {why}")
        return done[0]

    def _refuse(self, db: sqlite_utils.Database, d: DeskDecision, reason: str) -> None:
        """Answer with a ``refused`` correction, in one transaction with the record."""
        payload = refusal_payload(
            event_id=uuid.uuid4(), agent_id=self.cfg.agent.id, by=d.by,
            command_id=d.command_id, encounter_id=d.encounter_id, reason=reason,
            state=_state_of(db, d.encounter_id),
        )  # fmt: skip
        with transaction(db):
            outbox.enqueue(db, "correction", payload)
            records.set_state(db, d.command_id, "refused", reason=reason)
        log.warning("desk decision %s (%s of encounter %s) refused: %s", d.command_id,
                    d.action, d.encounter_id, reason)  # fmt: skip

    # --- plumbing ------------------------------------------------------------------------

    def _ensure_schema(self, db: sqlite_utils.Database) -> None:
        if id(db) not in self._schema_ready:
            ensure_review_schema(db)
            records.ensure_schema(db)
            self._schema_ready.add(id(db))

    def _review_service(self) -> ReviewService:
        """The box's review actions, as its review page runs them (made on first use)."""
        if self._service is None:
            cfg, review = self.cfg, self.cfg.review
            runtime = cfg.runtime.model_copy(update={
                "backend": "onnxruntime", "providers": review.embed_providers, "warm_up": False,
            })  # fmt: skip
            embedder = ChipEmbedder(runtime, cfg.watch.roots, cfg.watch.max_pixels)
            self._recalibrator = Recalibrator(cfg.agent.database_path, cfg)
            self._service = ReviewService(cfg, embedder, self._recalibrator.request)
        return self._service


def _check_individual(db: sqlite_utils.Database, individual_id: str) -> None:
    """NotFound, in the desk's terms, when this box's gallery lacks the individual."""
    try:
        get_individual(db, individual_id)
    except UnknownIndividual:
        raise NotFound(
            f"no individual {individual_id!r} on this box: the fleet gallery's feed has not "
            "brought it yet; decide again once the box has it"
        ) from None


def _state_of(db: sqlite_utils.Database, encounter_id: str) -> Identity:
    """The encounter's identity on this box (``review`` when the box does not know it)."""
    try:
        view = get_encounter(db, encounter_id, references=0)
    except NotFound:
        return Identity("review", None, None)
    return identity(view.status, view.individual_id, view.name)
