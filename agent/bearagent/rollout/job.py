"""One offered model on its way in: fetch, verify, re-embed the gallery, switch.

`RolloutJob.step` does one bounded piece of work per call (a request, a check, a batch of
references), so the rollout's thread keeps taking chunks between steps. Every phase can
be interrupted and resumed: the model's partial file, the staged vectors and the offer's
state are on disk. A `ModelRefused` from any phase ends the job; the box keeps its model.
"""

from __future__ import annotations

import logging
import math
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

import sqlite_utils

from bearagent.config import AgentConfig
from bearagent.errors import BearIdError
from bearagent.rollout import offers, staging
from bearagent.rollout.embedding import embed_references
from bearagent.rollout.errors import ModelRefused, SwitchDeferred
from bearagent.rollout.files import MODELS_FOLDER, Download, chip_path
from bearagent.rollout.handlers import Chunk
from bearagent.rollout.offers import Offer
from bearagent.rollout.payloads import ReportState, fetch_request, model_report
from bearagent.rollout.sources import ReferenceImage, locate
from bearagent.rollout.switch import GallerySwitch
from bearagent.rollout.transfers import Transfer
from bearagent.rollout.verify import open_offered, write_offered_card
from bearagent.runtime.base import Embedder
from bearagent.store import StoreError, transaction

log = logging.getLogger(__name__)

Phase = Literal["fetching", "verifying", "staging", "switching", "done"]
#: References embedded per step while staging.
STAGE_BATCH = 32
#: Reference chips fetched from the station at once.
MAX_CHIP_TRANSFERS = 16
#: Seconds between ``fetching`` progress reports.
REPORT_S = 10.0
#: Switches tried (each one stops and restarts the chip worker) before giving up.
MAX_SWITCH_TRIES = 3
#: Free space a fetch leaves in the state folder (the database must go on growing).
ROOM_SPARE = 64 * 2**20
_MODEL_ADVICE = "the copy at the station or on the way is bad; publish the model again"
_CHIP_ADVICE = "the station's copy of this reference chip is bad"


def _check_room(state_dir: Path, needed: int) -> None:
    """Refuse a model the state folder has no room for (with `ROOM_SPARE` to spare)."""
    free = shutil.disk_usage(state_dir).free
    if free < needed + ROOM_SPARE:
        raise ModelRefused(
            f"the model needs {needed / 2**20:.1f} MiB in {state_dir}, which has "
            f"{free / 2**20:.1f} MiB free (and keeps {ROOM_SPARE // 2**20} MiB for the "
            "database): free space there, then publish the model again"
        )


class ModelSwitcher(Protocol):
    """The agent, as the rollout sees it: the model it runs, and the switch."""

    embedder: Embedder | None

    def swap_embedder(self, embedder: Embedder, between: Callable[[], None]) -> None:
        """Stop the chip worker at a batch boundary, call `between`, restart on `embedder`."""


@dataclass
class Context:
    """What a job's steps work with (the rollout thread's own connection)."""

    cfg: AgentConfig
    db: sqlite_utils.Database
    send: Callable[[str, str], None]  # (channel, JSON text): into the outbox, wake the publisher
    switcher: ModelSwitcher
    clock: Callable[[], float]
    now: float  # clock() when the step began

    @property
    def state_dir(self) -> Path:
        """The folder of the box's database: models and fetched chips live beside it."""
        return self.cfg.agent.database_path.parent


