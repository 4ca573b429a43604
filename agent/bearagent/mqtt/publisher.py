"""Store and forward: drain the SQLite outbox to the broker, a row leaving only on PUBACK.

One thread owns the outbox connection. It publishes rows in id order while
connected, at most `MqttConfig.inflight` unacknowledged at a time, maps each
message id to its row, and deletes rows whose PUBACK came back. paho's own
thread runs the network (reconnecting with backoff) and keeps unacknowledged
messages to resend on reconnect; should the process die, the rows are still
in the outbox and the next start sends them again. Delivery is therefore at
least once; consumers drop repeats by ``event_id``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import sqlite_utils

from bearagent.mqtt import outbox
from bearagent.mqtt.client import (
    build_client,
    client_id_for,
    connect_properties,
    tls_context,
    unreachable_message,
)
from bearagent.mqtt.config import MqttConfig
from bearagent.mqtt.credentials import read_password
from bearagent.mqtt.payloads import STATUS_OFFLINE, STATUS_ONLINE, Stats, stats_payload
from bearagent.mqtt.signals import Acked, Connected, Refused, Signal, SignalInbox, Unreachable
from bearagent.mqtt.topics import Topics
from bearagent.store import StoreError, open_database, transaction

log = logging.getLogger("bearagent.mqtt")
_SENT = (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN)  # NO_CONN: paho queued it for reconnect


@dataclass(frozen=True)
class PublisherCounters:
    """A snapshot of what the publisher has done since it started."""

    connected: bool
    sent: int  # events handed to the broker (a resend after restart counts again)
    published: int  # events the broker acknowledged (and left the outbox)
    refused_by_broker: int  # PUBACKs with a failure reason; those rows stay in the outbox
    connects: int
    last_error: str | None


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
    ) -> None:
        self.config = config
        self.agent_id = agent_id
        self.topics = Topics.build(config.topic_prefix, agent_id)  # TopicError before anything
        self._database = database
        self._stats_source = stats_source
        self._poll_s = poll_s
        self._wake = threading.Event()
        self._signals = SignalInbox(self._wake)
        self._stopping = threading.Event()
        self._deadline = 0.0
        self._thread: threading.Thread | None = None
        self._client: mqtt.Client | None = None
        self._lock = threading.Lock()  # guards the counters read by other threads
        self._connected = False
        self._sent = self._published = self._refused = self._connects = 0
        self._last_error: str | None = None
        self._inflight: dict[int, int] = {}  # paho mid -> outbox row id
        self._window = config.inflight  # lowered to the broker's Receive Maximum
        self._acked: list[int] = []  # acknowledged rows not yet deleted
        self._cursor = 0  # highest row id handed to paho
        self._started_at = time.monotonic()
        self._where = f"{config.host}:{config.port}"

    # -- the Publisher interface -------------------------------------------------------

    def start(self) -> None:
        """Read the password, load TLS files, prepare the outbox, start publishing."""
        if self._thread is not None:
            raise RuntimeError("MqttPublisher.start() called twice")
        cfg = self.config
        password = None if cfg.password_file is None else read_password(cfg.password_file)
        tls = tls_context(cfg.tls) if cfg.tls.enabled else None
        db = open_database(self._database)  # schema errors surface here, on the caller's thread
        try:
            outbox.ensure_schema(db)
        finally:
            db.conn.close()
        client = build_client(
            cfg,
            self.topics,
            client_id=client_id_for(cfg, self.agent_id),
            password=password,
            tls=tls,
            logger=logging.getLogger("bearagent.mqtt.paho"),
        )
        self._signals.attach(client)
        self._client = client
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
        """What has been sent and acknowledged so far (safe from any thread)."""
        with self._lock:
            return PublisherCounters(
                self._connected,
                self._sent,
                self._published,
                self._refused,
                self._connects,
                self._last_error,
            )

    # -- the publisher thread ----------------------------------------------------------

    def _run(self) -> None:
        client = self._client
        if client is None:  # start() sets it before the thread exists
            return
        db = open_database(self._database)
        cfg = self.config
        try:
            client.connect_async(
                cfg.host,
                cfg.port,
                keepalive=cfg.keepalive_s,
                clean_start=False,
                properties=connect_properties(cfg),
            )
            client.loop_start()
            self._loop(db, client)
            self._shutdown(db, client)
        except BaseException:
            log.exception(
                "MQTT publisher stopped by an unexpected error; events stay in the outbox"
            )
            raise
        finally:
            client.loop_stop()
            db.conn.close()

    def _loop(self, db: sqlite_utils.Database, client: mqtt.Client) -> None:
        interval = self.config.stats_interval_s
        next_stats = time.monotonic() + interval
        while not self._stopping.is_set():
            self._wake.wait(self._poll_s)
            self._wake.clear()
            self._step(db, client, fill=True)
            if interval > 0 and self._connected and time.monotonic() >= next_stats:
                next_stats = time.monotonic() + interval
                self._publish_stats(db, client)

    def _step(self, db: sqlite_utils.Database, client: mqtt.Client, *, fill: bool) -> None:
        """Apply paho's signals, delete acknowledged rows, and top up the in-flight window."""
        for signal in self._signals.drain():
            self._apply(signal, client)
        try:
            # Fill first: paho sends the new rows while this thread waits for the fsync.
            if fill and self._connected:
                self._fill(db, client)
            if self._acked:
                with transaction(db):
                    outbox.delete(db, self._acked)
                self._acked.clear()
        except StoreError as e:  # disk full, locked: keep the rows, try again next wake-up
            self._note_error(f"outbox: {e}")
            log.error("MQTT publisher cannot use the outbox, retrying: %s", e)

    def _apply(self, signal: Signal, client: mqtt.Client) -> None:
        if isinstance(signal, Acked):
            self._acknowledged(signal)
        elif isinstance(signal, Connected):
            self._connected_now(signal, client)
        elif isinstance(signal, Refused):
            self._set_disconnected()
            self._note_error(f"refused: {signal.reason}")
            log.error(
                "MQTT broker %s refused the connection: %s; check mqtt.username, the password "
                "file and the broker's ACL; retrying with backoff",
                self._where,
                signal.reason,
            )
        elif isinstance(signal, Unreachable):
            log.warning(unreachable_message(self.config))
        elif self._set_disconnected():  # Lost, while connected
            self._note_error(f"connection lost: {signal.reason}")
            log.warning(
                "lost MQTT broker %s (%s); reconnecting with backoff", self._where, signal.reason
            )

    def _acknowledged(self, signal: Acked) -> None:
        row_id = self._inflight.pop(signal.mid, None)
        if row_id is None:  # status or stats: not from the outbox
            return
        if signal.failure is None:
            self._acked.append(row_id)
            with self._lock:
                self._published += 1
            return
        with self._lock:
            self._refused += 1
        self._note_error(f"broker refused outbox row {row_id}: {signal.failure}")
        log.error(
            "broker %s refused outbox row %d (%s); it stays in the outbox and is sent again "
            "when the agent restarts: check the broker's ACL for %s",
            self._where,
            row_id,
            signal.failure,
            self.topics.prefix,
        )

    def _connected_now(self, signal: Connected, client: mqtt.Client) -> None:
        with self._lock:
            self._connected = True
            self._connects += 1
        # Exceeding the broker's Receive Maximum is a protocol error it disconnects for.
        self._window = max(1, min(self.config.inflight, signal.receive_maximum))
        log.info(
            "connected to MQTT broker %s (session present: %s)",
            self._where,
            signal.session_present,
        )
        client.publish(self.topics.status, STATUS_ONLINE, qos=1, retain=True)

    def _set_disconnected(self) -> bool:
        """Mark disconnected; return whether we were connected."""
        with self._lock:
            was, self._connected = self._connected, False
        return was

    def _note_error(self, text: str) -> None:
        with self._lock:
            self._last_error = text

    def _fill(self, db: sqlite_utils.Database, client: mqtt.Client) -> None:
        room = self._window - len(self._inflight)
        if room <= 0:
            return
        for row in outbox.pending(db, room, after_id=self._cursor):
            info = client.publish(row.topic, row.payload, qos=1, retain=row.retain)
            if info.rc not in _SENT:
                log.error("paho did not take outbox row %d: %s", row.id, mqtt.error_string(info.rc))
                return
            self._inflight[info.mid] = row.id
            self._cursor = row.id
            with self._lock:
                self._sent += 1

    def _publish_stats(self, db: sqlite_utils.Database, client: mqtt.Client) -> None:
        # Stats go straight out, not through the outbox: an old one is not worth keeping.
        if self._stats_source is None:
            return
        with self._lock:
            published = self._published
        try:
            waiting = outbox.size(db)
        except StoreError as e:
            log.error("no stats message: cannot count the outbox: %s", e)
            return
        payload = stats_payload(
            agent_id=self.agent_id,
            stats=self._stats_source(),
            outbox_size=waiting,
            published=published,
            uptime_s=time.monotonic() - self._started_at,
        )
        client.publish(self.topics.stats, payload, qos=1)

    def _more_to_send(self, db: sqlite_utils.Database) -> bool:
        try:
            return bool(outbox.pending(db, 1, after_id=self._cursor))
        except StoreError:
            return False  # the rows stay for the next start; _step has logged why

    def _shutdown(self, db: sqlite_utils.Database, client: mqtt.Client) -> None:
        """Flush until the outbox is sent or the deadline passes, then say ``offline``."""
        while time.monotonic() < self._deadline and self._connected:
            self._step(db, client, fill=True)
            if not self._inflight and not self._more_to_send(db):
                break
            self._wake.wait(0.05)
            self._wake.clear()
        self._step(db, client, fill=False)
        if self._connected:
            info = client.publish(self.topics.status, STATUS_OFFLINE, qos=1, retain=True)
            try:
                info.wait_for_publish(max(1.0, self._deadline - time.monotonic()))
            except (ValueError, RuntimeError) as e:
                log.warning("could not publish 'offline' before disconnecting: %s", e)
            self._step(db, client, fill=False)
        client.disconnect()
        self._set_disconnected()
