"""Plain records exchanged between stages.

Stage modules take and return these dataclasses; only ``store`` turns them into rows.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from isal import igzip

CATEGORIES: tuple[str, ...] = (
    "agentless_casualties",
    "casualty_doubt",
    "missing_context",
    "one_sided_sourcing",
    "loaded_language",
    "dehumanization",
    "protest_smear",
    "islamophobia",
    "double_standard",
    "headline_framing",
    "factual_error",
    "good_coverage",
)
ALERT_STATUSES: tuple[str, ...] = ("new", "open", "claimed", "sent", "closed", "dismissed", "merged")
"""Every alert state (the store moves alerts between them)."""
COMPLAINT_CATEGORIES: tuple[str, ...] = tuple(c for c in CATEGORIES if c != "good_coverage")


@dataclass(slots=True)
class FetchResult:
    """One HTTP exchange, as the fetch stage saw it."""

    url: str
    final_url: str
    status: int
    body: bytes = b""
    content_type: str = ""
    etag: str | None = None
    last_modified: str | None = None
    error: str | None = None
    elapsed: float = 0.0
    retry_after: float | None = None  # seconds the server asked us to wait (429/503)
    permanent_redirect: str | None = None  # where every hop was a 301/308, the final URL
    robots_blocked: bool = False  # not requested: robots.txt disallows it
    refused: bool = False  # refused for good by a guard, cap or content check (retrying won't help)

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def ok(self) -> bool:
        return self.error is None and 200 <= self.status < 300


@dataclass(slots=True)
class Entry:
    """A feed item, normalised."""

    guid: str
    url: str
    title: str
    summary: str = ""
    published: datetime | None = None
    date_flagged: bool = False
    authors: list[str] = field(default_factory=list)
    language: str | None = None


@dataclass(slots=True)
class FeedParse:
    entries: list[Entry]
    title: str = ""
    bozo: str | None = None


@dataclass(slots=True)
class Extracted:
    """Article text and metadata extracted from one page."""

    source: str
    title: str
    text: str
    published: str | None = None
    language: str | None = None
    authors: list[str] = field(default_factory=list)
    canonical_url: str | None = None
    status: str = "ok"  # ok | empty | no_article | paywalled | not_html | too_large | error
    updated: str | None = None  # YYYY-MM-DD, only when changed after publication
    section: str | None = None  # as the outlet names it ("World", "International")
    paywalled: bool = False  # the text is only what precedes a subscription prompt
    reason: str = ""  # one line: why the status is not ok, or what was repaired


@dataclass(frozen=True, slots=True)
class Selectors:
    """CSS selectors for one outlet's article pages (feeds.yaml ``extraction:``); false when empty.

    ``drop``: elements removed before extraction (related stories, newsletter boxes, promos...).
    ``body``: the element(s) holding the article text; metadata still comes from the whole page.
    """

    body: str | None = None
    drop: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.body or self.drop)


@dataclass(slots=True)
class Evidence:
    category: str
    quote: str
    start: int
    end: int
    source: str  # "rule:<id>" or "model"
    explanation: str = ""
    replacement: str | None = None
    field: str = "text"  # offsets are into the article's "title" or "text"

    def as_dict(self) -> dict[str, object]:
        return {
            "category": self.category,
            "quote": self.quote,
            "start": self.start,
            "end": self.end,
            "source": self.source,
            "field": self.field,
        }

    def as_stored(self) -> dict[str, object]:
        """The contract fields plus what analysts and letters need: explanation, replacement."""
        return self.as_dict() | {"explanation": self.explanation, "replacement": self.replacement}


@dataclass(slots=True)
class ScoreInput:
    id: str
    title: str
    text: str
    url: str | None = None
    outlet: str | None = None
    published: str | None = None
    language: str | None = None


@dataclass(slots=True)
class Score:
    """The score stage's verdict on one article (the `mediawatch score` contract)."""

    id: str
    relevant: bool
    relevance: float
    categories: dict[str, float]
    alert: bool
    kind: str | None  # "complaint" | "praise" | None
    severity: float
    evidence: list[Evidence] = field(default_factory=list)
    model_version: str = ""
    facts: dict[str, int] | None = None  # what coverage reports count (pipeline.facts); relevant only

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "relevant": self.relevant,
            "relevance": round(self.relevance, 4),
            "categories": {k: round(v, 4) for k, v in self.categories.items()},
            "alert": self.alert,
            "kind": self.kind,
            "severity": round(self.severity, 4),
            "evidence": [e.as_dict() for e in self.evidence],
        }


@dataclass(slots=True)
class SentenceLabel:
    id: str
    victim: str  # israeli | palestinian | both | neither
    responsible: str  # israel | hamas | both | neither
    text: str = ""
    # {"victim": {label: p}, "responsible": {label: p}} when the model labelled the sentence
    probabilities: dict[str, dict[str, float]] | None = None

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"id": self.id, "victim": self.victim, "responsible": self.responsible}
        if self.probabilities is not None:
            out["probabilities"] = self.probabilities
        return out


@dataclass(slots=True)
class LetterDraft:
    language: str
    kind: str
    subject: str
    body: str
    word_count: int
    word_limit: int | None
    recipient: str | None
    dropped_paragraphs: int = 0


@dataclass(slots=True)
class AlertDraft:
    """What the alert stage proposes for one scored article."""

    kind: str
    severity: float
    priority: float
    categories: list[str]
    summary: str
    evidence: list[Evidence]
    letter: LetterDraft


# Pages are compressed with ISA-L (``isal``: standard gzip, read back with the standard library)
# at its level 1: real article pages (the extraction benchmark's, 182 KB) 4.4x in 0.25 ms, bench
# pages (48 KB) 2.1x in 0.13 ms; the standard library's zlib at level 1 takes 1.0 and 0.48 ms for
# 4.3x and 2.0x, at level 6 2.8 ms for 5.2x.
GZIP_LEVEL = 1


@dataclass(slots=True)
class StoredPage:
    """A page as fetched, already compressed (``compress_page``), to store with its article."""

    url: str
    gz: bytes
    sha256: str
    size: int
    status: int
    content_type: str


def compress_page(body: bytes) -> tuple[bytes, str]:
    """A page as stored (gzip without a timestamp, so equal pages compress equally) and its SHA-256.
    (Here, not in the store, so that worker processes compress pages without loading SQLAlchemy.)"""
    return igzip.compress(body, GZIP_LEVEL, mtime=0), hashlib.sha256(body).hexdigest()
