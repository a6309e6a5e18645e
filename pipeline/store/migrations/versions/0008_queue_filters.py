"""queue filters: alerts carry their article's outlet and language, categories get their own table

The queue filtered by outlet, language or category walks an index led by the filter, in
priority order, instead of every alert. Existing rows are filled in: outlet and language from
the alert's article, one alert_categories row per category in the alert's JSON list (read in
Python, in batches: SQLite and PostgreSQL spell JSON functions differently).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-21
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BATCH = 5000


def upgrade() -> None:
    op.add_column("alerts", sa.Column("outlet_id", sa.String(64), nullable=True))
    op.add_column("alerts", sa.Column("language", sa.String(8), nullable=True))
    op.create_table(
        "alert_categories",
        sa.Column("alert_id", sa.Integer(), sa.ForeignKey("alerts.id"), primary_key=True),
        sa.Column("category", sa.String(64), primary_key=True),
        sa.Column("priority", sa.Float(), nullable=False),
        sa.Column("outlet_id", sa.String(64), nullable=True),
        sa.Column("language", sa.String(8), nullable=True),
    )
    _backfill()
    op.create_index("ix_alerts_outlet_queue", "alerts", ["outlet_id", "priority", "id", "status", "kind"])
    op.create_index(
        "ix_alerts_outlet_language_queue",
        "alerts",
        ["outlet_id", "language", "priority", "id", "status", "kind"],
    )
    op.create_index("ix_alerts_language_queue", "alerts", ["language", "priority", "id", "status", "kind"])
    op.create_index("ix_alert_categories_queue", "alert_categories", ["category", "priority", "alert_id"])
    op.create_index(
        "ix_alert_categories_outlet_queue",
        "alert_categories",
        ["category", "outlet_id", "priority", "alert_id"],
    )
    op.create_index(
        "ix_alert_categories_outlet_language_queue",
        "alert_categories",
        ["category", "outlet_id", "language", "priority", "alert_id"],
    )
    op.create_index(
        "ix_alert_categories_language_queue",
        "alert_categories",
        ["category", "language", "priority", "alert_id"],
    )


def _backfill() -> None:
    conn = op.get_bind()
    conn.execute(
        sa.text(
            "UPDATE alerts SET"
            " outlet_id = (SELECT articles.outlet_id FROM articles WHERE articles.id = alerts.article_id),"
            " language = (SELECT articles.language FROM articles WHERE articles.id = alerts.article_id)"
        )
    )
    alerts = sa.table(
        "alerts",
        sa.column("id", sa.Integer()),
        sa.column("categories", sa.JSON()),  # the dialect's JSON type decodes the list
        sa.column("priority", sa.Float()),
        sa.column("outlet_id", sa.String()),
        sa.column("language", sa.String()),
    )
    categories = sa.table(
        "alert_categories",
        sa.column("alert_id", sa.Integer()),
        sa.column("category", sa.String()),
        sa.column("priority", sa.Float()),
        sa.column("outlet_id", sa.String()),
        sa.column("language", sa.String()),
    )
    last = 0
    while True:
        rows = conn.execute(
            sa.select(alerts.c.id, alerts.c.categories, alerts.c.priority, alerts.c.outlet_id, alerts.c.language)
            .where(alerts.c.id > last)
            .order_by(alerts.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        batch: list[dict[str, Any]] = [
            {"alert_id": a, "category": c, "priority": p, "outlet_id": o, "language": lang}
            for a, cats, p, o, lang in rows
            for c in dict.fromkeys(cats or [])
        ]
        if batch:
            conn.execute(sa.insert(categories), batch)
        last = rows[-1][0]


def downgrade() -> None:
    for name in (
        "ix_alert_categories_language_queue",
        "ix_alert_categories_outlet_language_queue",
        "ix_alert_categories_outlet_queue",
        "ix_alert_categories_queue",
    ):
        op.drop_index(name, table_name="alert_categories")
    op.drop_table("alert_categories")
    for name in ("ix_alerts_language_queue", "ix_alerts_outlet_language_queue", "ix_alerts_outlet_queue"):
        op.drop_index(name, table_name="alerts")
    with op.batch_alter_table("alerts") as b:
        b.drop_column("language")
        b.drop_column("outlet_id")
