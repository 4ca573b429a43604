"""The model this box runs across restarts, and the switch's one transaction.

`model_in_use` is what the agent opens at start: the model it switched to last, while the
configuration still names the model it named then (a model set by hand afterwards wins).
`GallerySwitch` runs while the chip worker is stopped (`Agent.swap_embedder`): it stages
the few references added since staging began (the worker's last chips, the fleet
gallery's feed), then in ONE transaction, which no new reference can enter, moves every
staged vector into the gallery, checks that the tracks can work with the new model,
records the model in use and the offer as switched, and queues the ``switched`` report.
A failure rolls everything back and the worker goes on with the old model.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import sqlite_utils

from bearagent.config import AgentConfig
from bearagent.errors import BearIdError
from bearagent.gallery.recalibrate import recalibrate
from bearagent.gallery.references import check_gallery_model
from bearagent.mqtt import outbox
from bearagent.rollout import offers, staging
from bearagent.rollout.embedding import embed_references
from bearagent.rollout.errors import ModelRefused, RolloutError, SwitchDeferred
from bearagent.rollout.payloads import model_report
from bearagent.rollout.sources import locate
from bearagent.rollout.tables import ensure_schema, has_tables
from bearagent.runtime import RuntimeConfig
from bearagent.runtime.base import Embedder
from bearagent.store import open_database, transaction

log = logging.getLogger(__name__)

#: Rounds of staging the references added meanwhile before the switch's transaction.
CATCH_UP_TRIES = 3


@dataclass(frozen=True)
class ModelInUse:
    """The model the box switched to last, and the configured model at the time."""

    path: Path
    sha256: str
    name: str
    config_model: str


def read_model_in_use(db: sqlite_utils.Database) -> ModelInUse | None:
    """The ``rollout_model`` row, if the box ever switched."""
    if not has_tables(db):
        return None
    row = db.execute("SELECT path, sha256, name, config_model FROM rollout_model").fetchone()
    return None if row is None else ModelInUse(Path(row[0]), str(row[1]), str(row[2]), row[3])


def model_in_use(runtime: RuntimeConfig, database: Path) -> RuntimeConfig:
    """`runtime` with the model this box switched to last (unless the configuration names
    another model than it did then: a model set by hand wins)."""
    if not database.is_file():
        return runtime
    db = open_database(database)
    try:
        current = read_model_in_use(db)
    finally:
        db.conn.close()
    if current is None or current.path == runtime.model:
        return runtime
    if current.config_model != str(runtime.model):
        log.warning(
            "runtime.model is now %s, not %s as when this box switched to %s: the configured "
            "model runs", runtime.model, current.config_model, current.path,
        )  # fmt: skip
        return runtime
    if not current.path.is_file():
        raise RolloutError(
            f"the model this box switched to, {current.path} ({current.name}), is gone: restore "
            f"it, or set runtime.model to the model to run (then `bearagent gallery reembed`)"
        )
    return runtime.model_copy(update={"model": current.path})


def set_model_in_use(db: sqlite_utils.Database, use: ModelInUse) -> None:
    """Record the model the box runs from now on. No commit."""
    db.execute(
        "INSERT INTO rollout_model (id, path, sha256, name, config_model, switched_at)"
        " VALUES (1, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET path = excluded.path,"
        " sha256 = excluded.sha256, name = excluded.name, config_model = excluded.config_model,"
        " switched_at = excluded.switched_at",
        [str(use.path), use.sha256, use.name, use.config_model, datetime.now(UTC).isoformat()],
    )


@dataclass
class GallerySwitch:
    """The work between the old worker's stop and the new one's start (a callable)."""

    cfg: AgentConfig
    embedder: Embedder  # the new model's, verified and warmed up
    path: Path
    moved: int = 0
    seconds: dict[str, float] = field(default_factory=dict)  # catch_up, commit, recalibrate

    def __call__(self) -> None:
        db = open_database(self.cfg.agent.database_path)
        try:
            ensure_schema(db)
            for _ in range(CATCH_UP_TRIES):
                with self._timed("catch_up"):
                    self._catch_up(db)
                with self._timed("commit"), transaction(db):  # nothing can add references now
                    if not staging.unstaged(db, self.embedder.card.model.sha256 or "", 1):
                        self._commit(db)
                        break
            else:
                raise SwitchDeferred("references keep arriving (the fleet gallery's feed?)")
            card = self.embedder.card
            with self._timed("recalibrate"):
                done = recalibrate(db, card.model.sha256 or "", card.decision, self.cfg.decision,
                                   when="stale")  # fmt: skip
            if done.result is not None:
                log.info("gallery calibration for %s (%s): %s", card.model.name, done.score,
                         done.note)  # fmt: skip
        finally:
            db.conn.close()

    @contextmanager
    def _timed(self, part: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[part] = self.seconds.get(part, 0.0) + time.perf_counter() - start

    def _catch_up(self, db: sqlite_utils.Database) -> None:
        """Stage references added since staging began (chips the worker just recorded)."""
        sha = self.embedder.card.model.sha256 or ""
        state_dir = self.cfg.agent.database_path.parent
        while rows := staging.unstaged(db, sha, 64):
            done = embed_references(self.embedder, locate(db, state_dir, rows))
            if done.unreadable:
                raise SwitchDeferred(
                    f"{len(done.unreadable)} new reference image(s) are not on this box "
                    f"(e.g. {done.unreadable[0].source}): fetching them first"
                )
            with transaction(db):
                staging.stage(db, sha, done.ids, done.vectors)

    def _commit(self, db: sqlite_utils.Database) -> None:
        card = self.embedder.card
        sha = card.model.sha256 or ""
        self.moved = staging.flip(db, sha)
        check_gallery_model(db, sha, card.model.name)
        _check_tracks(self.embedder, self.cfg, db)
        config_model = str(self.cfg.runtime.model)
        set_model_in_use(db, ModelInUse(self.path, sha, card.model.name, config_model))
        offers.set_state(db, sha, "switched")
        text = model_report(self.cfg.agent.id, sha256=sha, name=card.model.name, state="switched")
        outbox.enqueue(db, "model", text)


def _check_tracks(embedder: Embedder, cfg: AgentConfig, db: sqlite_utils.Database) -> None:
    """The tracks' same-individual similarity can be had for the new model (as at start).

    Only a card with neither tracks nor a threshold to fall back on can fail, and only it
    needs the calibration on the gallery here (the new worker makes it again at start).
    """
    from bearagent.app import same_individual  # the agent's one policy; app imports us

    card = embedder.card
    if cfg.encounter.same_individual is not None or card.tracks is not None:
        return
    if card.decision.unknown_threshold is not None:
        return
    try:
        same_individual(card, cfg, db)
    except BearIdError as e:
        raise ModelRefused(str(e)) from e
