"""Store and forward: the MQTT `Publisher`, draining the SQLite outbox to the broker.

One thread owns the outbox connection. It applies what paho's thread reports
(`connection.BrokerConnection`), sends rows and marks the acknowledged ones
published (`drain.OutboxDrain`), hands what the station sends the box to its
handlers (`bearagent.fleet.inbound`: receipts drop kept rows, resend requests
send them again), drops kept rows past the retention limit, and publishes
``stats`` (with the stream's head, so the station knows what to ask for). paho
keeps unacknowledged messages to resend on reconnect; should the process die, the
rows are still in the outbox and the next start sends them again. Delivery is
therefore at least once; consumers drop repeats by ``event_id``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import sqlite_utils

from bearagent.fleet.inbound import InboundHandler, InboundRouter
from bearagent.mqtt import outbox
from bearagent.mqtt.base import PublisherCounters
from bearagent.mqtt.config import MqttConfig
from bearagent.mqtt.connection import BrokerConnection
from bearagent.mqtt.counters import Tally
from bearagent.mqtt.drain import OutboxDrain
from bearagent.mqtt.retry import RefusedRows
from bearagent.mqtt.signals import Acked, Connected, Received
from bearagent.store import StoreError, open_database, transaction
from bearagent.wire.channels import StationChannel
from bearagent.wire.payloads import Stats, StreamPosition, stats_payload
from bearagent.wire.topics import Topics

#: Seconds between looks for kept rows past the retention limit.
EXPIRE_EVERY_S = 60.0

log = logging.getLogger("bearagent.mqtt")


class MqttPublisher:
    """The MQTT `Publisher`: QoS 1, persistent session, retained status with a last will."""

    def __init__(
        self,
        config: MqttConfig,
        *,
        agent_id: str,
        database: Path,
        stats_source: Callable[[], Stats] | None = None,
        poll_s: float = 1.0,
        inbound: Mapping[StationChannel, InboundHandler] | None = None,
        on_connect: Sequence[Callable[[sqlite_utils.Database], object]] = (),
    ) -> None:
        self.config = config
        self.agent_id = agent_id
        # TopicError before anything
        self.topics = Topics.build(config.topic_prefix, agent_id, config.station_topic_prefix)
        self.router = InboundRouter(self.topics, agent_id, inbound or {})
        #: Called on the publisher thread with its connection at every (re)connect (e.g. the
        #: gallery feed reports its position, so a box back from a week away catches up).
        self.on_connect = list(on_connect)
        self._database = database
        self._stats_source = stats_source
        self._poll_s = poll_s
        self._tally = Tally()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._deadline = 0.0
        self._thread: threading.Thread | None = None
        self._connection: BrokerConnection | None = None
        self._started_at = time.monotonic()
        self._stats_now = False

    def start(self) -> None:
        """Read the password, load TLS files, prepare the outbox, start publishing."""
        if self._thread is not None:
            raise RuntimeError("MqttPublisher.start() called twice")
        connection = BrokerConnection(
            self.config, self.topics, self.agent_id, self._tally, self._wake
        )
        db = open_database(self._database)  # schema errors surface here, on the caller's thread
        try:
            outbox.ensure_schema(db)
        finally:
            db.conn.close()
        self._connection = connection
        self._started_at = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="mqtt-publisher", daemon=True)
        self._thread.start()

    def notify(self) -> None:
        """New rows are in the outbox: publish them now rather than at the next poll."""
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Flush for up to `timeout` s, publish retained ``offline``, disconnect."""
        thread = self._thread
        if thread is None:
            return
        self._deadline = time.monotonic() + timeout
        self._stopping.set()
        self._wake.set()
        thread.join(timeout + 10.0)
        if thread.is_alive():
            log.error("MQTT publisher did not stop within %.0f s", timeout + 10.0)

    def counters(self) -> PublisherCounters:
        """What has been sent, acknowledged and refused so far (safe from any thread)."""
        return self._tally.snapshot()

    # -- the publisher thread ----------------------------------------------------------

    def _run(self) -> None:
        connection = self._connection
        if connection is None:  # start() sets it before the thread exists
            return
        db = open_database(self._database)
        retry = RefusedRows(self.config.reconnect_min_s, self.config.reconnect_max_s)
        drain = OutboxDrain(
            db,
            self.topics,
            self._tally,
            retry,
            keep_until_confirmed=self.config.keep_until_confirmed,
        )
        try:
            connection.open()
            self._loop(connection, drain)
            self._shutdown(connection, drain)
        except BaseException:
            log.exception(
                "MQTT publisher stopped by an unexpected error; events stay in the outbox"
            )
            raise
        finally:
            connection.client.loop_stop()
            db.conn.close()

    def _step(self, connection: BrokerConnection, drain: OutboxDrain, *, fill: bool) -> None:
        received = False
        for signal in connection.signals.drain():
            if isinstance(signal, Acked):
                drain.acknowledged(signal, connection.where)
            elif isinstance(signal, Received):
                received = self.router.dispatch(signal.topic, signal.payload, drain.db) or received
            else:
                connection.handle(signal)
                if isinstance(signal, Connected):
                    self._stats_now = True  # the station learns the stream's head at once
                    self._connected_hooks(drain.db)
        if received:
            drain.rewind()  # a resend request marks rows unpublished again
        drain.step(connection, fill=fill)

    def _loop(self, connection: BrokerConnection, drain: OutboxDrain) -> None:
        interval = self.config.stats_interval_s
        next_stats = time.monotonic() + interval
        next_expiry = time.monotonic()
        while not self._stopping.is_set():
            self._wake.wait(self._wait_s(connection, drain))
            self._wake.clear()
            self._step(connection, drain, fill=True)
            due = time.monotonic() >= next_stats or self._stats_now
            if interval > 0 and connection.connected and due:
                next_stats = time.monotonic() + interval
                self._stats_now = False
                self._publish_stats(connection, drain.db)
            if time.monotonic() >= next_expiry:
                next_expiry = time.monotonic() + EXPIRE_EVERY_S
                self._expire(drain.db)

    def _connected_hooks(self, db: sqlite_utils.Database) -> None:
        for hook in self.on_connect:
            try:
                hook(db)
            except Exception:  # a hook's failure must not stop the publisher
                log.exception("a connect hook failed; publishing goes on")

    def _expire(self, db: sqlite_utils.Database) -> None:
        """Drop kept rows past the retention limit, and say so (the station cannot have them)."""
        cfg = self.config
        try:
            with transaction(db):
                gone = outbox.expire(
                    db, cfg.keep_unconfirmed_days * 86_400, int(cfg.keep_unconfirmed_mb * 2**20)
                )
        except StoreError as e:
            log.error("cannot apply the outbox's retention limit now: %s", e)
            return
        if gone.rows:
            self._tally.add(expired=gone.rows)
            log.warning(
                "dropped %d published message(s) the station never confirmed, through sequence "
                "number %d (mqtt.keep_unconfirmed_days / keep_unconfirmed_mb): is the station "
                "running and sending receipts?",
                gone.rows,
                gone.through,
            )

    def _wait_s(self, connection: BrokerConnection, drain: OutboxDrain) -> float:
        """Until the next poll, or sooner when a refused row's wait ends. A row already due
        waits for room in the window (an acknowledgement wakes the thread)."""
        retry_in = drain.next_retry_in()
        if retry_in is None or retry_in <= 0.0 or not connection.connected:
            return self._poll_s
        return min(self._poll_s, retry_in)

    def _publish_stats(self, connection: BrokerConnection, db: sqlite_utils.Database) -> None:
        # Stats go straight out, not through the outbox: an old one is not worth keeping.
        if self._stats_source is None:
            return
        try:
            state = outbox.stream_state(db)
        except StoreError as e:
            log.error("no stats message: cannot count the outbox: %s", e)
            return
        payload = stats_payload(
            agent_id=self.agent_id,
            stats=self._stats_source(),
            outbox_size=state.waiting,
            published=self._tally.published,
            refused=self._tally.refused,
            uptime_s=time.monotonic() - self._started_at,
            position=StreamPosition(
                state.stream, state.head, state.unconfirmed, state.expired_through
            ),
        )
        connection.publish(self.topics.stats, payload)

    def _shutdown(self, connection: BrokerConnection, drain: OutboxDrain) -> None:
        """Flush until the outbox is sent or the deadline passes, then say ``offline``."""
        while time.monotonic() < self._deadline and connection.connected:
            self._step(connection, drain, fill=True)
            if not drain.busy():
                break
            self._wake.wait(0.05)
            self._wake.clear()
        self._step(connection, drain, fill=False)
        if connection.connected:
            connection.say_offline(self._deadline)
            self._step(connection, drain, fill=False)
        connection.close()