@dataclass
class RolloutJob:
    """An offered model from fetch to switch."""

    offer: Offer
    path: Path  # the model file (fetched into the state folder, or a copy already here)
    model: Transfer | None  # None: the file is here already
    phase: Phase
    started: float
    embedder: Embedder | None = None
    adopted: bool = False  # the agent runs `embedder` now (it closes it)
    waiting: dict[int, ReferenceImage] = field(default_factory=dict)  # chips being fetched
    chips: dict[str, Transfer] = field(default_factory=dict)
    staged: int = 0
    tries: int = 0
    times: dict[str, float] = field(default_factory=dict)  # seconds per phase
    switch_parts: dict[str, float] = field(default_factory=dict)  # seconds, the last switch
    phase_at: float = 0.0
    reported_at: float = -math.inf

    @property
    def fetched(self) -> bool:
        """The model file is in the state folder (not a copy that was already here)."""
        return self.path.parent.name == MODELS_FOLDER

    def received(self) -> int:
        """Bytes of the model file here."""
        return self.offer.size if self.model is None else self.model.download.length()

    def receive(self, chunk: Chunk, now: float) -> None:
        """Take a chunk of the model or of a reference chip."""
        if self.model is not None and chunk.sha256 == self.offer.sha256:
            if self.phase == "fetching":
                self.model.receive(chunk.offset, chunk.data, chunk.size, now)
        elif (transfer := self.chips.get(chunk.sha256)) is not None:
            transfer.receive(chunk.offset, chunk.data, chunk.size, now)

    def step(self, ctx: Context) -> bool:
        """One piece of work; True when it did some (the caller need not wait)."""
        if self.phase == "fetching":
            return self._fetch(ctx)
        if self.phase == "verifying":
            return self._verify(ctx)
        if self.phase == "staging":
            return self._stage(ctx)
        if self.phase == "switching":
            return self._switch(ctx)
        return False

    def report(self, ctx: Context, state: ReportState, reason: str | None = None) -> None:
        """Queue a ``model`` report about this offer."""
        self.reported_at = ctx.now
        ctx.send("model", model_report(
            ctx.cfg.agent.id, sha256=self.offer.sha256, name=self.offer.name, state=state,
            reason=reason, received=self.received(), size=self.offer.size,
        ))  # fmt: skip

    def close(self) -> None:
        """Release the new model's runtime unless the agent took it over."""
        if self.embedder is not None and not self.adopted:
            self.embedder.close()
        self.embedder = None

    def _enter(self, phase: Phase, now: float) -> None:
        self.times[self.phase] = self.times.get(self.phase, 0.0) + now - self.phase_at
        self.phase, self.phase_at = phase, now

    def _fetch(self, ctx: Context) -> bool:
        transfer = self.model
        if transfer is not None and not transfer.download.done:
            if transfer.asked_until == 0:
                _check_room(ctx.state_dir, self.offer.size - transfer.download.length())
            if not transfer.complete:
                for offset, length in transfer.requests(ctx.now):
                    ctx.send("fetch", fetch_request(ctx.cfg.agent.id, sha256=self.offer.sha256,
                                                    offset=offset, length=length))  # fmt: skip
                if ctx.now - self.reported_at >= REPORT_S:
                    self.report(ctx, "fetching")
                return False
            transfer.download.finish(self.offer.size, _MODEL_ADVICE)
        self._enter("verifying", ctx.now)
        self.report(ctx, "verifying")
        return True

    def _verify(self, ctx: Context) -> bool:
        if self.fetched:
            write_offered_card(self.path, self.offer.card, self.offer.sha256)
        self.embedder = open_offered(self.path, ctx.cfg.runtime)
        if self.embedder.card.model.sha256 != self.offer.sha256:
            raise ModelRefused(
                f"{self.path} is not the offered model {self.offer.sha256[:12]}...: publish again"
            )
        with transaction(ctx.db):
            offers.set_state(ctx.db, self.offer.sha256, "staging")
        self._enter("staging", ctx.now)
        return True

    def _stage(self, ctx: Context) -> bool:
        assert self.embedder is not None
        sha = self.offer.sha256
        arrived = [ReferenceImage(r.reference_id, r.source, chip_path(ctx.state_dir, s), s)
                   for r in self.waiting.values() if (s := r.sha256) is not None
                   and chip_path(ctx.state_dir, s).is_file()]  # fmt: skip
        for image in arrived:
            del self.waiting[image.reference_id]
        rows = staging.unstaged(ctx.db, sha, STAGE_BATCH + len(self.waiting))
        rows = [r for r in rows if r[0] not in self.waiting][:STAGE_BATCH]
        done = embed_references(self.embedder, arrived + locate(ctx.db, ctx.state_dir, rows))
        if done.ids:
            with transaction(ctx.db):
                staging.stage(ctx.db, sha, done.ids, done.vectors)
            self.staged += len(done.ids)
        self._wait_for(done.unreadable, ctx.state_dir)
        self._ask_for_chips(ctx)
        if not rows and not arrived and not self.waiting:
            self._enter("switching", ctx.now)
            return True
        return bool(rows or arrived)

    def _wait_for(self, unreadable: list[ReferenceImage], state_dir: Path) -> None:
        """Fetch from the station the chips of `unreadable` whose hash is known; refuse when
        some image is nowhere to be had."""
        lost = [i for i in unreadable
                if i.sha256 is None or i.path == chip_path(state_dir, i.sha256)]  # fmt: skip
        if lost:
            shown = ", ".join(i.source for i in lost[:5])
            raise ModelRefused(
                f"{len(lost)} reference image(s) of the gallery cannot be read on this box and "
                f"the station cannot serve them (e.g. {shown}): restore them, or remove those "
                "references (`bearagent gallery reembed --drop-missing` with the model in use)"
            )
        for image in unreadable:
            assert image.sha256 is not None
            self.waiting[image.reference_id] = image
            if image.sha256 not in self.chips:
                final = chip_path(state_dir, image.sha256)
                self.chips[image.sha256] = Transfer(Download(final, image.sha256))

    def _ask_for_chips(self, ctx: Context) -> None:
        for sha, transfer in list(self.chips.items()):
            if transfer.download.done:
                del self.chips[sha]
            elif transfer.complete:
                transfer.download.finish(transfer.size or 0, _CHIP_ADVICE)
                del self.chips[sha]
            elif transfer.missing:
                shown = next(i.source for i in self.waiting.values() if i.sha256 == sha)
                raise ModelRefused(
                    f"reference image {shown} is not on this box and the station has no copy of "
                    f"it (chip {sha[:12]}...): restore it, or remove the reference"
                )
        for sha, transfer in list(self.chips.items())[:MAX_CHIP_TRANSFERS]:
            for offset, length in transfer.requests(ctx.now):
                text = fetch_request(ctx.cfg.agent.id, sha256=sha, offset=offset, length=length)
                ctx.send("fetch", text)

    def _switch(self, ctx: Context) -> bool:
        assert self.embedder is not None
        switch = GallerySwitch(ctx.cfg, self.embedder, self.path)
        start = ctx.clock()
        try:
            ctx.switcher.swap_embedder(self.embedder, switch)
        except (SwitchDeferred, StoreError) as e:
            self.tries += 1
            if self.tries >= MAX_SWITCH_TRIES:
                raise ModelRefused(f"the switch failed {self.tries} times, last: {e}") from e
            log.info("switch to %s deferred: %s", self.offer.name, e)
            self._enter("staging", ctx.now)
            return True
        except ModelRefused:
            raise
        except BearIdError as e:
            raise ModelRefused(str(e)) from e
        self.adopted = True
        self.staged = switch.moved  # every reference, staged before a restart too
        self.switch_parts = {k: round(v, 3) for k, v in switch.seconds.items()}
        # The rest of the swap: the old worker finishing its batch, the new one starting.
        self.switch_parts["worker"] = round(ctx.clock() - start - sum(switch.seconds.values()), 3)
        self._enter("done", ctx.clock())
        return True
