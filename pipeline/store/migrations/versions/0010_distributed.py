"""distributed mode: task leases and the quarantine of poison inputs

``task_leases`` holds work handed to a worker until it is finished (the database, not the
broker, is the source of truth: an expired lease is enqueued again). ``quarantine`` holds items
whose task failed too often or with an error retrying cannot fix, for an admin to replay or drop.
New tables only: ``articles`` is not altered (its full-text triggers of 0009 stay as they are).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "task_leases",
        sa.Column("task", sa.String(32), primary_key=True),
        sa.Column("item_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("token", sa.String(36), nullable=False),
        sa.Column("leased_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_task_leases_leased_until", "task_leases", ["leased_until"])
    op.create_table(
        "quarantine",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("task", sa.String(32), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("traceback", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("first_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("quarantined_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("task", "item_id"),
    )
    op.create_index("ix_quarantine_quarantined_at", "quarantine", ["quarantined_at"])


def downgrade() -> None:
    op.drop_index("ix_quarantine_quarantined_at", table_name="quarantine")
    op.drop_table("quarantine")
    op.drop_index("ix_task_leases_leased_until", table_name="task_leases")
    op.drop_table("task_leases")
