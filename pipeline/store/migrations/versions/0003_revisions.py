"""revision tracking: revisit schedule per article, correction flags, outcomes linked to versions

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.add_column(sa.Column("revisit_step", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("next_revisit_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_articles_next_revisit_at", ["next_revisit_at"], unique=False)
    with op.batch_alter_table("article_versions") as batch:
        batch.add_column(sa.Column("correction_note", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("outcomes") as batch:
        batch.add_column(sa.Column("version_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_outcomes_version_id", "article_versions", ["version_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("outcomes") as batch:
        batch.drop_constraint("fk_outcomes_version_id", type_="foreignkey")
        batch.drop_column("version_id")
    with op.batch_alter_table("article_versions") as batch:
        batch.drop_column("correction_note")
    with op.batch_alter_table("articles") as batch:
        batch.drop_index("ix_articles_next_revisit_at")
        batch.drop_column("next_revisit_at")
        batch.drop_column("revisit_step")
