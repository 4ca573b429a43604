"""The media store: chips' bytes at the station.

``media`` (one row per stored file, keyed by its SHA-256), ``chip_media`` (which
box chip, keyed by agent id and file, has which bytes; where and when it was
captured) and ``embeddings`` (a chip's embedding under one model). The bytes
themselves live in the media folder, named by their hash.

Revision ID: 0002
Revises: 0001
Create Date: 2027-01-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "media",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("stored_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_media")),
    )
    op.create_table(
        "chip_media",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("file", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("encounter_id", sa.String(length=255), nullable=True),
        sa.Column("site", sa.String(length=255), nullable=False),
        sa.Column("camera", sa.String(length=255), nullable=False),
        sa.Column("captured_at", sa.DateTime(), nullable=False),
        sa.Column("captured_offset_min", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["sha256"], ["media.sha256"], name=op.f("fk_chip_media_sha256_media")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chip_media")),
        sa.UniqueConstraint("agent_id", "file", name=op.f("uq_chip_media_agent_id")),
    )
    with op.batch_alter_table("chip_media", schema=None) as batch_op:
        batch_op.create_index("ix_chip_media_sha256", ["sha256"], unique=False)
        batch_op.create_index("ix_chip_media_encounter", ["agent_id", "encounter_id"], unique=False)
    op.create_table(
        "embeddings",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("model_sha256", sa.String(length=64), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["sha256"], ["media.sha256"], name=op.f("fk_embeddings_sha256_media")
        ),
        sa.PrimaryKeyConstraint("sha256", "model_sha256", name=op.f("pk_embeddings")),
    )


def downgrade() -> None:
    """Revert this revision (the media folder's files stay where they are)."""
    op.drop_table("embeddings")
    with op.batch_alter_table("chip_media", schema=None) as batch_op:
        batch_op.drop_index("ix_chip_media_encounter")
        batch_op.drop_index("ix_chip_media_sha256")
    op.drop_table("chip_media")
    op.drop_table("media")
