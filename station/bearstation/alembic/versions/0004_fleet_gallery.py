"""The fleet gallery: individuals with fleet-unique ids, their reference chips, the feed.

``fleet_individuals`` (id, name and its folded key, unique across the fleet; provisional;
the box or station that made it; ``merged_into``), ``fleet_references`` (a chip of the
media store that is a reference of an individual), ``fleet_feed`` (every change, in
order, that boxes apply to their galleries), ``fleet_state`` (the feed's head, the
station's id counter) and ``fleet_positions`` (how far each box has applied the feed).

Revision ID: 0004
Revises: 0003
Create Date: 2027-01-20
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "fleet_individuals",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("name_key", sa.String(length=255), nullable=True),
        sa.Column("provisional", sa.Boolean(), nullable=False),
        sa.Column("origin", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("merged_into", sa.String(length=255), nullable=True),
        sa.Column("merged_at", sa.DateTime(), nullable=True),
        sa.Column("merged_by", sa.String(length=255), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["merged_into"],
            ["fleet_individuals.id"],
            name=op.f("fk_fleet_individuals_merged_into_fleet_individuals"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fleet_individuals")),
        sa.UniqueConstraint("name_key", name=op.f("uq_fleet_individuals_name_key")),
    )
    op.create_table(
        "fleet_references",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("individual_id", sa.String(length=255), nullable=False),
        sa.Column("first_individual_id", sa.String(length=255), nullable=False),
        sa.Column("agent_id", sa.String(length=64), nullable=True),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["individual_id"],
            ["fleet_individuals.id"],
            name=op.f("fk_fleet_references_individual_id_fleet_individuals"),
        ),
        sa.ForeignKeyConstraint(
            ["sha256"], ["media.sha256"], name=op.f("fk_fleet_references_sha256_media")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fleet_references")),
        sa.UniqueConstraint("sha256", name=op.f("uq_fleet_references_sha256")),
    )
    op.create_index(
        "ix_fleet_references_individual", "fleet_references", ["individual_id"], unique=False
    )
    op.create_table(
        "fleet_feed",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_fleet_feed")),
    )
    state = op.create_table(
        "fleet_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("head", sa.Integer(), nullable=False),
        sa.Column("next_number", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.String(length=64), nullable=True),
        sa.Column("adopted_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fleet_state")),
    )
    op.bulk_insert(state, [{"id": 1, "head": 0, "next_number": 1}])
    op.create_table(
        "fleet_positions",
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("applied", sa.Integer(), nullable=False),
        sa.Column("reported_at", sa.DateTime(), nullable=False),
        sa.Column("sent_through", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("retry_at", sa.DateTime(), nullable=True),
        sa.Column("resends", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("agent_id", name=op.f("pk_fleet_positions")),
    )


def downgrade() -> None:
    """Revert this revision (boxes keep the galleries the feed gave them)."""
    op.drop_table("fleet_positions")
    op.drop_table("fleet_state")
    op.drop_table("fleet_feed")
    op.drop_index("ix_fleet_references_individual", table_name="fleet_references")
    op.drop_table("fleet_references")
    op.drop_table("fleet_individuals")
