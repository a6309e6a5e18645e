"""Full-text search over stored articles (title and text), for analysts.

SQLite uses the FTS5 table ``article_fts`` and PostgreSQL the GIN index over
``mw_article_tsv(title, text)`` (both built by migration 0009; 0012 makes PostgreSQL read plain
words as FTS5 does). Accents are ignored both ways. Snippets come from FTS5's snippet() on
SQLite and from ``make_snippet`` (the same shape) on PostgreSQL.

The query is untrusted: it is parsed here into terms and rebuilt in the engine's syntax with
every term quoted, so no input can raise a syntax error. Supported: words (all must match),
``"a phrase"``, ``a OR b``, and a prefix ``term*``. Other punctuation is read as a word
separator (``title:gaza`` looks for the words "title gaza" next to each other).

Filters (the export's): outlets, language, publication dates (both ends inclusive, UTC days),
categories (the article's alert carries one of them), minimum score (the severity of the
article's latest score) and alert status (its alert's).
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import exists, func, literal_column, select, table
from sqlalchemy.sql.elements import ColumnElement

from ..errors import InputError
from .base import StoreBase
from .schema import Alert, AlertCategory, Article, Outlet, ScoreRow

MARK_START = "\ue000"  # private-use characters around matches in a snippet (never HTML)
MARK_END = "\ue001"
MAX_QUERY = 500
MAX_TERMS = 24
MAX_LIMIT = 500
SNIPPET_TOKENS = 24

# Created by migration 0009 with raw SQL, so not in schema.py: comparisons with the metadata
# (tests/test_store.py, `alembic revision --autogenerate`) leave them out with `include_name`.
SEARCH_OBJECTS = frozenset(
    {
        "article_fts",
        "article_fts_data",
        "article_fts_idx",
        "article_fts_docsize",
        "article_fts_config",
        "article_fts_content",
        "ix_articles_fts",
    }
)


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Alembic ``include_name`` hook: skip the search index's tables and index."""
    return name not in SEARCH_OBJECTS


@dataclass(slots=True, frozen=True)
class SearchHit:
    article_id: int
    title: str
    url: str
    outlet_id: str
    outlet_name: str
    published_at: datetime | None
    language: str | None
    snippet: str  # plain text; matches between MARK_START and MARK_END
    rank: float  # higher is a better match
    alert_id: int | None

    @property
    def snippet_text(self) -> str:
        return self.snippet.replace(MARK_START, "").replace(MARK_END, "")

    @property
    def snippet_html(self) -> str:
        """The snippet escaped for HTML, matches in ``<mark>``."""
        return html.escape(self.snippet).replace(MARK_START, "<mark>").replace(MARK_END, "</mark>")

    def as_dict(self) -> dict[str, Any]:
        return {
            "article_id": self.article_id,
            "title": self.title,
            "url": self.url,
            "outlet_id": self.outlet_id,
            "outlet_name": self.outlet_name,
            "published_at": self.published_at.isoformat() if self.published_at else None,
            "language": self.language,
            "snippet": self.snippet_text,
            "snippet_html": self.snippet_html,
            "rank": self.rank,
            "alert_id": self.alert_id,
        }


@dataclass(slots=True, frozen=True)
class Term:
    tokens: tuple[str, ...]  # one word, or a phrase's words in order
    prefix: bool = False  # the last word is a prefix


# AND over groups, OR within a group.
Parsed = list[list[Term]]

_PIECE = re.compile(r'"([^"]*)"?|(\S+)')
_WORD = re.compile(r"[^\W_]+")


