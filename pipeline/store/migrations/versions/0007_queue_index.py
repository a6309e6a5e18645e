"""queue index: the alert queue walks priority order and filters on the index alone

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_alerts_queue", "alerts", ["priority", "id", "status", "kind", "article_id"])


def downgrade() -> None:
    op.drop_index("ix_alerts_queue", table_name="alerts")
