"""score facts: the per-article counts coverage reports sum

``scores.facts`` holds, for a relevant article, its casualty sentences by victim (and how many
name no perpetrator) and its attributed quotes by side (``pipeline.facts``), computed once when
the article is scored, so a report over a million articles sums them in SQL instead of running
the casualty model again. NULL for scores made before this revision (the report computes those
at report time). A new nullable column only: no table is copied.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("scores", sa.Column("facts", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("scores") as batch:
        batch.drop_column("facts")
