"""The station's first schema.

Boxes, cameras, the raw events (keyed by event_id), individuals (keyed by agent id and
individual id), links between them, encounters, sightings (one row per chip), unknown
alerts, corrections, stats and the quarantine. Times are naive UTC.

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "boxes",
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("status_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("agent_id", name=op.f("pk_boxes")),
    )
    op.create_table(
        "events",
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=True),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_events")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_agent_channel", ["agent_id", "channel"], unique=False)

    op.create_table(
        "quarantine",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("broker", sa.String(length=255), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantine")),
    )
    op.create_table(
        "stats",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=False),
        sa.Column("uptime_s", sa.Float(), nullable=False),
        sa.Column("processed", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("mtime_dated", sa.Integer(), nullable=False),
        sa.Column("queue_depth", sa.Integer(), nullable=False),
        sa.Column("outbox_size", sa.Integer(), nullable=False),
        sa.Column("published", sa.Integer(), nullable=False),
        sa.Column("refused", sa.Integer(), nullable=False),
        sa.Column("decisions", sa.JSON(), nullable=False),
        sa.Column("latency_ms", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stats")),
        sa.UniqueConstraint("agent_id", "sent_at", name=op.f("uq_stats_agent_id")),
    )
    op.create_table(
        "cameras",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("site", sa.String(length=255), nullable=False),
        sa.Column("camera", sa.String(length=255), nullable=False),
        sa.Column("first_captured_at", sa.DateTime(), nullable=True),
        sa.Column("last_captured_at", sa.DateTime(), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("coordinate_uncertainty_m", sa.Integer(), nullable=True),
        sa.Column("location_name", sa.String(length=255), nullable=True),
        sa.Column("camera_model", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["boxes.agent_id"], name=op.f("fk_cameras_agent_id_boxes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cameras")),
        sa.UniqueConstraint("agent_id", "site", "camera", name=op.f("uq_cameras_agent_id")),
    )
    op.create_table(
        "corrections",
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("corrected_at", sa.DateTime(), nullable=False),
        sa.Column("by", sa.String(length=255), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("encounter_id", sa.String(length=255), nullable=True),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("before", sa.JSON(), nullable=False),
        sa.Column("after", sa.JSON(), nullable=False),
        sa.Column("undoes", sa.String(length=36), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.event_id"], name=op.f("fk_corrections_event_id_events")
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_corrections")),
    )
    with op.batch_alter_table("corrections", schema=None) as batch_op:
        batch_op.create_index(
            "ix_corrections_encounter", ["agent_id", "encounter_id"], unique=False
        )

    op.create_table(
        "individuals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("individual_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("name_at", sa.DateTime(), nullable=True),
        sa.Column("provisional", sa.Boolean(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(), nullable=True),
        sa.Column("last_seen_at", sa.DateTime(), nullable=True),
        sa.Column("merged_into_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["boxes.agent_id"], name=op.f("fk_individuals_agent_id_boxes")
        ),
        sa.ForeignKeyConstraint(
            ["merged_into_id"],
            ["individuals.id"],
            name=op.f("fk_individuals_merged_into_id_individuals"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_individuals")),
        sa.UniqueConstraint("agent_id", "individual_id", name=op.f("uq_individuals_agent_id")),
    )
    op.create_table(
        "encounters",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("encounter_id", sa.String(length=255), nullable=False),
        sa.Column("camera_id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("started_offset_min", sa.Integer(), nullable=False),
        sa.Column("last_captured_at", sa.DateTime(), nullable=False),
        sa.Column("chip_count", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("merged_into", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("individual_ref", sa.Integer(), nullable=True),
        sa.Column("score_name", sa.String(length=16), nullable=False),
        sa.Column("score_value", sa.Float(), nullable=False),
        sa.Column("similarity", sa.Float(), nullable=False),
        sa.Column("known_threshold", sa.Float(), nullable=False),
        sa.Column("unknown_threshold", sa.Float(), nullable=False),
        sa.Column("threshold_source", sa.String(length=8), nullable=False),
        sa.Column("model_name", sa.String(length=255), nullable=False),
        sa.Column("model_sha256", sa.String(length=64), nullable=False),
        sa.Column("candidates", sa.JSON(), nullable=False),
        sa.Column("processed_at", sa.DateTime(), nullable=False),
        sa.Column("event_rank", sa.Integer(), nullable=False),
        sa.Column("decided_by", sa.String(length=8), nullable=False),
        sa.Column("corrected_at", sa.DateTime(), nullable=True),
        sa.Column("corrected_by", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["boxes.agent_id"], name=op.f("fk_encounters_agent_id_boxes")
        ),
        sa.ForeignKeyConstraint(
            ["camera_id"], ["cameras.id"], name=op.f("fk_encounters_camera_id_cameras")
        ),
        sa.ForeignKeyConstraint(
            ["individual_ref"],
            ["individuals.id"],
            name=op.f("fk_encounters_individual_ref_individuals"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_encounters")),
        sa.UniqueConstraint("agent_id", "encounter_id", name=op.f("uq_encounters_agent_id")),
    )
    with op.batch_alter_table("encounters", schema=None) as batch_op:
        batch_op.create_index(
            "ix_encounters_camera_started", ["camera_id", "started_at"], unique=False
        )
        batch_op.create_index("ix_encounters_individual", ["individual_ref"], unique=False)

    op.create_table(
        "links",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("a_id", sa.Integer(), nullable=False),
        sa.Column("b_id", sa.Integer(), nullable=False),
        sa.Column("linked_at", sa.DateTime(), nullable=False),
        sa.Column("linked_by", sa.String(length=255), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("unlinked_at", sa.DateTime(), nullable=True),
        sa.Column("unlinked_by", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["a_id"], ["individuals.id"], name=op.f("fk_links_a_id_individuals")
        ),
        sa.ForeignKeyConstraint(
            ["b_id"], ["individuals.id"], name=op.f("fk_links_b_id_individuals")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_links")),
    )
    op.create_table(
        "unknown_alerts",
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("provisional_id", sa.String(length=255), nullable=False),
        sa.Column("encounter_id", sa.String(length=255), nullable=False),
        sa.Column("camera_id", sa.Integer(), nullable=False),
        sa.Column("captured_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["camera_id"], ["cameras.id"], name=op.f("fk_unknown_alerts_camera_id_cameras")
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.event_id"], name=op.f("fk_unknown_alerts_event_id_events")
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_unknown_alerts")),
    )
    op.create_table(
        "sightings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("file", sa.Text(), nullable=False),
        sa.Column("encounter_ref", sa.Integer(), nullable=False),
        sa.Column("captured_at", sa.DateTime(), nullable=False),
        sa.Column("captured_offset_min", sa.Integer(), nullable=False),
        sa.Column("time_source", sa.String(length=8), nullable=False),
        sa.Column("rejected", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["encounter_ref"], ["encounters.id"], name=op.f("fk_sightings_encounter_ref_encounters")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sightings")),
        sa.UniqueConstraint("agent_id", "file", name=op.f("uq_sightings_agent_id")),
    )
    with op.batch_alter_table("sightings", schema=None) as batch_op:
        batch_op.create_index("ix_sightings_encounter", ["encounter_ref"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("sightings", schema=None) as batch_op:
        batch_op.drop_index("ix_sightings_encounter")

    op.drop_table("sightings")
    op.drop_table("unknown_alerts")
    op.drop_table("links")
    with op.batch_alter_table("encounters", schema=None) as batch_op:
        batch_op.drop_index("ix_encounters_individual")
        batch_op.drop_index("ix_encounters_camera_started")

    op.drop_table("encounters")
    op.drop_table("individuals")
    with op.batch_alter_table("corrections", schema=None) as batch_op:
        batch_op.drop_index("ix_corrections_encounter")

    op.drop_table("corrections")
    op.drop_table("cameras")
    op.drop_table("stats")
    op.drop_table("quarantine")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_agent_channel")

    op.drop_table("events")
    op.drop_table("boxes")
