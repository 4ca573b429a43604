"""Every box's message stream (held sequence numbers) and the blank frames.

``box_streams`` (per box and stream: held through, the box's head, what it dropped
unconfirmed, the last receipt and resend request), ``box_seqs`` (sequence numbers held
above a stream's contiguous mark) and ``blank_frames`` (frames the box's detector found
empty, for Camtrap DP's blank observations).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "box_streams",
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("stream", sa.String(length=36), nullable=False),
        sa.Column("through", sa.Integer(), nullable=False),
        sa.Column("head", sa.Integer(), nullable=False),
        sa.Column("expired_through", sa.Integer(), nullable=False),
        sa.Column("lost", sa.Integer(), nullable=False),
        sa.Column("current", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("receipt_through", sa.Integer(), nullable=False),
        sa.Column("receipt_at", sa.DateTime(), nullable=True),
        sa.Column("resend_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("agent_id", "stream", name=op.f("pk_box_streams")),
    )
    op.create_table(
        "box_seqs",
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("stream", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("agent_id", "stream", "seq", name=op.f("pk_box_seqs")),
    )
    op.create_table(
        "blank_frames",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("file", sa.Text(), nullable=False),
        sa.Column("site", sa.String(length=255), nullable=False),
        sa.Column("camera", sa.String(length=255), nullable=False),
        sa.Column("captured_at", sa.DateTime(), nullable=False),
        sa.Column("captured_offset_min", sa.Integer(), nullable=False),
        sa.Column("time_source", sa.String(length=8), nullable=False),
        sa.Column("detector", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blank_frames")),
        sa.UniqueConstraint("agent_id", "file", name=op.f("uq_blank_frames_agent_id")),
    )
    op.create_index(
        "ix_blank_frames_camera",
        "blank_frames",
        ["agent_id", "site", "camera", "captured_at"],
        unique=False,
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_blank_frames_camera", table_name="blank_frames")
    op.drop_table("blank_frames")
    op.drop_table("box_seqs")
    op.drop_table("box_streams")
