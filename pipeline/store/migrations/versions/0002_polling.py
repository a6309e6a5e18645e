"""polling: adaptive schedule, failure and redirect state per source; entry fingerprints and retries

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sources") as batch:
        batch.add_column(sa.Column("listed_url", sa.String(length=2000), nullable=True))
        batch.add_column(sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("poll_minutes", sa.Float(), nullable=True))
        batch.add_column(sa.Column("typical_gap_minutes", sa.Float(), nullable=True))
        batch.add_column(sa.Column("redirect_url", sa.String(length=2000), nullable=True))
        batch.add_column(sa.Column("redirect_count", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("parse_note", sa.Text(), nullable=True))
    op.execute("UPDATE sources SET listed_url = url")
    with op.batch_alter_table("sources") as batch:
        batch.alter_column("listed_url", existing_type=sa.String(length=2000), nullable=False)
        batch.create_unique_constraint("uq_sources_listed_url", ["listed_url"])

    with op.batch_alter_table("entries") as batch:
        batch.add_column(sa.Column("fingerprint", sa.String(length=32), nullable=False, server_default=""))
        batch.add_column(sa.Column("language", sa.String(length=8), nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("submitted_by", sa.String(length=200), nullable=True))
        batch.create_index("ix_entries_fingerprint", ["fingerprint"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("entries") as batch:
        batch.drop_index("ix_entries_fingerprint")
        for name in ("submitted_by", "retry_at", "attempts", "language", "fingerprint"):
            batch.drop_column(name)
    with op.batch_alter_table("sources") as batch:
        batch.drop_constraint("uq_sources_listed_url", type_="unique")
        for name in (
            "parse_note",
            "redirect_count",
            "redirect_url",
            "typical_gap_minutes",
            "poll_minutes",
            "failing_since",
            "listed_url",
        ):
            batch.drop_column(name)
