"""workspace: accounts, sessions, invitations, triage, claims with caps, notifications

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("users") as b:
        b.add_column(sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()))
        b.add_column(sa.Column("feed_token_hash", sa.String(64), nullable=True))
        b.add_column(sa.Column("notify_digest", sa.Boolean(), nullable=False, server_default=sa.true()))
        b.add_column(sa.Column("notify_immediate", sa.Boolean(), nullable=False, server_default=sa.true()))
        b.add_column(sa.Column("last_login_at", TZ, nullable=True))
        b.create_index("ix_users_feed_token_hash", ["feed_token_hash"], unique=True)

    op.create_table(
        "sessions",
        sa.Column("id", sa.String(64), primary_key=True),  # sha256 of the cookie's token
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False, index=True),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False, index=True),
    )
    op.create_table(
        "invitations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("invited_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.Column("accepted_at", TZ, nullable=True),
    )
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(400), nullable=False),
        sa.Column("at", TZ, nullable=False),
    )
    op.create_index("ix_login_failures_key_at", "login_failures", ["key", "at"])

    with op.batch_alter_table("alerts") as b:
        b.add_column(sa.Column("explanation", sa.Text(), nullable=True))
        b.add_column(sa.Column("triaged_by", sa.String(200), nullable=True))
        b.add_column(sa.Column("triaged_at", TZ, nullable=True))
        b.add_column(sa.Column("dismiss_reason", sa.Text(), nullable=True))
        b.add_column(sa.Column("merged_into", sa.Integer(), sa.ForeignKey("alerts.id", name="fk_alerts_merged_into"), nullable=True))
        b.add_column(sa.Column("letter_cap", sa.Integer(), nullable=False, server_default="3"))
        b.add_column(sa.Column("claims_taken", sa.Integer(), nullable=False, server_default="0"))
        b.add_column(sa.Column("letters_sent", sa.Integer(), nullable=False, server_default="0"))
        b.add_column(sa.Column("first_sent_at", TZ, nullable=True))
        b.create_index("ix_alerts_status_priority", ["status", "priority"])

    with op.batch_alter_table("claims") as b:
        b.add_column(sa.Column("status", sa.String(16), nullable=False, server_default="active"))
        b.add_column(sa.Column("sent_at", TZ, nullable=True))
        b.add_column(sa.Column("letter_id", sa.Integer(), sa.ForeignKey("letters.id", name="fk_claims_letter_id"), nullable=True))
        b.create_index("ux_claims_alert_user", ["alert_id", "user_id"], unique=True)

    with op.batch_alter_table("letters") as b:
        b.add_column(sa.Column("shared", sa.Boolean(), nullable=False, server_default=sa.false()))
        b.add_column(sa.Column("updated_at", TZ, nullable=True))

    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(200), nullable=False, unique=True),  # what was sent to whom, once
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("sent_at", TZ, nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("notifications")
    with op.batch_alter_table("letters") as b:
        b.drop_column("updated_at")
        b.drop_column("shared")
    with op.batch_alter_table("claims") as b:
        b.drop_index("ux_claims_alert_user")
        b.drop_column("letter_id")
        b.drop_column("sent_at")
        b.drop_column("status")
    with op.batch_alter_table("alerts") as b:
        b.drop_index("ix_alerts_status_priority")
        for col in (
            "first_sent_at",
            "letters_sent",
            "claims_taken",
            "letter_cap",
            "merged_into",
            "dismiss_reason",
            "triaged_at",
            "triaged_by",
            "explanation",
        ):
            b.drop_column(col)
    op.drop_index("ix_login_failures_key_at", table_name="login_failures")
    op.drop_table("login_failures")
    op.drop_table("invitations")
    op.drop_table("sessions")
    with op.batch_alter_table("users") as b:
        b.drop_index("ix_users_feed_token_hash")
        for col in ("last_login_at", "notify_immediate", "notify_digest", "feed_token_hash", "active"):
            b.drop_column(col)
