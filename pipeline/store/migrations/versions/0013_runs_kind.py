"""runs by kind: an index for the service's questions

``mediawatch run`` records every job run in ``runs`` (kind = job name) and asks for each kind's
latest run, its running row and the totals row on every heartbeat, ``/metrics`` scrape and
``mediawatch status``; with months of runs those were full scans. A new index only.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-21
"""

from __future__ import annotations

from alembic import op


revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_runs_kind_id", "runs", ["kind", "id"])


def downgrade() -> None:
    op.drop_index("ix_runs_kind_id", table_name="runs")