def parse_query(query: str) -> Parsed:
    """The user's query as terms; raises InputError only for an empty or oversized query."""
    if not query or not query.strip():
        raise InputError("query: give one or more words to search for")
    if len(query) > MAX_QUERY:
        raise InputError(f"query: at most {MAX_QUERY} characters")
    text = unicodedata.normalize("NFC", query)
    groups: Parsed = []
    pending_or = False
    for m in _PIECE.finditer(text):
        phrase, raw = m.group(1), m.group(2)
        if raw == "OR" and groups:
            pending_or = True
            continue
        source = phrase if phrase is not None else raw
        tokens = tuple(w.lower() for w in _WORD.findall(source))
        if not tokens:
            continue
        term = Term(tokens, prefix=phrase is None and raw.endswith("*"))
        if pending_or:
            groups[-1].append(term)
        else:
            groups.append([term])
        pending_or = False
    if sum(len(g) for g in groups) > MAX_TERMS:
        raise InputError(f"query: at most {MAX_TERMS} terms")
    return groups


def fts5_query(groups: Parsed) -> str:
    """FTS5 MATCH syntax: every term a quoted string (its words are letters and digits only)."""

    def term(t: Term) -> str:
        return '"' + " ".join(t.tokens).replace('"', '""') + '"' + ("*" if t.prefix else "")

    return " AND ".join("(" + " OR ".join(term(t) for t in g) + ")" for g in groups)


def tsquery(groups: Parsed) -> str:
    """PostgreSQL to_tsquery syntax: every word a quoted lexeme, phrases with <->."""

    def term(t: Term) -> str:
        words = [f"'{w}'" for w in t.tokens]
        if t.prefix:
            words[-1] += ":*"
        return "(" + " <-> ".join(words) + ")"

    return " & ".join("(" + " | ".join(term(t) for t in g) + ")" for g in groups)


def _fold(word: str) -> str:
    """A word as the indexes compare it: accents removed, case folded."""
    return "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c)).casefold()


def _matches(words: list[str], groups: Parsed) -> list[tuple[int, int]]:
    """(first, last) word of every occurrence of every term in the folded *words*."""
    spans = []
    for term in (t for g in groups for t in g):
        wanted = [_fold(t) for t in term.tokens]
        last = len(wanted) - 1
        for i in range(len(words) - last):
            if all(
                words[i + k] == w or (term.prefix and k == last and words[i + k].startswith(w))
                for k, w in enumerate(wanted)
            ):
                spans.append((i, i + last))
    return sorted(spans, key=lambda span: (span[0], -span[1]))  # the longer of two at one word first


def make_snippet(text: str, groups: Parsed, size: int = SNIPPET_TOKENS) -> str:
    """About *size* words of *text* around the most matches, each match (a phrase as one) between
    MARK_START and MARK_END, "…" where the text is cut: FTS5's snippet(), made here for
    PostgreSQL, whose ts_headline neither folds accents nor reads the text as plain words."""
    found = list(_WORD.finditer(text))
    if not found:
        return text[: size * 8]
    spans = _matches([_fold(m.group()) for m in found], groups)
    starts = [max(0, min(a - 2, len(found) - size)) for a, _ in spans] or [0]
    first = max(starts, key=lambda s: (sum(s <= a and b < s + size for a, b in spans), -s))
    end = min(len(found), first + size)
    out = ["…" if first else text[: found[0].start()]]
    at = found[first].start()
    for a, b in spans:
        if a < first or b >= end or found[a].start() < at:
            continue  # outside the window, or inside a match already marked
        out += [text[at : found[a].start()], MARK_START, text[found[a].start() : found[b].end()], MARK_END]
        at = found[b].end()
    out.append(text[at : found[end - 1].end()] + ("…" if end < len(found) else text[found[-1].end() :]))
    return "".join(out)


def _pg_snippet(title: str | None, text: str | None, groups: Parsed) -> str:
    """From the text, or from the title when only the title matches (as FTS5 picks the column)."""
    snippet = make_snippet(text or "", groups)
    if MARK_START not in snippet and title and MARK_START in (in_title := make_snippet(title, groups)):
        return in_title
    return snippet


def _start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


