"""Model rollout: published models, offers per box, file requests, each box's model.

``models`` (a published ONNX file by SHA-256: name, size, card), ``model_offers`` (one
per box and publication: its state as the box reports it, the reason of a refusal),
``model_fetches`` (the part of a model or chip a box asked for, and how far the station
has sent it) and ``box_models`` (the model each box says it runs). The files themselves
live in the media folder's ``models/``.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "models",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("card", sa.JSON(), nullable=False),
        sa.Column("published_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_models")),
    )
    op.create_table(
        "model_offers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("received", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("sends", sa.Integer(), nullable=False),
        sa.Column("reported_at", sa.DateTime(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["sha256"], ["models.sha256"], name=op.f("fk_model_offers_sha256_models")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_offers")),
    )
    with op.batch_alter_table("model_offers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_model_offers_agent_closed", ["agent_id", "closed_at"], unique=False
        )
    op.create_table(
        "model_fetches",
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("next_byte", sa.Integer(), nullable=False),
        sa.Column("end_byte", sa.Integer(), nullable=False),
        sa.Column("stream", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("agent_id", "sha256", name=op.f("pk_model_fetches")),
    )
    op.create_table(
        "box_models",
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("since", sa.DateTime(), nullable=True),
        sa.Column("reported_at", sa.DateTime(), nullable=False),
        sa.Column("stream", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("agent_id", name=op.f("pk_box_models")),
    )


def downgrade() -> None:
    """Revert this revision (the published files stay in the media folder's models/)."""
    op.drop_table("box_models")
    op.drop_table("model_fetches")
    with op.batch_alter_table("model_offers", schema=None) as batch_op:
        batch_op.drop_index("ix_model_offers_agent_closed")
    op.drop_table("model_offers")
    op.drop_table("models")
