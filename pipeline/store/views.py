"""Read-only views the store hands out: plain dataclasses, detached from sessions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
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

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
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


@dataclass(slots=True)
class AlertDetail:
    alert: AlertView
    text: str
    evidence: list[dict[str, Any]]
    scores: dict[str, float]
    relevance: float
    letters: list[LetterView] = field(default_factory=list)
    outlet_config: dict[str, Any] = field(default_factory=dict)
    cluster: list[dict[str, Any]] = field(default_factory=list)
    wire_agency: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out = self.alert.as_dict()
        out["article"]["text"] = self.text
        out["article"]["wire_agency"] = self.wire_agency
        out.update(
            evidence=self.evidence,
            relevance=round(self.relevance, 4),
            scores={k: round(v, 4) for k, v in self.scores.items()},
            letters=[
                {
                    "id": x.id,
                    "language": x.language,
                    "recipient": x.recipient,
                    "subject": x.subject,
                    "body": x.body,
                    "word_count": x.word_count,
                    "word_limit": x.word_limit,
                    "draft": x.is_draft,
                }
                for x in self.letters
            ],
            republished_by=self.cluster,
        )
        return out
