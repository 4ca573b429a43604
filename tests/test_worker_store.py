"""The worker's store: one connection, one transaction a batch, SQLite errors typed by
their code wherever they strike — and a full disk in the middle of a batch loses nothing."""

from __future__ import annotations

import queue
import sqlite3
import threading
import time
from datetime import UTC
from pathlib import Path

import pytest

from bearagent.chips import FileNamePattern
from bearagent.decisions import DecisionRule
from bearagent.encounters import EncounterConfig, EncounterTracker
from bearagent.ledger import FileIdentity, Ledger
from bearagent.pipeline.intake import Arrival, Dating
from bearagent.pipeline.recording import ModelIdentity
from bearagent.pipeline.stats import AgentStats
from bearagent.pipeline.store import WorkerStore, migrate_all
from bearagent.pipeline.worker import ChipWorker, WorkerSettings
from bearagent.runtime import RuntimeConfig, open_embedder
from bearagent.store import DatabaseLocked, DiskFull, StoreError, open_database, sqlite_error
from bearagent.watch import ChipSource, WatchConfig
from beartrain.synthetic import encode_jpeg
from support.agent_world import World, make_world

SHA = "ab" * 32


def store_at(path: Path) -> WorkerStore:
    migrate_all(open_database(path))
    return WorkerStore(path, ModelIdentity("m", SHA), "box1")


def test_an_insert_that_hits_a_full_database_inside_the_batch_is_typed_and_rolled_back(
    tmp_path: Path,
) -> None:
    store = store_at(tmp_path / "agent.db")
    pages = store.db.execute("PRAGMA page_count").fetchone()[0]
    store.db.execute(f"PRAGMA max_page_count = {pages + 2}")  # SQLITE_FULL on the next pages
    ident = FileIdentity("/traps", "north/cam01/a.jpg", 1, 1, None)
    with pytest.raises(DiskFull) as e, store.batch() as s:
        s.ledger.record(ident, "processed")
        s.db.execute("CREATE TABLE filler (x BLOB)")
        s.db.execute("INSERT INTO filler VALUES (zeroblob(100000))")  # fails: no raw error
    assert isinstance(e.value.__cause__, sqlite3.OperationalError)
    assert str(e.value).startswith(f"the disk holding {tmp_path / 'agent.db'} is full")
    assert store.ledger.counts() == {}  # the whole batch was rolled back
    store.db.execute("PRAGMA max_page_count = 1073741823")
    with store.batch() as s:  # and the store works again
        s.ledger.record(ident, "processed")
    assert store.ledger.counts() == {"processed": 1}


def test_errors_are_classified_by_their_sqlite_code(tmp_path: Path) -> None:
    path = tmp_path / "agent.db"
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("CREATE TABLE t (x)")
    locker.execute("BEGIN EXCLUSIVE")
    other = sqlite3.connect(path, timeout=0.05)
    with pytest.raises(sqlite3.OperationalError) as raw:
        other.execute("INSERT INTO t VALUES (1)")
    assert raw.value.sqlite_errorname == "SQLITE_BUSY"
    assert isinstance(sqlite_error(raw.value, path), DatabaseLocked)
    locker.execute("ROLLBACK")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database at all, just text " * 100)
    with pytest.raises(sqlite3.DatabaseError) as junk_error:
        sqlite3.connect(junk).execute("SELECT * FROM sqlite_master")
    typed = sqlite_error(junk_error.value, junk)
    assert type(typed) is StoreError and str(typed).startswith(
        f"{junk} is not a readable SQLite database"
    )


def test_a_full_disk_in_the_middle_of_a_batch_loses_nothing_and_the_worker_goes_on(
    tmp_path: Path,
) -> None:
    """The real pipelined worker on real files: its database stops growing (SQLite's
    max_page_count, SQLITE_FULL on whatever INSERT needs the next page), the batch waits
    and is retried, and once there is room every chip is recorded exactly once."""
    world: World = make_world(tmp_path)
    store_holder: list[WorkerStore] = []
    room = threading.Event()
    stop = threading.Event()
    inbox: queue.Queue[Arrival] = queue.Queue()
    embedder = open_embedder(RuntimeConfig(model=world.model))
    sha = embedder.card.model.sha256 or ""
    migrate_all(open_database(world.database))
    chips = [c for enc in world.unseen.values() for c in enc]
    folder = world.traps / "north" / "cam01"
    folder.mkdir(parents=True)
    errors: list[BaseException] = []

    def idle() -> None:  # runs on the worker's thread, which owns the connection
        store = store_holder[0]
        if room.is_set():
            store.db.execute("PRAGMA max_page_count = 1073741823")

    def run() -> None:
        try:
            store = WorkerStore(world.database, ModelIdentity("pixel-test", sha), "box1")
            store_holder.append(store)
            pages = store.db.execute("PRAGMA page_count").fetchone()[0]
            store.db.execute(f"PRAGMA max_page_count = {pages + 3}")
            tracker = EncounterTracker(
                EncounterConfig(end_after_s=0.5), lambda: DecisionRule("best", 0.9, 0.9), 0.9,
                store.identity,
            )  # fmt: skip
            settings = WorkerSettings(
                watch=WatchConfig(roots=[world.traps]),
                batch_size=4,
                batch_wait_s=0.01,
                dating=Dating(FileNamePattern(timezone=UTC), UTC),
                top_k=5,
                retry_s=0.5,  # the test need not wait 5 s a retry
            )
            worker = ChipWorker(
                settings, embedder, tracker, store,
                lambda: Ledger(open_database(world.database)),
                lambda: DecisionRule("best", 0.9, 0.9), AgentStats(), inbox, stop,
                on_idle=idle,
            )  # fmt: skip
            worker.run()
        except BaseException as e:
            errors.append(e)

    thread = threading.Thread(target=run, name="test-worker")
    thread.start()
    try:
        for i, (record, pixels) in enumerate(chips):
            path = folder / f"{i:03d}.jpg"
            path.write_bytes(encode_jpeg(pixels, record.captured_at))
            inbox.put(Arrival(ChipSource(path, world.traps, f"north/cam01/{path.name}", "north",
                                         "cam01"), time.monotonic()))  # fmt: skip
        db = open_database(world.database)

        def recorded() -> int:
            n: int = db.execute("SELECT COUNT(*) FROM files").fetchone()[0]
            return n

        deadline, last = time.monotonic() + 30, -1
        while time.monotonic() < deadline and recorded() != last:  # until it stops growing
            last = recorded()
            time.sleep(2.0)
        stuck_at = recorded()
        assert stuck_at < len(chips), "the database never filled up"
        assert thread.is_alive() and not errors, errors
        room.set()  # space is freed
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and recorded() < len(chips):
            time.sleep(0.2)
    finally:
        stop.set()
        thread.join(30)
        embedder.close()
    assert not errors, errors
    db = open_database(world.database)
    assert db.execute("SELECT COUNT(*) FROM files WHERE status = 'processed'").fetchone()[0] == len(
        chips
    )
    assert db.execute("SELECT COUNT(DISTINCT file), COUNT(*) FROM sightings").fetchone() == (
        len(chips),
        len(chips),
    )
    assert db.execute("SELECT COUNT(*) FROM encounters WHERE ended = 0").fetchone()[0] == 0
    ends = db.execute('SELECT COUNT(*) FROM outbox WHERE payload LIKE \'%"type":"end"%\'')
    assert ends.fetchone()[0] >= len(world.unseen)
