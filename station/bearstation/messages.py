"""What arrives from a broker, and what it is: a status, a valid event, or a rejection.

Every check the station makes before storing lives here: the topic's shape, the
payload's text and JSON, its ``schema_version``, the agent's JSON Schema, and that
topic and payload agree on the channel and the agent. A rejection carries the
reason that goes into the quarantine table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from bearagent.wire.channels import CHANNELS, STATUS, Channel
from bearagent.wire.payloads import SCHEMA_VERSION, STATUS_OFFLINE, STATUS_ONLINE, load_schema
from bearagent.wire.topics import split_box_topic

#: Payloads larger than this are quarantined unparsed (an end event is a few hundred kB).
MAX_PAYLOAD_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class Incoming:
    """One message as the broker delivered it."""

    broker: str  # host:port, for the quarantine
    topic: str
    payload: bytes
    received_at: datetime
    retain: bool = False


@dataclass(frozen=True)
class Status:
    """The retained ``status`` topic of a box."""

    agent_id: str
    online: bool


@dataclass(frozen=True)
class Event:
    """A schema-valid JSON event on the topic of its channel and agent."""

    agent_id: str
    channel: Channel
    body: dict[str, Any]
    text: str

    @property
    def sequence(self) -> tuple[str, str, int] | None:
        """(agent_id, stream, seq) when the box's outbox numbered it."""
        return _sequence(self.agent_id, self.body)


@dataclass(frozen=True)
class Rejected:
    """Something the station cannot store as an event; `reason` says why. A message the box
    numbered (its stream and sequence number could be read) keeps its `sequence`: held in
    the quarantine, it is not asked for again."""

    reason: str
    sequence: tuple[str, str, int] | None = None


def _sequence(agent_id: str, body: Any) -> tuple[str, str, int] | None:
    if not isinstance(body, dict):
        return None
    stream, seq = body.get("stream"), body.get("seq")
    if isinstance(stream, str) and len(stream) == 36 and type(seq) is int and seq >= 1:
        return (agent_id, stream, seq)
    return None


Parsed = Status | Event | Rejected


def _event_schema(event: str) -> dict[str, Any]:
    schema = {k: v for k, v in load_schema().items() if k != "oneOf"}
    return {**schema, "$ref": f"#/$defs/{event}"}


@cache
def _validator(event: str) -> Draft202012Validator:
    """The schema of one kind of event (errors then name the field, not 'oneOf')."""
    return Draft202012Validator(_event_schema(event))


@cache
def _fast_validator(event: str) -> jsonschema_rs.Draft202012Validator:
    """The same schema compiled by jsonschema-rs: ~100x faster, for the common valid case."""
    return jsonschema_rs.Draft202012Validator(_event_schema(event))


def parse(message: Incoming, prefix: str) -> Parsed:
    """What `message` is; every failure is a `Rejected` with its reason."""
    where = split_box_topic(message.topic, prefix)
    if where is None:
        return Rejected(
            f"unexpected topic {message.topic!r}: expected {prefix}<agent_id>/<channel> with "
            f"channel one of {', '.join((STATUS, *CHANNELS))}"
        )
    agent_id, channel = where
    if len(message.payload) > MAX_PAYLOAD_BYTES:
        return Rejected(f"payload of {len(message.payload)} bytes is over {MAX_PAYLOAD_BYTES}")
    try:
        text = message.payload.decode("utf-8")
    except UnicodeDecodeError as e:
        return Rejected(f"payload is not UTF-8 text ({e})")
    if channel == STATUS:
        if text not in (STATUS_ONLINE, STATUS_OFFLINE):
            return Rejected(f"status payload {text[:40]!r} is neither 'online' nor 'offline'")
        return Status(agent_id, text == STATUS_ONLINE)
    return _parse_event(text, agent_id, channel)


def _parse_event(text: str, agent_id: str, channel: str) -> Parsed:
    try:
        body = json.loads(text)
    except json.JSONDecodeError as e:
        return Rejected(f"payload is not JSON ({e})")
    if not isinstance(body, dict):
        return Rejected(f"payload is JSON {type(body).__name__}, not an object")
    numbered = _sequence(agent_id, body)
    version = body.get("schema_version")
    if version != SCHEMA_VERSION:
        shown = "missing" if "schema_version" not in body else repr(version)
        older = type(version) is int and version < SCHEMA_VERSION
        advice = (
            "upgrade bearagent on that box: an older agent"
            if older
            else "upgrade bear-station for a newer agent"
        )
        return Rejected(
            f"schema_version {shown}: this station reads schema_version {SCHEMA_VERSION} "
            f"({advice})",
            numbered,
        )
    event = body.get("event")
    if event not in CHANNELS:
        return Rejected(f"event {str(event)[:40]!r} is not one of {', '.join(CHANNELS)}", numbered)
    # jsonschema-rs says yes fast; a 'no' is explained (and confirmed) by jsonschema.
    errors = [] if _fast_validator(str(event)).is_valid(body) else _errors(str(event), body)
    # A field that fails also counts as 'unevaluated': report the failure itself.
    error = best_match([e for e in errors if e.validator != "unevaluatedProperties"] or errors)
    if error is not None:
        path = "/".join(str(p) for p in error.absolute_path) or "(payload)"
        reason = f"payload does not match the schema at {path}: {error.message[:300]}"
        return Rejected(reason, numbered)
    if body["event"] != channel:
        return Rejected(f"a {body['event']!r} payload on the {channel!r} topic", numbered)
    if body["agent_id"] != agent_id:
        reason = f"payload of agent {body['agent_id']!r} on the topic of {agent_id!r}"
        return Rejected(reason, numbered)
    return Event(agent_id, channel, _without_nul(body), text)  # type: ignore[arg-type]


def _errors(event: str, body: dict[str, Any]) -> list[ValidationError]:
    return list(_validator(event).iter_errors(body))


def _without_nul(value: Any) -> Any:
    """NUL characters (legal in JSON, refused by PostgreSQL text) become U+FFFD."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    if isinstance(value, dict):
        return {k: _without_nul(v) for k, v in value.items()}
    return value
