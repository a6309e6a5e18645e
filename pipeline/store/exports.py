"""Queries behind ``mediawatch export``: one streamed SELECT per dataset, filtered in SQL.

Rows come back as mappings keyed by the column labels below; ``pipeline.exports`` turns them
into the documented export columns. Text is cut in SQL so a full article body is read only when
asked for.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, exists, false, func, literal, literal_column, select, table
from sqlalchemy.orm import Session

from ..errors import InputError
from .schema import Alert, AlertCategory, Article, Letter, Outcome, ScoreRow
from .search import fts5_query, parse_query, tsquery

DATASETS = ("articles", "alerts", "letters", "outcomes")
BATCH = 1000


@dataclass(frozen=True)
class ExportFilters:
    """What to export. Dates bound the article's publication time (UTC, *start* inclusive, *end*
    exclusive); categories and alert status are the article's alert's; min_score is severity."""

    start: datetime | None = None
    end: datetime | None = None
    outlets: tuple[str, ...] = ()
    language: str | None = None
    categories: tuple[str, ...] = ()
    min_score: float | None = None
    alert_status: str | None = None
    text: str = "excerpt"  # none | excerpt | full
    excerpt_chars: int = 300
    query: str | None = None  # full-text query (``pipeline.store.search`` syntax)


def fts_match(query: str, dialect: str) -> ColumnElement[bool]:
    """Articles matching the full-text *query*, with search's parser and quoting (so no input
    can be a syntax error) and its index; InputError for an empty query."""
    groups = parse_query(query)
    if not groups:  # only punctuation: nothing can match
        return false()
    if dialect == "sqlite":
        fts = table("article_fts", literal_column("rowid"))
        hits: Select[tuple[Any]] = (
            select(literal_column("rowid"))
            .select_from(fts)
            .where(literal_column("article_fts").op("MATCH")(fts5_query(groups)))
        )
        return Article.id.in_(hits)
    if dialect == "postgresql":
        tsq = func.to_tsquery(literal_column("'simple'::regconfig"), func.mw_unaccent(tsquery(groups)))
        return func.mw_article_tsv(Article.title, Article.text).op("@@")(tsq)
    raise InputError(f"query: full-text search is not available on {dialect}")


def _text(f: ExportFilters) -> Any:
    if f.text == "full":
        return Article.text.label("text")
    if f.text == "excerpt":
        # a little more than asked: whitespace is collapsed before the cut
        return func.substr(Article.text, 1, f.excerpt_chars * 2).label("text")
    return literal(None).label("text")


def _article_filters(f: ExportFilters, dialect: str) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if f.query is not None:
        where.append(fts_match(f.query, dialect))
    if f.start is not None:
        where.append(Article.published_at >= f.start)
    if f.end is not None:
        where.append(Article.published_at < f.end)
    if f.outlets:
        where.append(Article.outlet_id.in_(f.outlets))
    if f.language:
        where.append(Article.language == f.language)
    return where


def _alert_filters(f: ExportFilters, severity: Any) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if f.categories:
        where.append(
            exists().where(AlertCategory.alert_id == Alert.id, AlertCategory.category.in_(f.categories))
        )
    if f.min_score is not None:
        where.append(severity >= f.min_score)
    if f.alert_status:
        where.append(Alert.status == f.alert_status)
    return where


def _articles(f: ExportFilters, dialect: str) -> Select[*tuple[Any, ...]]:
    latest = (
        select(ScoreRow.article_id, func.max(ScoreRow.id).label("score_id"))
        .group_by(ScoreRow.article_id)
        .subquery()
    )
    return (
        select(
            Article.id.label("article_id"),
            Article.url,
            Article.outlet_id.label("outlet"),
            Article.title,
            Article.published_at.label("published"),
            Article.language,
            Article.status,
            Article.wire_agency,
            ScoreRow.relevant,
            ScoreRow.relevance,
            ScoreRow.categories.label("score_categories"),
            ScoreRow.severity,
            ScoreRow.evidence,
            Alert.id.label("alert_id"),
            Alert.kind.label("alert_kind"),
            Alert.status.label("alert_status"),
            _text(f),
        )
        .outerjoin(latest, latest.c.article_id == Article.id)
        .outerjoin(ScoreRow, ScoreRow.id == latest.c.score_id)
        .outerjoin(Alert, Alert.article_id == Article.id)
        .where(*_article_filters(f, dialect), *_alert_filters(f, ScoreRow.severity))
        .order_by(Article.id)
    )


def _alerts(f: ExportFilters, dialect: str) -> Select[*tuple[Any, ...]]:
    return (
        select(
            Alert.id.label("alert_id"),
            Article.id.label("article_id"),
            Article.url,
            Article.outlet_id.label("outlet"),
            Article.title,
            Article.published_at.label("published"),
            Article.language,
            Alert.kind,
            Alert.status,
            Alert.severity,
            Alert.priority,
            Alert.categories,
            Alert.evidence,
            Alert.summary,
            Alert.created_at,
            Alert.triaged_at,
            Alert.dismiss_reason,
            Alert.merged_into,
            Alert.letter_cap,
            Alert.letters_sent,
            Alert.first_sent_at,
            _text(f),
        )
        .join(Article, Article.id == Alert.article_id)
        .where(*_article_filters(f, dialect), *_alert_filters(f, Alert.severity))
        .order_by(Alert.id)
    )


def _letters(f: ExportFilters, dialect: str) -> Select[*tuple[Any, ...]]:
    return (
        select(
            Letter.id.label("letter_id"),
            Alert.id.label("alert_id"),
            Article.id.label("article_id"),
            Article.outlet_id.label("outlet"),
            Letter.language,
            Letter.recipient,
            Letter.subject,
            Letter.body,
            Letter.word_count,
            Letter.word_limit,
            Letter.created_at,
            Letter.sent_at,
        )
        .join(Alert, Alert.id == Letter.alert_id)
        .join(Article, Article.id == Alert.article_id)
        .where(Letter.sent_at.is_not(None), *_article_filters(f, dialect), *_alert_filters(f, Alert.severity))
        .order_by(Letter.id)
    )


def _outcomes(f: ExportFilters, dialect: str) -> Select[*tuple[Any, ...]]:
    return (
        select(
            Outcome.id.label("outcome_id"),
            Alert.id.label("alert_id"),
            Article.id.label("article_id"),
            Article.outlet_id.label("outlet"),
            Outcome.kind,
            Outcome.confirmed,
            Outcome.note,
            Outcome.version_id,
            Outcome.created_at,
        )
        .join(Alert, Alert.id == Outcome.alert_id)
        .join(Article, Article.id == Alert.article_id)
        .where(*_article_filters(f, dialect), *_alert_filters(f, Alert.severity))
        .order_by(Outcome.id)
    )


QUERIES = {"articles": _articles, "alerts": _alerts, "letters": _letters, "outcomes": _outcomes}


def stream(session: Session, dataset: str, f: ExportFilters) -> Iterator[dict[str, Any]]:
    """Rows of *dataset* in id order, fetched in batches of BATCH (constant memory)."""
    dialect = session.get_bind().dialect.name
    q = QUERIES[dataset](f, dialect).execution_options(yield_per=BATCH)
    for row in session.execute(q).mappings():
        yield dict(row)
