"""verdicts: people's judgements of alerts, kept as training labels

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "verdicts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("article_id", sa.Integer(), sa.ForeignKey("articles.id"), nullable=False),
        sa.Column("alert_id", sa.Integer(), sa.ForeignKey("alerts.id"), nullable=True),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("relevant", sa.Boolean(), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("by", sa.String(200), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_verdicts_article_id", "verdicts", ["article_id"])
    op.create_index("ix_verdicts_alert_id", "verdicts", ["alert_id"])


def downgrade() -> None:
    op.drop_index("ix_verdicts_alert_id", table_name="verdicts")
    op.drop_index("ix_verdicts_article_id", table_name="verdicts")
    op.drop_table("verdicts")
