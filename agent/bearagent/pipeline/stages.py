"""The first two stages of the pipelined worker: intake (decode) and embed.

Each stage is one thread that hands batches on through a bounded queue, so the
model never waits for a file to be read or for SQLite to commit, and a slow
stage holds the ones before it back instead of letting memory grow. One thread
per stage keeps batches, and so each camera's chips, in order.

- intake: gathers a micro-batch from the watcher's queue, checks the ledger by
  path on its own read connection, and reads, hashes, decodes, dates and
  preprocesses the files on a small thread pool;
- embed: runs the model on the batch (ONNX Runtime releases the GIL).

The record stage (`bearagent.pipeline.worker`) checks the ledger again, inside
its transaction, before anything is written: that check is the authoritative one,
so a look-up here that fails (or a file still in flight in a later stage) costs
work, never a chip processed twice.
"""

from __future__ import annotations

import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np

from bearagent.ledger import FileIdentity, Ledger
from bearagent.modelcard import InputSpec
from bearagent.pipeline.batcher import collect_batch
from bearagent.pipeline.intake import (
    Arrival,
    Dating,
    Decoded,
    Outcome,
    Skipped,
    check_content,
    check_path,
    read_chip_file,
)
from bearagent.runtime.base import Embedder
from bearagent.watch import WatchConfig


@dataclass
class Batch:
    """A micro-batch on its way through the stages."""

    arrivals: list[Arrival]
    outcomes: list[Outcome]
    inputs: np.ndarray | None = None  # the network input of the `Decoded` outcomes, until embedded
    embeddings: np.ndarray | None = None  # rows of the `Decoded` outcomes, in order

    @property
    def decoded(self) -> list[Decoded]:
        """The outcomes that are chips to embed."""
        return [o for o in self.outcomes if isinstance(o, Decoded)]


@dataclass(frozen=True)
class Failure:
    """A stage's unexpected error, handed on so the record stage raises it."""

    error: BaseException


#: What travels between stages: a batch, a stage's failure, or None (the stage stopped).
Handoff = Batch | Failure | None


@dataclass(frozen=True)
class IntakeSettings:
    """What intake needs from the configuration."""

    watch: WatchConfig
    dating: Dating
    batch_size: int
    batch_wait_s: float
    threads: int


def _by_path(batch: list[Arrival]) -> list[Arrival]:
    """The batch without repeats of a file (the watcher may report one file twice)."""
    seen: set[tuple[str, str]] = set()
    out: list[Arrival] = []
    for arrival in batch:
        key = (str(arrival.source.root), arrival.source.relative)
        if key not in seen:
            seen.add(key)
            out.append(arrival)
    return out


def unique(outcomes: list[Outcome]) -> list[Outcome]:
    """A second file with the same content as an earlier one in the batch is a duplicate."""
    seen: set[str] = set()
    out: list[Outcome] = []
    for o in outcomes:
        sha = o.identity.sha256 if o.identity is not None else None
        if isinstance(o, Decoded) and sha in seen:
            out.append(Skipped(o.arrival, o.identity, "duplicate"))
            continue
        if sha is not None:
            seen.add(sha)
        out.append(o)
    return out


def _path_checked(arrival: Arrival, ledger: Ledger) -> FileIdentity | Skipped:
    """`check_path`; when the database cannot be read this moment, the file unchecked."""
    try:
        return check_path(arrival, ledger)
    except sqlite3.Error:
        ident = check_path(arrival, _NoLedger())
        return ident


def _content_checked(outcome: Outcome, ledger: Ledger) -> Outcome:
    try:
        return check_content(outcome, ledger)
    except sqlite3.Error:
        return outcome


class _NoLedger(Ledger):
    """A ledger that has seen nothing (when the database cannot be read for a moment)."""

    def __init__(self) -> None:
        pass

    def seen_path(self, root: str, path: str, size: int, mtime_ns: int) -> bool:
        return False

    def seen_content(self, sha256: str) -> bool:
        return False


def _with_inputs(batch: Batch) -> Batch:
    """The batch with its chips' tensors stacked into one input (and dropped from each chip)."""
    decoded = batch.decoded
    tensors = [d.tensor for d in decoded if d.tensor is not None]
    if not tensors:
        return batch
    batch.inputs = np.stack(tensors)
    light = {id(d): replace(d, tensor=None) for d in decoded}
    batch.outcomes = [light.get(id(o), o) for o in batch.outcomes]
    return batch


class IntakeStage:
    """Watcher queue -> decoded, preprocessed batches on `out`."""

    def __init__(
        self,
        settings: IntakeSettings,
        spec: InputSpec,
        open_ledger: Callable[[], Ledger],
        inbox: queue.Queue[Arrival],
        out: queue.Queue[Handoff],
        stop: threading.Event,
    ) -> None:
        self.settings, self.spec, self.open_ledger = settings, spec, open_ledger
        self.inbox, self.out, self.stop = inbox, out, stop

    def run(self) -> None:
        """Until `stop`: gather, check, decode, hand on; then None (or the error first)."""
        s = self.settings
        try:
            ledger = self.open_ledger()
            try:
                with ThreadPoolExecutor(s.threads, thread_name_prefix="chip-decode") as pool:
                    while not self.stop.is_set():
                        arrivals = collect_batch(
                            self.inbox, s.batch_size, s.batch_wait_s, self.stop
                        )
                        if arrivals:
                            outcomes = self._take_in(_by_path(arrivals), ledger, pool)
                            self.out.put(_with_inputs(Batch(arrivals, outcomes)))
            finally:
                ledger.db.conn.close()
        except BaseException as e:  # the record stage raises it: the agent stops
            self.out.put(Failure(e))
        self.out.put(None)

    def _take_in(
        self, arrivals: list[Arrival], ledger: Ledger, pool: ThreadPoolExecutor
    ) -> list[Outcome]:
        s = self.settings
        first = [_path_checked(a, ledger) for a in arrivals]
        jobs = {
            k: pool.submit(read_chip_file, a, ident, s.watch, s.dating, self.spec)
            for k, (a, ident) in enumerate(zip(arrivals, first, strict=True))
            if not isinstance(ident, Skipped)
        }
        outcomes: list[Outcome] = []
        for k, ident in enumerate(first):
            outcome = jobs[k].result() if k in jobs else ident
            assert not isinstance(outcome, FileIdentity)
            outcomes.append(_content_checked(outcome, ledger))
        return unique(outcomes)


class EmbedStage:
    """Decoded batches -> the same batches with their embeddings."""

    def __init__(
        self, embedder: Embedder, inbox: queue.Queue[Handoff], out: queue.Queue[Handoff]
    ) -> None:
        self.embedder, self.inbox, self.out = embedder, inbox, out

    def run(self) -> None:
        """Until the stage before stops (then stop too); its failure is handed on."""
        try:
            while isinstance(item := self.inbox.get(), Batch):
                if item.inputs is not None:
                    item.embeddings = self.embedder.embed(item.inputs)
                    item.inputs = None  # the input tensors need not wait for the database
                self.out.put(item)
            if item is not None:
                self.out.put(item)  # a Failure from intake
        except BaseException as e:
            self.out.put(Failure(e))
        self.out.put(None)