class SearchStore(StoreBase):
    def search_articles(
        self,
        query: str,
        outlets: Sequence[str] | None = None,
        language: str | None = None,
        date_from: date | None = None,
        date_to: date | None = None,
        categories: Sequence[str] | None = None,
        min_score: float | None = None,
        alert_status: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[SearchHit]:
        """Articles matching *query* and the filters, best match first."""
        groups = parse_query(query)
        if not groups:  # only punctuation: nothing can match
            return []
        limit = max(1, min(int(limit), MAX_LIMIT))
        offset = max(0, int(offset))
        dialect = self.engine.dialect.name
        if dialect == "sqlite":
            fts = table("article_fts", literal_column("rowid"))
            fts_ref: ColumnElement[Any] = literal_column("article_fts")
            snippet: ColumnElement[Any] = func.snippet(fts_ref, -1, MARK_START, MARK_END, "…", SNIPPET_TOKENS)
            rank: ColumnElement[Any] = -func.bm25(fts_ref, 2.0, 1.0)
            stmt = (
                select(snippet, rank)
                .select_from(fts)
                .join(Article, Article.id == literal_column("article_fts.rowid"))
            )
            stmt = stmt.where(fts_ref.op("MATCH")(fts5_query(groups)))
        elif dialect == "postgresql":
            tsq = func.to_tsquery(literal_column("'simple'::regconfig"), func.mw_unaccent(tsquery(groups)))
            tsv = func.mw_article_tsv(Article.title, Article.text)
            snippet = Article.text.expression  # made into a snippet below
            rank = func.ts_rank(tsv, tsq)
            stmt = select(snippet, rank).select_from(Article).where(tsv.op("@@")(tsq))
        else:
            raise InputError(f"query: full-text search is not available on {dialect}")
        stmt = (
            stmt.add_columns(
                Article.id,
                Article.title,
                Article.url,
                Article.outlet_id,
                Outlet.name,
                Article.published_at,
                Article.language,
                Alert.id,
            )
            .join(Outlet, Outlet.id == Article.outlet_id)
            .outerjoin(Alert, Alert.article_id == Article.id)
        )
        stmt = stmt.where(
            *_filters(outlets, language, date_from, date_to, categories, min_score, alert_status)
        )
        stmt = stmt.order_by(rank.desc(), Article.id.desc()).limit(limit).offset(offset)
        with self.session() as s:
            rows: list[Any] = list(s.execute(stmt).all())
        return [
            SearchHit(
                article_id=aid,
                title=title or "",
                url=url,
                outlet_id=outlet_id,
                outlet_name=outlet_name,
                published_at=published,
                language=lang,
                snippet=(snip or "") if dialect == "sqlite" else _pg_snippet(title, snip, groups),
                rank=float(r or 0.0),
                alert_id=alert_id,
            )
            for snip, r, aid, title, url, outlet_id, outlet_name, published, lang, alert_id in rows
        ]


def _filters(
    outlets: Sequence[str] | None,
    language: str | None,
    date_from: date | None,
    date_to: date | None,
    categories: Sequence[str] | None,
    min_score: float | None,
    alert_status: str | None,
) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if outlets:
        where.append(Article.outlet_id.in_(list(outlets)))
    if language:
        where.append(Article.language == language)
    if date_from is not None:
        where.append(Article.published_at >= _start(date_from))
    if date_to is not None:
        where.append(Article.published_at < _start(date_to + timedelta(days=1)))
    if categories:
        where.append(
            exists().where(AlertCategory.alert_id == Alert.id, AlertCategory.category.in_(list(categories)))
        )
    if min_score is not None:
        latest = (
            select(func.max(ScoreRow.id))
            .where(ScoreRow.article_id == Article.id)
            .correlate(Article)
            .scalar_subquery()
        )
        where.append(exists().where(ScoreRow.id == latest, ScoreRow.severity >= min_score))
    if alert_status:
        where.append(Alert.status == alert_status)
    return where
