"""The review desk: decisions about boxes' encounters, and the desk's settings.

``desk_commands`` (a person's decision at the desk about one box's encounter: the
action and what it needs, who and when, and whether the box has answered it with its
``correction`` or refused it) and ``desk_settings`` (the key that signs the desk's
session cookies, made once per database); an index on the boxes' encounters by start,
the order of the desk's queue.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "desk_commands",
        sa.Column("command_id", sa.String(length=36), nullable=False),
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("encounter_id", sa.String(length=255), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("individual_id", sa.String(length=255), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("files", sa.JSON(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("undoes", sa.String(length=36), nullable=True),
        sa.Column("by", sa.String(length=255), nullable=False),
        sa.Column("client", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("sends", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
        sa.Column("answer_event_id", sa.String(length=36), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("command_id", name=op.f("pk_desk_commands")),
    )
    with op.batch_alter_table("desk_commands", schema=None) as batch_op:
        batch_op.create_index(
            "ix_desk_commands_encounter", ["agent_id", "encounter_id"], unique=False
        )
        batch_op.create_index("ix_desk_commands_state", ["state"], unique=False)
    op.create_index("ix_encounters_started", "encounters", ["started_at", "id"], unique=False)
    op.create_table(
        "desk_settings",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_desk_settings")),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("desk_settings")
    op.drop_index("ix_encounters_started", table_name="encounters")
    with op.batch_alter_table("desk_commands", schema=None) as batch_op:
        batch_op.drop_index("ix_desk_commands_state")
        batch_op.drop_index("ix_desk_commands_encounter")
    op.drop_table("desk_commands")
