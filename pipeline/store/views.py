"""Read-only views the store hands out: plain dataclasses, detached from sessions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any


@dataclass(slots=True)
class DueSource:
    id: int
    outlet_id: str
    url: str
    kind: str
    interval_minutes: int
    etag: str | None = None
    last_modified: str | None = None
    error_count: int = 0
    poll_minutes: float | None = None
    typical_gap_minutes: float | None = None
    redirect_url: str | None = None
    redirect_count: int = 0


@dataclass(slots=True)
class PollRecord:
    """What one poll of a source changed: health, validators, schedule, redirect tracking."""

    status: int
    error: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    new_items: int = 0
    next_check: datetime | None = None
    poll_minutes: float | None = None
    typical_gap_minutes: float | None = None
    parse_note: str | None = None
    permanent_redirect: str | None = None
    deferred: bool = False  # the host asked us to wait: not an error, not a success


@dataclass(slots=True)
class PendingEntry:
    id: int
    outlet_id: str
    url: str
    canonical_url: str
    title: str
    summary: str
    published_at: datetime | None
    attempts: int = 0
    submitted_by: str | None = None


@dataclass(slots=True)
class RevisitOutcome:
    changed: bool
    version_id: int | None = None
    outcome_id: int | None = None  # a candidate "article amended" outcome


@dataclass(slots=True)
class RevisitTarget:
    article_id: int
    url: str
    title: str
    text: str
    content_hash: str
    outlet_id: str = ""
    summary: str = ""  # the feed's summary, kept when the page gives less


@dataclass(slots=True)
class StoredText:
    article_id: int
    url: str
    outlet_id: str
    title: str
    text: str
    language: str | None


@dataclass(slots=True)
class WireMember:
    article_id: int
    title: str
    url: str
    outlet_id: str
    outlet_name: str


@dataclass(slots=True)
class WireCopy:
    """One wire story as it ran in several outlets."""

    cluster_id: int
    agency: str | None  # "The Canadian Press", from bylines and datelines
    origin_article_id: int | None  # the copy treated as the original
    copies: list[WireMember]  # every copy, first seen first

    @property
    def origin(self) -> WireMember | None:
        return next((c for c in self.copies if c.article_id == self.origin_article_id), None)

    def republishers(self, besides: int | None = None) -> list[WireMember]:
        """Copies other than the original (and other than *besides*)."""
        return [c for c in self.copies if c.article_id not in (self.origin_article_id, besides)]

    def as_dict(self) -> dict[str, Any]:
        origin = self.origin
        return {
            "cluster_id": self.cluster_id,
            "agency": self.agency,
            "origin": _member(origin) if origin else None,
            "republishers": [_member(c) for c in self.republishers()],
        }


def _member(m: WireMember) -> dict[str, Any]:
    return {
        "article_id": m.article_id,
        "title": m.title,
        "url": m.url,
        "outlet": m.outlet_id,
        "outlet_name": m.outlet_name,
    }


@dataclass(slots=True)
class AlertView:
    id: int
    status: str
    kind: str
    severity: float
    priority: float
    categories: list[str]
    summary: str
    created_at: datetime
    article_id: int
    title: str
    url: str
    outlet_id: str
    outlet_name: str
    language: str | None
    published_at: datetime | None
    partial: bool = False  # the article text is incomplete (paywall, teaser)
    explanation: str | None = None  # the analyst's words for responders
    letter_cap: int = 3
    claims_taken: int = 0  # active claims + letters sent: never above letter_cap
    letters_sent: int = 0
    first_sent_at: datetime | None = None
    merged_into: int | None = None
    dismiss_reason: str | None = None
    triaged_by: str | None = None

    @property
    def slots_left(self) -> int:
        return max(0, self.letter_cap - self.claims_taken)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "explanation": self.explanation,
            "letters": {
                "cap": self.letter_cap,
                "claimed_or_sent": self.claims_taken,
                "sent": self.letters_sent,
                "first_sent": self.first_sent_at.isoformat() if self.first_sent_at else None,
            },
            "merged_into": self.merged_into,
            "dismiss_reason": self.dismiss_reason,
            "triaged_by": self.triaged_by,
            "kind": self.kind,
            "severity": round(self.severity, 4),
            "priority": round(self.priority, 4),
            "categories": self.categories,
            "summary": self.summary,
            "created_at": self.created_at.isoformat(),
            "article": {
                "id": self.article_id,
                "title": self.title,
                "url": self.url,
                "outlet": self.outlet_id,
                "outlet_name": self.outlet_name,
                "language": self.language,
                "published": self.published_at.isoformat() if self.published_at else None,
                "partial": self.partial,
            },
        }


@dataclass(slots=True)
class LetterView:
    id: int
    language: str
    recipient: str | None
    subject: str
    body: str
    word_count: int
    word_limit: int | None
    is_draft: bool
    user_id: int | None = None  # None: the pipeline's suggested draft
    author: str | None = None
    shared: bool = False
    sent_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "language": self.language,
            "recipient": self.recipient,
            "subject": self.subject,
            "body": self.body,
            "word_count": self.word_count,
            "word_limit": self.word_limit,
            "draft": self.is_draft,
            "suggested": self.user_id is None,
            "author": self.author,
            "shared": self.shared,
            "sent_at": self.sent_at.isoformat() if self.sent_at else None,
        }


@dataclass(slots=True)
class AlertDetail:
    alert: AlertView
    text: str
    evidence: list[dict[str, Any]]
    scores: dict[str, float]
    relevance: float
    letters: list[LetterView] = field(default_factory=list)
    outlet_config: dict[str, Any] = field(default_factory=dict)
    wire: WireCopy | None = None  # the wire story, when the article is one of several copies
    wire_agency: str | None = None  # the agency credited on this copy
    page: ArticlePage | None = None

    @property
    def republishers(self) -> list[WireMember]:
        """Other outlets' copies of the same wire story."""
        if self.wire is None:
            return []
        return [c for c in self.wire.copies if c.article_id != self.alert.article_id]

    def as_dict(self) -> dict[str, Any]:
        out = self.alert.as_dict()
        out["article"]["text"] = self.text
        out["article"]["wire_agency"] = self.wire_agency
        if self.page is not None:
            out["article"].update(self.page.as_dict())
        out.update(
            evidence=self.evidence,
            relevance=round(self.relevance, 4),
            scores={k: round(v, 4) for k, v in self.scores.items()},
            letters=[x.as_dict() for x in self.letters],
            wire=self.wire.as_dict() if self.wire else None,
            republished_by=[_member(c) for c in self.republishers],
        )
        return out


@dataclass(slots=True)
class ArticlePage:
    """What the page gave: whether the text is partial, its section and updated date."""

    section: str | None
    updated_on: date | None
    paywalled: bool
    partial: bool
    partial_reason: str | None
    status: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "section": self.section,
            "updated": self.updated_on.isoformat() if self.updated_on else None,
            "paywalled": self.paywalled,
            "partial": self.partial,
            "partial_reason": self.partial_reason,
            "extraction_status": self.status,
        }
