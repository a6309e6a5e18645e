"""Database tables (SQLAlchemy 2 declarative). Changes go through an Alembic migration."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    UniqueConstraint,
)
from sqlalchemy import String as PlainString
from sqlalchemy import Text as PlainText
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC; always gives back aware UTC datetimes (SQLite too)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use UTC-aware datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


INTEGER_MAX = 2**31 - 1  # PostgreSQL's INTEGER (SQLite's own limit is 2**63 - 1)


class CheckedInteger(TypeDecorator[int]):
    """An INTEGER that refuses a value it cannot hold with OverflowError before the query runs,
    on every backend alike (sqlite3 does so itself beyond 64 bits; PostgreSQL would fail the
    statement beyond 32): an id from a URL that large names nothing, and the web app says 404."""

    impl = Integer
    cache_ok = True

    def process_bind_param(self, value: int | None, dialect: Dialect) -> int | None:
        if isinstance(value, int) and not -INTEGER_MAX - 1 <= value <= INTEGER_MAX:
            raise OverflowError(f"{value} is out of range for an INTEGER column")
        return value


class _WithoutNul(TypeDecorator[str]):
    """Text is stored without NUL characters, on every backend alike: PostgreSQL refuses them
    outright (a page or a query string carrying one would fail the statement), SQLite would
    keep them. Anywhere else they are noise, never content."""

    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return value.replace("\x00", "") if isinstance(value, str) and "\x00" in value else value


class String(_WithoutNul):
    impl = PlainString
    cache_ok = True  # read from each class itself


class Text(_WithoutNul):
    impl = PlainText
    cache_ok = True


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        int: CheckedInteger,
        str: String,
        dict[str, Any]: JSON,
        list[Any]: JSON,
        datetime: UTCDateTime,
    }


class Outlet(Base):
    __tablename__ = "outlets"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(8))
    reach: Mapped[int] = mapped_column(Integer, default=3)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Source(Base):
    __tablename__ = "sources"
    id: Mapped[int] = mapped_column(primary_key=True)
    outlet_id: Mapped[str] = mapped_column(ForeignKey("outlets.id"), index=True)
    # the URL in feeds.yaml (how sync finds the row); ``url`` is where it is fetched now
    listed_url: Mapped[str] = mapped_column(String(2000), unique=True)
    url: Mapped[str] = mapped_column(String(2000), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default="feed")
    section: Mapped[str | None] = mapped_column(String(100))
    interval_minutes: Mapped[int] = mapped_column(Integer, default=30)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    etag: Mapped[str | None] = mapped_column(String(500))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    next_check_at: Mapped[datetime | None] = mapped_column(index=True)
    last_checked_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_new_item_at: Mapped[datetime | None]
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    failing_since: Mapped[datetime | None]
    poll_minutes: Mapped[float | None] = mapped_column(Float)  # the adapted interval
    typical_gap_minutes: Mapped[float | None] = mapped_column(Float)  # between its new items
    redirect_url: Mapped[str | None] = mapped_column(String(2000))
    redirect_count: Mapped[int] = mapped_column(Integer, default=0)
    parse_note: Mapped[str | None] = mapped_column(Text)  # why the last feed was malformed


class Entry(Base):
    __tablename__ = "entries"
    __table_args__ = (UniqueConstraint("source_id", "guid"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"), index=True)
    guid: Mapped[str] = mapped_column(String(2000))
    url: Mapped[str] = mapped_column(String(2000))
    canonical_url: Mapped[str] = mapped_column(String(2000), index=True)
    title: Mapped[str] = mapped_column(Text, default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    fingerprint: Mapped[str] = mapped_column(String(32), default="", index=True)
    language: Mapped[str | None] = mapped_column(String(8))
    published_at: Mapped[datetime | None]
    date_flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    fetched_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="new", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    retry_at: Mapped[datetime | None]
    submitted_by: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(Text)
    article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id"))


class Cluster(Base):
    __tablename__ = "clusters"
    id: Mapped[int] = mapped_column(primary_key=True)
    originator: Mapped[str | None] = mapped_column(String(100))  # the agency ("The Canadian Press")
    # the copy treated as the original (agency credit first, then earliest published)
    origin_article_id: Mapped[int | None] = mapped_column(
        ForeignKey("articles.id", use_alter=True, name="fk_clusters_origin_article_id")
    )
    created_at: Mapped[datetime]


class Article(Base):
    __tablename__ = "articles"
    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000), unique=True)
    outlet_id: Mapped[str] = mapped_column(ForeignKey("outlets.id"), index=True)
    title: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text, default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    published_at: Mapped[datetime | None] = mapped_column(index=True)
    language: Mapped[str | None] = mapped_column(String(8))
    authors: Mapped[list[Any]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(16), default="ok")
    wire_agency: Mapped[str | None] = mapped_column(String(100))
    cluster_id: Mapped[int | None] = mapped_column(ForeignKey("clusters.id"), index=True)
    section: Mapped[str | None] = mapped_column(String(200))
    updated_on: Mapped[date | None] = mapped_column(Date)  # the page's "updated" date, if later
    paywalled: Mapped[bool] = mapped_column(Boolean, default=False)
    # partial: the page gave less than a full article (paywall, teaser shorter than the feed
    # summary, unreadable page); ``text`` then holds the longer of page text and feed summary
    partial: Mapped[bool] = mapped_column(Boolean, default=False)
    partial_reason: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    first_seen_at: Mapped[datetime]
    last_fetched_at: Mapped[datetime]
    # revision tracking: how many scheduled re-fetches are done, and when the next one is due
    revisit_step: Mapped[int] = mapped_column(Integer, default=0)
    next_revisit_at: Mapped[datetime | None] = mapped_column(index=True)


class ArticleVersion(Base):
    __tablename__ = "article_versions"
    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"), index=True)
    fetched_at: Mapped[datetime]
    title: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text, default="")
    content_hash: Mapped[str] = mapped_column(String(64))
    diff: Mapped[str | None] = mapped_column(Text)
    correction_note: Mapped[bool] = mapped_column(Boolean, default=False)


class RawPage(Base):
    """An article page as fetched (gzip-compressed), kept as evidence for a retention period."""

    __tablename__ = "raw_pages"
    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"), index=True)
    version_id: Mapped[int | None] = mapped_column(ForeignKey("article_versions.id"))
    fetched_at: Mapped[datetime] = mapped_column(index=True)
    url: Mapped[str] = mapped_column(String(2000))
    http_status: Mapped[int] = mapped_column(Integer)
    content_type: Mapped[str] = mapped_column(String(200), default="")
    size: Mapped[int] = mapped_column(Integer)  # bytes before compression
    sha256: Mapped[str] = mapped_column(String(64))
    body: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)  # gzip, loaded when asked for


class ScoreRow(Base):
    __tablename__ = "scores"
    __table_args__ = (UniqueConstraint("article_id", "model_version", "content_hash"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"), index=True)
    model_version: Mapped[str] = mapped_column(String(64))
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    relevant: Mapped[bool] = mapped_column(Boolean)
    relevance: Mapped[float] = mapped_column(Float)
    categories: Mapped[dict[str, Any]] = mapped_column(default=dict)
    alert: Mapped[bool] = mapped_column(Boolean)
    kind: Mapped[str | None] = mapped_column(String(16))
    severity: Mapped[float] = mapped_column(Float)
    evidence: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime]
    # counts the coverage report sums (pipeline.facts); None before migration 0011
    facts: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), nullable=True)


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_status_priority", "status", "priority"),
        # the queue: priority order, with what its filters need, read from the index alone
        Index("ix_alerts_queue", "priority", "id", "status", "kind", "article_id"),
        # the queue filtered by outlet and/or language: each led by its filters, then priority
        Index("ix_alerts_outlet_queue", "outlet_id", "priority", "id", "status", "kind"),
        Index("ix_alerts_outlet_language_queue", "outlet_id", "language", "priority", "id", "status", "kind"),
        Index("ix_alerts_language_queue", "language", "priority", "id", "status", "kind"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"), unique=True)
    score_id: Mapped[int] = mapped_column(ForeignKey("scores.id"))
    status: Mapped[str] = mapped_column(String(16), default="new", index=True)
    kind: Mapped[str] = mapped_column(String(16))
    severity: Mapped[float] = mapped_column(Float)
    priority: Mapped[float] = mapped_column(Float, index=True)
    categories: Mapped[list[Any]] = mapped_column(default=list)
    summary: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    explanation: Mapped[str | None] = mapped_column(Text)  # the analyst's words, shown to responders
    triaged_by: Mapped[str | None] = mapped_column(String(200))
    triaged_at: Mapped[datetime | None]
    dismiss_reason: Mapped[str | None] = mapped_column(Text)
    merged_into: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"))
    letter_cap: Mapped[int] = mapped_column(Integer, default=3)  # letters to the outlet, at most
    claims_taken: Mapped[int] = mapped_column(Integer, default=0)  # active claims + letters sent
    letters_sent: Mapped[int] = mapped_column(Integer, default=0)
    first_sent_at: Mapped[datetime | None]
    # the article's outlet and language, copied for the queue's filters (they never change)
    outlet_id: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(8))


class AlertCategory(Base):
    """One of an alert's categories, with copies of the alert's priority, outlet and language:
    the queue filtered by category walks these in priority order. Kept by create_alert, merge
    (categories) and reprioritise (priority)."""

    __tablename__ = "alert_categories"
    __table_args__ = (
        Index("ix_alert_categories_queue", "category", "priority", "alert_id"),
        Index("ix_alert_categories_outlet_queue", "category", "outlet_id", "priority", "alert_id"),
        Index(
            "ix_alert_categories_outlet_language_queue",
            "category",
            "outlet_id",
            "language",
            "priority",
            "alert_id",
        ),
        Index("ix_alert_categories_language_queue", "category", "language", "priority", "alert_id"),
    )
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), primary_key=True)
    category: Mapped[str] = mapped_column(String(64), primary_key=True)
    priority: Mapped[float] = mapped_column(Float)
    outlet_id: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(8))


class Letter(Base):
    __tablename__ = "letters"
    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    is_draft: Mapped[bool] = mapped_column(Boolean, default=True)
    language: Mapped[str] = mapped_column(String(8))
    recipient: Mapped[str | None] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    word_count: Mapped[int] = mapped_column(Integer)
    word_limit: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    shared: Mapped[bool] = mapped_column(Boolean, default=False)  # other responders may read it
    updated_at: Mapped[datetime | None]


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16), default="responder")
    password_hash: Mapped[str | None] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(8), default="en")
    created_at: Mapped[datetime]
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    feed_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, index=True)
    notify_digest: Mapped[bool] = mapped_column(Boolean, default=True)
    notify_immediate: Mapped[bool] = mapped_column(Boolean, default=True)
    last_login_at: Mapped[datetime | None]


class SessionRow(Base):
    __tablename__ = "sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the cookie's token
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class Invitation(Base):
    __tablename__ = "invitations"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(16))
    invited_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]


class LoginFailure(Base):
    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_key_at", "key", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(400))  # "email:..." or "ip:..."
    at: Mapped[datetime]


class Notification(Base):
    """Something sent once (a digest, an immediate notice, a reminder), keyed so it never repeats."""

    __tablename__ = "notifications"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    sent_at: Mapped[datetime]
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Claim(Base):
    __tablename__ = "claims"
    __table_args__ = (Index("ux_claims_alert_user", "alert_id", "user_id", unique=True),)
    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    claimed_at: Mapped[datetime]
    released_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | sent | released
    sent_at: Mapped[datetime | None]
    letter_id: Mapped[int | None] = mapped_column(ForeignKey("letters.id"))


class Outcome(Base):
    __tablename__ = "outcomes"
    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text, default="")
    confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    version_id: Mapped[int | None] = mapped_column(ForeignKey("article_versions.id"))
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]


class Verdict(Base):
    """A person's judgement of an alert, kept as a training label for the classifier."""

    __tablename__ = "verdicts"
    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"), index=True)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"), index=True)
    verdict: Mapped[str] = mapped_column(String(16))  # valid | not_valid | wrong_category
    relevant: Mapped[bool] = mapped_column(Boolean, default=True)
    categories: Mapped[list[Any]] = mapped_column(default=list)  # the categories that do apply
    by: Mapped[str] = mapped_column(String(200))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_object", "object_type", "object_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Run(Base):
    __tablename__ = "runs"
    __table_args__ = (Index("ix_runs_kind_id", "kind", "id"),)  # latest run of each job
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default="running")
    stats: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str | None] = mapped_column(Text)


class TaskLease(Base):
    """Distributed mode: work handed to a worker and not yet finished (kept until it is done).
    A lease past ``leased_until`` (worker killed, broker lost its queue) is enqueued again;
    ``attempts`` counts task starts, so an item that keeps killing workers ends in quarantine."""

    __tablename__ = "task_leases"
    task: Mapped[str] = mapped_column(String(32), primary_key=True)  # poll | fetch | score | revisit
    item_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(36))  # the message that holds it
    leased_until: Mapped[datetime] = mapped_column(index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]


class QuarantineItem(Base):
    """A poison input: an item whose task failed too often or with an error retrying cannot fix.
    It waits here, out of the queue, until an admin replays or drops it."""

    __tablename__ = "quarantine"
    __table_args__ = (UniqueConstraint("task", "item_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    task: Mapped[str] = mapped_column(String(32))
    item_id: Mapped[int] = mapped_column(Integer)
    args: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str] = mapped_column(Text, default="")
    traceback: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    first_failed_at: Mapped[datetime]
    quarantined_at: Mapped[datetime] = mapped_column(index=True)
