"""Scored article -> alert draft: evidence, priority and a letter within the outlet's limit."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .letters import LABELS, LetterContext, LetterTemplates, TalkingPoints, short_quote
from .records import AlertDraft, Evidence, LetterDraft, Score
from .sentences import split_sentences

MAX_EVIDENCE = 12
QUOTE_STEPS = (35, 25, 15, 8)
log = logging.getLogger(__name__)
RECENCY_HALF_LIFE_DAYS = 3.0
PRAISE_WEIGHT = 0.6


@dataclass(slots=True)
class ArticleInfo:
    title: str
    text: str
    url: str
    published: datetime | None
    language: str
    wire_agency: str | None = None
    republishers: tuple[str, ...] = ()


def priority(
    severity: float, reach: int, published: datetime | None, now: datetime, kind: str = "complaint"
) -> float:
    """Severity, weighted by outlet reach (1-5) and halved every few days of age. Thank-you
    letters matter, but a complaint about the same article comes first."""
    age_days = max(0.0, (now - published).total_seconds() / 86400) if published else 0.0
    recency = math.pow(0.5, age_days / RECENCY_HALF_LIFE_DAYS)
    weight = PRAISE_WEIGHT if kind == "praise" else 1.0
    return weight * severity * (0.5 + 0.1 * reach) * (0.5 + 0.5 * recency)


def sentence_around(text: str, start: int, end: int) -> str:
    for a, b in split_sentences(text):
        if a <= start < b:
            return text[a : max(b, end)]
    return text[start:end]


def _issue(ev: Evidence, art: ArticleInfo, quote_words: int) -> dict[str, Any]:
    body = art.title if ev.field == "title" else art.text
    return {
        "category": ev.category,
        "quote": short_quote(sentence_around(body, ev.start, ev.end), quote_words),
        "match": ev.quote,
        "explanation": ev.explanation,
        "replacement": ev.replacement,
    }


def _issues(score: Score, art: ArticleInfo, categories: list[str], quote_words: int) -> list[dict[str, Any]]:
    """One issue per category (strongest first), from its first evidence."""
    out = []
    for cat in categories:
        ev = next((e for e in score.evidence if e.category == cat), None)
        if ev is not None:
            out.append(_issue(ev, art, quote_words))
    return out


def recipient(outlet: dict[str, Any]) -> str | None:
    letters = outlet.get("letters") or {}
    if letters.get("email"):
        return str(letters["email"])
    routes = outlet.get("complaint_routes") or []
    return str(routes[0].get("contact")) if routes and routes[0].get("contact") else None


def _categories(score: Score) -> list[str]:
    """The categories the alert is about: strongest first, each with evidence."""
    if score.kind == "praise":
        return ["good_coverage"]
    ranked = sorted(score.categories.items(), key=lambda kv: -kv[1])
    return [c for c, _p in ranked if c != "good_coverage" and any(e.category == c for e in score.evidence)]


def write_letter(
    score: Score,
    art: ArticleInfo,
    outlet: dict[str, Any],
    wanted: list[str],
    templates: LetterTemplates,
    points: TalkingPoints,
) -> LetterDraft:
    """The letter in the article's language, with shorter quotes until it fits the limit."""
    lang = art.language if art.language in LABELS else "en"
    limit = (outlet.get("letters") or {}).get("word_limit")
    for words in QUOTE_STEPS:
        ctx = LetterContext(
            kind=str(score.kind),
            language=lang,
            outlet=outlet,
            recipient=recipient(outlet),
            article={
                "title": art.title,
                "url": art.url,
                "published": art.published.date().isoformat() if art.published else "",
            },
            issues=_issues(score, art, wanted, words),
            talking_points=[tp.model_dump() for tp in points.for_categories(lang, wanted)],
            wire={"agency": art.wire_agency, "republishers": list(art.republishers)}
            if art.wire_agency
            else None,
        )
        letter = templates.render(ctx, limit)
        if not limit or letter.word_count <= limit:
            break
    return letter


def draft_alert(
    score: Score,
    art: ArticleInfo,
    outlet: dict[str, Any],
    templates: LetterTemplates,
    points: TalkingPoints,
    now: datetime | None = None,
) -> AlertDraft | None:
    """The alert for an alerting score, or None when the score raises none."""
    if not score.alert or score.kind is None:
        return None
    wanted = _categories(score)
    if not _issues(score, art, wanted, QUOTE_STEPS[0]):
        log.warning("alert skipped: nothing to quote article=%s", art.url)
        return None
    now = now or datetime.now(UTC)
    labels = ", ".join(LABELS["en"][c] for c in wanted[:3])
    summary = f"{score.kind}: {labels}"
    if art.wire_agency:
        also = f"; also in {len(art.republishers)} other outlet(s)" if art.republishers else ""
        summary += f" (wire copy from {art.wire_agency}: write to the agency too{also})"
    return AlertDraft(
        kind=score.kind,
        severity=score.severity,
        priority=priority(score.severity, int(outlet.get("reach", 3)), art.published, now, score.kind),
        categories=wanted,
        summary=summary,
        evidence=[e for e in score.evidence if e.category in wanted][:MAX_EVIDENCE],
        letter=write_letter(score, art, outlet, wanted, templates, points),
    )
