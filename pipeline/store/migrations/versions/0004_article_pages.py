"""article pages: partial text flags, section and updated date, raw pages, cluster originals

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.add_column(sa.Column("section", sa.String(200), nullable=True))
        batch.add_column(sa.Column("updated_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("paywalled", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("partial", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("partial_reason", sa.Text(), nullable=True))
    with op.batch_alter_table("clusters") as batch:
        batch.add_column(sa.Column("origin_article_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_clusters_origin_article_id", "articles", ["origin_article_id"], ["id"])
    op.create_table(
        "raw_pages",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("article_id", sa.Integer(), sa.ForeignKey("articles.id"), nullable=False),
        sa.Column("version_id", sa.Integer(), sa.ForeignKey("article_versions.id"), nullable=True),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(200), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_raw_pages_article_id", "raw_pages", ["article_id"])
    op.create_index("ix_raw_pages_fetched_at", "raw_pages", ["fetched_at"])


def downgrade() -> None:
    op.drop_index("ix_raw_pages_fetched_at", table_name="raw_pages")
    op.drop_index("ix_raw_pages_article_id", table_name="raw_pages")
    op.drop_table("raw_pages")
    with op.batch_alter_table("clusters") as batch:
        batch.drop_constraint("fk_clusters_origin_article_id", type_="foreignkey")
        batch.drop_column("origin_article_id")
    with op.batch_alter_table("articles") as batch:
        for column in ("partial_reason", "partial", "paywalled", "updated_on", "section"):
            batch.drop_column(column)
