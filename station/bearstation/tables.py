"""The station's tables (SQLAlchemy Core), the same on SQLite and PostgreSQL.

Times are stored as naive UTC (`UtcDateTime`) on both, so a comparison means the
same everywhere; the capture's own UTC offset is kept beside it (``*_offset_min``)
for local days. Every individual is keyed by (agent_id, individual_id): named ids
(``bear-0001``) are unique only on their box. Alembic's migrations in
``bearstation/alembic`` create exactly these tables (a test compares them).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)


class UtcDateTime(TypeDecorator[datetime]):
    """An aware datetime in, stored as naive UTC, an aware UTC datetime out."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the station stores aware times only")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if isinstance(value, datetime) else value


AGENT = String(64)

boxes = Table(
    "boxes",
    metadata,
    Column("agent_id", AGENT, primary_key=True),
    Column("first_seen_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False),
    Column("status", String(16)),  # the retained 'status' topic: online | offline
    Column("status_at", UtcDateTime),
)

cameras = Table(
    "cameras",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("agent_id", AGENT, ForeignKey("boxes.agent_id"), nullable=False),
    Column("site", String(255), nullable=False),
    Column("camera", String(255), nullable=False),
    Column("first_captured_at", UtcDateTime),
    Column("last_captured_at", UtcDateTime),
    Column("latitude", Float),
    Column("longitude", Float),
    Column("coordinate_uncertainty_m", Integer),
    Column("location_name", String(255)),
    Column("camera_model", String(255)),
    UniqueConstraint("agent_id", "site", "camera"),
)

events = Table(
    "events",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("agent_id", AGENT, nullable=False),
    Column("channel", String(16), nullable=False),
    Column("kind", String(16)),
    Column("topic", Text, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("payload", Text, nullable=False),
    Index("ix_events_agent_channel", "agent_id", "channel"),
)

individuals = Table(
    "individuals",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("agent_id", AGENT, ForeignKey("boxes.agent_id"), nullable=False),
    Column("individual_id", String(255), nullable=False),
    Column("name", String(255)),
    Column("name_at", UtcDateTime),
    Column("provisional", Boolean, nullable=False),
    Column("first_seen_at", UtcDateTime),
    Column("last_seen_at", UtcDateTime),
    # A box merged it into another of its individuals (a promotion): the target.
    Column("merged_into_id", Integer, ForeignKey("individuals.id")),
    UniqueConstraint("agent_id", "individual_id"),
)

links = Table(
    "links",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("a_id", Integer, ForeignKey("individuals.id"), nullable=False),
    Column("b_id", Integer, ForeignKey("individuals.id"), nullable=False),
    Column("linked_at", UtcDateTime, nullable=False),
    Column("linked_by", String(255), nullable=False),
    Column("note", Text),
    Column("unlinked_at", UtcDateTime),
    Column("unlinked_by", String(255)),
)

encounters = Table(
    "encounters",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("agent_id", AGENT, ForeignKey("boxes.agent_id"), nullable=False),
    Column("encounter_id", String(255), nullable=False),
    Column("camera_id", Integer, ForeignKey("cameras.id"), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("started_offset_min", Integer, nullable=False),
    Column("last_captured_at", UtcDateTime, nullable=False),
    Column("chip_count", Integer, nullable=False),
    Column("state", String(8), nullable=False),  # open | ended | merged
    Column("merged_into", String(255)),
    Column("status", String(8), nullable=False),  # known | review | unknown | rejected
    Column("individual_ref", Integer, ForeignKey("individuals.id")),
    Column("score_name", String(16), nullable=False),
    Column("score_value", Float, nullable=False),
    Column("similarity", Float, nullable=False),
    Column("known_threshold", Float, nullable=False),
    Column("unknown_threshold", Float, nullable=False),
    Column("threshold_source", String(8), nullable=False),
    Column("model_name", String(255), nullable=False),
    Column("model_sha256", String(64), nullable=False),
    Column("candidates", JSON, nullable=False),
    Column("processed_at", UtcDateTime, nullable=False),
    Column("event_rank", Integer, nullable=False),  # new 0, update 1, end / merged 2
    Column("decided_by", String(8), nullable=False),  # machine | human
    Column("corrected_at", UtcDateTime),
    Column("corrected_by", String(255)),
    UniqueConstraint("agent_id", "encounter_id"),
    Index("ix_encounters_individual", "individual_ref"),
    Index("ix_encounters_camera_started", "camera_id", "started_at"),
)

sightings = Table(
    "sightings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("agent_id", AGENT, nullable=False),
    Column("file", Text, nullable=False),
    Column("encounter_ref", Integer, ForeignKey("encounters.id"), nullable=False),
    Column("captured_at", UtcDateTime, nullable=False),
    Column("captured_offset_min", Integer, nullable=False),
    Column("time_source", String(8), nullable=False),
    Column("rejected", Boolean, nullable=False),
    UniqueConstraint("agent_id", "file"),
    Index("ix_sightings_encounter", "encounter_ref"),
)

unknown_alerts = Table(
    "unknown_alerts",
    metadata,
    Column("event_id", String(36), ForeignKey("events.event_id"), primary_key=True),
    Column("agent_id", AGENT, nullable=False),
    Column("provisional_id", String(255), nullable=False),
    Column("encounter_id", String(255), nullable=False),
    Column("camera_id", Integer, ForeignKey("cameras.id"), nullable=False),
    Column("captured_at", UtcDateTime, nullable=False),
)

corrections = Table(
    "corrections",
    metadata,
    Column("event_id", String(36), ForeignKey("events.event_id"), primary_key=True),
    Column("agent_id", AGENT, nullable=False),
    Column("corrected_at", UtcDateTime, nullable=False),
    Column("by", String(255), nullable=False),
    Column("action", String(8), nullable=False),
    Column("encounter_id", String(255)),
    Column("files", JSON, nullable=False),
    Column("before", JSON, nullable=False),
    Column("after", JSON, nullable=False),
    Column("undoes", String(36)),
    Column("note", Text),
    # applied | pending (its encounter has not arrived yet) | undone | ignored
    Column("state", String(8), nullable=False),
    Column("changes", JSON, nullable=False),  # what the station changed, to undo exactly
    Column("reason", Text),
    Index("ix_corrections_encounter", "agent_id", "encounter_id"),
)

stats = Table(
    "stats",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("agent_id", AGENT, nullable=False),
    Column("sent_at", UtcDateTime, nullable=False),
    Column("uptime_s", Float, nullable=False),
    Column("processed", Integer, nullable=False),
    Column("rejected", Integer, nullable=False),
    Column("mtime_dated", Integer, nullable=False),
    Column("queue_depth", Integer, nullable=False),
    Column("outbox_size", Integer, nullable=False),
    Column("published", Integer, nullable=False),
    Column("refused", Integer, nullable=False),
    Column("decisions", JSON, nullable=False),
    Column("latency_ms", JSON, nullable=False),
    UniqueConstraint("agent_id", "sent_at"),
)

quarantine = Table(
    "quarantine",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("received_at", UtcDateTime, nullable=False),
    Column("broker", String(255), nullable=False),
    Column("topic", Text, nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("reason", Text, nullable=False),
)

# The media store (bearstation.media): chips' bytes, content-addressed by SHA-256, in a
# folder beside the database; these rows say what it holds and which box chip is which.

media = Table(
    "media",
    metadata,
    Column("sha256", String(64), primary_key=True),  # lower-case hex: names the file too
    Column("size", Integer, nullable=False),  # bytes
    Column("content_type", String(64), nullable=False),
    Column("stored_at", UtcDateTime, nullable=False),
)

chip_media = Table(
    "chip_media",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("agent_id", AGENT, nullable=False),
    Column("file", Text, nullable=False),  # relative path on the box, as its events carry it
    Column("sha256", String(64), ForeignKey("media.sha256"), nullable=False),
    Column("encounter_id", String(255)),
    Column("site", String(255), nullable=False),
    Column("camera", String(255), nullable=False),
    Column("captured_at", UtcDateTime, nullable=False),
    Column("captured_offset_min", Integer, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    UniqueConstraint("agent_id", "file"),
    Index("ix_chip_media_sha256", "sha256"),
    Index("ix_chip_media_encounter", "agent_id", "encounter_id"),
)

embeddings = Table(
    "embeddings",
    metadata,
    Column("sha256", String(64), ForeignKey("media.sha256"), primary_key=True),
    Column("model_sha256", String(64), primary_key=True),
    Column("dim", Integer, nullable=False),
    Column("vector", LargeBinary, nullable=False),  # float32, little-endian
)

# Every box's stream of messages (bearstation.fleet.sequences): what the station holds
# of each, so it can confirm it (receipts) and ask for gaps (resend requests).

box_streams = Table(
    "box_streams",
    metadata,
    Column("agent_id", AGENT, primary_key=True),
    Column("stream", String(36), primary_key=True),  # the box outbox's UUID
    Column("through", Integer, nullable=False),  # every seq up to this is held
    Column("head", Integer, nullable=False),  # the latest seq the box said it gave out
    Column("expired_through", Integer, nullable=False),  # the box dropped these unconfirmed
    Column("lost", Integer, nullable=False),  # seqs the station will never get (expired)
    Column("current", Boolean, nullable=False),  # the box's latest stream
    Column("updated_at", UtcDateTime, nullable=False),
    Column("receipt_through", Integer, nullable=False),  # what the last receipt said
    Column("receipt_at", UtcDateTime),
    Column("resend_at", UtcDateTime),
)

box_seqs = Table(
    "box_seqs",
    metadata,
    Column("agent_id", AGENT, primary_key=True),
    Column("stream", String(36), primary_key=True),
    Column("seq", Integer, primary_key=True),  # held, above its stream's `through`
)

# Frames a box's detector found empty (Camtrap DP 'blank' observations).

blank_frames = Table(
    "blank_frames",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("agent_id", AGENT, nullable=False),
    Column("file", Text, nullable=False),
    Column("site", String(255), nullable=False),
    Column("camera", String(255), nullable=False),
    Column("captured_at", UtcDateTime, nullable=False),
    Column("captured_offset_min", Integer, nullable=False),
    Column("time_source", String(8), nullable=False),
    Column("detector", String(255)),
    UniqueConstraint("agent_id", "file"),
    Index("ix_blank_frames_camera", "agent_id", "site", "camera", "captured_at"),
)

# Model rollout (bearstation.rollout): the models the station publishes (files in the
# media folder's models/), one offer per box and model, the parts of files boxes ask for
# (models, and reference chips by their hash), and the model each box says it runs.

models = Table(
    "models",
    metadata,
    Column("sha256", String(64), primary_key=True),  # lower-case hex of the ONNX file
    Column("name", String(255), nullable=False),
    Column("size", Integer, nullable=False),  # bytes (an ONNX file is under 2 GB)
    Column("card", JSON, nullable=False),  # the model card, with its sha256
    Column("published_at", UtcDateTime, nullable=False),
)

model_offers = Table(
    "model_offers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("agent_id", AGENT, nullable=False),
    Column("sha256", String(64), ForeignKey("models.sha256"), nullable=False),
    # offered | fetching | verifying | switched | running | refused | superseded
    Column("state", String(16), nullable=False),
    Column("reason", Text),  # why the box refused it
    Column("received", Integer),  # bytes the box has, as it last reported
    Column("created_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime),  # the last offer message
    Column("sends", Integer, nullable=False),
    Column("reported_at", UtcDateTime),  # the box's last report about it
    Column("closed_at", UtcDateTime),  # switched, running, refused or superseded
    Index("ix_model_offers_agent_closed", "agent_id", "closed_at"),
)

model_fetches = Table(
    "model_fetches",
    metadata,
    Column("agent_id", AGENT, primary_key=True),
    Column("sha256", String(64), primary_key=True),  # a model, or a chip in the media store
    Column("next_byte", Integer, nullable=False),  # the next byte to send
    Column("end_byte", Integer, nullable=False),  # the end of what the box asked for
    Column("stream", String(36), nullable=False),  # the box's stream and the request's seq:
    Column("seq", Integer, nullable=False),  # an older request (a resend) changes nothing
    Column("requested_at", UtcDateTime, nullable=False),
)

box_models = Table(
    "box_models",
    metadata,
    Column("agent_id", AGENT, primary_key=True),
    Column("sha256", String(64)),  # the model the box runs (null until it says)
    Column("name", String(255)),
    Column("since", UtcDateTime),  # the first report of this model
    Column("reported_at", UtcDateTime, nullable=False),  # the box's newest model report
    Column("stream", String(36), nullable=False),  # of that report: an older one (a resent
    Column("seq", Integer, nullable=False),  # copy) changes nothing
)

# The fleet gallery (bearstation.fleet.gallery): every individual of the fleet with its
# fleet-unique id, its name and merges, its reference chips (by their media SHA-256), and
# the feed: the ordered changes every box applies to its own gallery.

fleet_individuals = Table(
    "fleet_individuals",
    metadata,
    Column("id", String(255), primary_key=True),  # bear-<agent|station>-NNNN, unknown-<agent>-N
    Column("name", String(255)),
    Column("name_key", String(255), unique=True),  # the name folded for comparison; NULL if none
    Column("provisional", Boolean, nullable=False),
    Column("origin", String(64), nullable=False),  # the box (agent id) or station that made it
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(255), nullable=False),
    Column("merged_into", String(255), ForeignKey("fleet_individuals.id")),
    Column("merged_at", UtcDateTime),
    Column("merged_by", String(255)),
    Column("updated_at", UtcDateTime, nullable=False),
)

fleet_references = Table(
    "fleet_references",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("sha256", String(64), ForeignKey("media.sha256"), nullable=False, unique=True),
    Column("individual_id", String(255), ForeignKey("fleet_individuals.id"), nullable=False),
    Column("first_individual_id", String(255), nullable=False),  # before any merge
    Column("agent_id", AGENT),  # the box that sent it as a reference (NULL: the station)
    Column("added_at", UtcDateTime, nullable=False),
    Index("ix_fleet_references_individual", "individual_id"),
)

fleet_feed = Table(
    "fleet_feed",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),  # 1, 2, 3 ... no gaps
    Column("kind", String(16), nullable=False),  # individual | references | merge
    Column("body", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

fleet_state = Table(
    "fleet_state",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),  # always 1
    Column("head", Integer, nullable=False),  # the feed's last seq (its row lock orders it)
    Column("next_number", Integer, nullable=False),  # of the ids the station mints
    Column("station_id", String(64)),  # whose ids those are: bear-<station_id>-NNNN
    Column("adopted_at", UtcDateTime),  # when the individuals known before it were added
)

fleet_positions = Table(
    "fleet_positions",
    metadata,
    Column("agent_id", AGENT, primary_key=True),
    Column("applied", Integer, nullable=False),  # the box's last reported feed position
    Column("reported_at", UtcDateTime, nullable=False),
    Column("sent_through", Integer, nullable=False),  # the station sent it changes up to here
    Column("sent_at", UtcDateTime),
    Column("retry_at", UtcDateTime),  # asked again soon after a send: not before this
    Column("resends", Integer, nullable=False),  # sent again without an answer (backs off)
)

# The review desk (bearstation.desk): a person's decision about a box's encounter, waiting
# for that box's correction (or its refusal), and the desk's own settings (the key that
# signs its session cookies).

desk_commands = Table(
    "desk_commands",
    metadata,
    Column("command_id", String(36), primary_key=True),  # a UUID, sent with the decision
    Column("agent_id", AGENT, nullable=False),  # the box that owns the encounter
    Column("encounter_id", String(255), nullable=False),
    Column("action", String(8), nullable=False),  # confirm | assign | create | reject | undo
    Column("individual_id", String(255)),  # assign: the individual
    Column("name", String(255)),  # create: the new individual's name; assign: the target's
    Column("files", JSON),  # reject: the chips (NULL: all of the encounter's)
    Column("note", Text),  # reject: the reason (not_a_bear | unusable)
    Column("undoes", String(36)),  # undo: the command whose decision it reverses
    Column("by", String(255), nullable=False),  # the name given at login
    Column("client", String(255), nullable=False),  # the address it came from
    Column("created_at", UtcDateTime, nullable=False),
    Column("state", String(8), nullable=False),  # waiting | applied | refused
    Column("sends", Integer, nullable=False),  # decision messages sent so far
    Column("sent_at", UtcDateTime),  # the last one
    Column("answered_at", UtcDateTime),  # when the box's answer arrived
    Column("answer_event_id", String(36)),  # the correction that answered it
    Column("reason", Text),  # refused: the box's words
    Index("ix_desk_commands_encounter", "agent_id", "encounter_id"),
    Index("ix_desk_commands_state", "state"),
)

desk_settings = Table(
    "desk_settings",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

#: The desk's queue lists every box's encounters newest first: read in this order, a page
#: stops after its 25 rows instead of sorting them all.
Index("ix_encounters_started", encounters.c.started_at, encounters.c.id)
