"""Alerts and their letters."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, func, insert, literal_column, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..records import AlertDraft
from .articles import earlier_cluster_alert, load_wire_copy, start_watches
from .base import StoreBase, audit_values, utcnow
from .exports import ExportFilters, stream
from .schema import Alert, AlertCategory, Article, AuditEntry, Letter, Outcome, Outlet, ScoreRow, User
from .users import UserView
from .views import AlertDetail, AlertView, ArticlePage, LetterView, WireCopy


@dataclass(slots=True)
class AlertRequest:
    """A stored score that may raise an alert (``AlertsStore.raise_alerts``)."""

    article_id: int
    score_id: int
    alert: bool  # the score asks for an alert
    sample: bool = False  # watch the article even without an alert (the revisit sample)
    letter_cap: int = 3  # how many responders may write to the outlet about it
    payload: Any = None  # what the caller needs to draft the letter


@dataclass(slots=True)
class AlertOutcome:
    alert_id: int | None = None  # the alert raised
    joined: int | None = None  # the alert on an earlier copy of the wire story this copy joined


def _alert_query() -> Select[Alert, Article, Outlet]:
    return (
        select(Alert, Article, Outlet)
        .join(Article, Article.id == Alert.article_id)
        .join(Outlet, Outlet.id == Article.outlet_id)
    )


def _unindexed(column: Any) -> Any:
    """*column* as an expression no index serves (``column || ''``), so the planner keeps to the
    index that gives the order (SQLite, without statistics, rates any indexed term as selective)."""
    return column.concat(literal_column("''"))


def _article_column(column: Any) -> Any:
    """The alert's article's *column*, looked up by primary key for each alert considered."""
    return select(column).where(Article.id == Alert.article_id).scalar_subquery()


def category_values(
    alert_id: int, categories: Sequence[str], priority: float, outlet_id: str | None, language: str | None
) -> list[dict[str, Any]]:
    """The alert_categories rows' columns for an alert's *categories* (each once)."""
    return [
        {
            "alert_id": alert_id,
            "category": c,
            "priority": priority,
            "outlet_id": outlet_id,
            "language": language,
        }
        for c in dict.fromkeys(categories)
    ]


def category_rows(alert: Alert, categories: Sequence[str] | None = None) -> list[AlertCategory]:
    """The alert_categories rows for *categories* (all the alert's by default) of *alert*."""
    chosen = alert.categories if categories is None else categories
    return [
        AlertCategory(**v)
        for v in category_values(alert.id, chosen, alert.priority, alert.outlet_id, alert.language)
    ]


class _Columns:
    """Some of a row's columns as attributes: stands in for an ORM object that is only read."""

    def __init__(self, names: list[str], values: Sequence[Any]) -> None:
        self.__dict__.update(zip(names, values, strict=True))

    def __getattr__(self, name: str) -> Any:  # only called for a column that was not loaded
        raise AttributeError(f"{name}: add it to _LIST_COLUMNS in alerts.py to show it in lists")


# The columns _view reads, loaded for lists without ORM objects (a tenth of the cost per row).
_LIST_COLUMNS: tuple[tuple[Any, tuple[str, ...]], ...] = (
    (
        Alert,
        (
            "id",
            "status",
            "kind",
            "severity",
            "priority",
            "categories",
            "summary",
            "created_at",
            "explanation",
            "letter_cap",
            "claims_taken",
            "letters_sent",
            "first_sent_at",
            "merged_into",
            "dismiss_reason",
            "triaged_by",
        ),
    ),
    (Article, ("id", "title", "url", "language", "published_at", "partial")),
    (Outlet, ("id", "name")),
)


def _list_rows() -> tuple[Select[Any], list[tuple[list[str], int, int]]]:
    cols: list[Any] = []
    parts: list[tuple[list[str], int, int]] = []
    for entity, names in _LIST_COLUMNS:
        parts.append((list(names), len(cols), len(cols) + len(names)))
        cols.extend(getattr(entity, n) for n in names)
    q = (
        select(*cols)
        .select_from(Alert)
        .join(Article, Article.id == Alert.article_id)
        .join(Outlet, Outlet.id == Article.outlet_id)
    )
    return q, parts


_LIST_ROWS, _LIST_PARTS = _list_rows()


def _parts(row: Sequence[Any]) -> tuple[Alert, Article, Outlet]:
    """A list row as the three objects _view reads (stand-ins with the listed columns only)."""
    a, r, o = (_Columns(names, row[i:j]) for names, i, j in _LIST_PARTS)
    return a, r, o  # type: ignore[return-value]


def _view(alert: Alert, article: Article, outlet: Outlet) -> AlertView:
    return AlertView(
        id=alert.id,
        status=alert.status,
        kind=alert.kind,
        severity=alert.severity,
        priority=alert.priority,
        categories=list(alert.categories),
        summary=alert.summary,
        created_at=alert.created_at,
        article_id=article.id,
        title=article.title,
        url=article.url,
        outlet_id=outlet.id,
        outlet_name=outlet.name,
        language=article.language,
        published_at=article.published_at,
        partial=article.partial,
        explanation=alert.explanation,
        letter_cap=alert.letter_cap,
        claims_taken=alert.claims_taken,
        letters_sent=alert.letters_sent,
        first_sent_at=alert.first_sent_at,
        merged_into=alert.merged_into,
        dismiss_reason=alert.dismiss_reason,
        triaged_by=alert.triaged_by,
    )


# alert_detail's statements, built once (building them cost a third of the call).
_DETAIL = (
    _alert_query()
    .add_columns(ScoreRow.categories, ScoreRow.relevance)  # not the score's evidence
    .outerjoin(ScoreRow, ScoreRow.id == Alert.score_id)
    .where(Alert.id == bindparam("alert_id"))
)
_LETTERS = (
    select(Letter, User.name, User.email)
    .outerjoin(User, User.id == Letter.user_id)
    .where(Letter.alert_id == bindparam("alert_id"))
    .order_by(Letter.user_id.is_not(None), Letter.id)
)
_RESPONDER_LETTERS = _LETTERS.where(
    or_(Letter.user_id.is_(None), Letter.user_id == bindparam("viewer"), Letter.shared, ~Letter.is_draft)
)


# A status with fewer alerts than this, with a category, outlet or language, is walked through
# (status, priority), the others checked per alert; else the index led by those filters is.
FEW_IN_STATUS = 5000


def _few(s: Session, status: str) -> bool:
    """Whether fewer than FEW_IN_STATUS alerts have *status* (counted on the index, at most that)."""
    some = select(Alert.id).where(Alert.status == status).limit(FEW_IN_STATUS).subquery()
    return (s.scalar(select(func.count()).select_from(some)) or 0) < FEW_IN_STATUS


def _ids_by_alert(
    statuses: list[str],
    outlet: str | None,
    language: str | None,
    kind: str | None,
    min_priority: float | None,
    category: str | None = None,
    by_status: bool = False,
) -> Select[Any]:
    """The ids of matching alerts walking an index of alerts in priority order: *by_status*,
    the one status's through (status, priority), the other filters checked per alert (a
    *category* comes only with it); else (outlet[, language], priority) or (language,
    priority), status and kind read from the index; else the priority index."""
    ids = select(Alert.id)
    if by_status:
        ids = ids.where(Alert.status == statuses[0])
    elif statuses:  # most alerts match, or an index led by outlet/language is walked
        ids = ids.where(_unindexed(Alert.status).in_(statuses))
    if kind:
        ids = ids.where(Alert.kind == kind)
    if min_priority is not None:
        ids = ids.where(Alert.priority >= min_priority)
    if category:  # the alert_categories row by primary key carries the outlet and language
        c = select(AlertCategory.alert_id).where(
            AlertCategory.alert_id == Alert.id, AlertCategory.category == category
        )
        if outlet:
            c = c.where(_unindexed(AlertCategory.outlet_id) == outlet)
        if language:
            c = c.where(_unindexed(AlertCategory.language) == language)
        return ids.where(c.exists())
    if outlet:
        ids = ids.where((_unindexed(Alert.outlet_id) if by_status else Alert.outlet_id) == outlet)
    if language:
        ids = ids.where((_unindexed(Alert.language) if by_status else Alert.language) == language)
    return ids


def _ids_by_category(
    category: str,
    statuses: list[str],
    outlet: str | None,
    language: str | None,
    kind: str | None,
    min_priority: float | None,
) -> Select[Any]:
    """The ids of alerts in *category* (and the other filters), from alert_categories in
    priority order led by (category[, outlet][, language]); the alert's status and kind checked
    per row by primary key (EXISTS: the walk stays on alert_categories, in its order)."""
    ids = select(AlertCategory.alert_id.label("id")).where(AlertCategory.category == category)
    if outlet:
        ids = ids.where(AlertCategory.outlet_id == outlet)
    if language:
        ids = ids.where(AlertCategory.language == language)
    if min_priority is not None:
        ids = ids.where(AlertCategory.priority >= min_priority)
    if statuses or kind:
        alert = select(Alert.id).where(Alert.id == AlertCategory.alert_id)
        if statuses:
            alert = alert.where(_unindexed(Alert.status).in_(statuses))
        if kind:
            alert = alert.where(_unindexed(Alert.kind) == kind)
        ids = ids.where(alert.exists())
    return ids


@dataclass(slots=True)
class _FollowingRows:
    """What follows each new alert (its category rows, its first letter, the audit entry),
    written one statement per table for a whole batch of alerts."""

    categories: list[dict[str, Any]] = field(default_factory=list)
    letters: list[dict[str, Any]] = field(default_factory=list)
    audit: list[dict[str, Any]] = field(default_factory=list)
    watch: list[tuple[int, datetime]] = field(default_factory=list)  # (article, first seen)
    watch_hours: Sequence[float] = ()

    def write(self, s: Session) -> None:
        for table, rows in (
            (AlertCategory, self.categories),
            (Letter, self.letters),
            (AuditEntry, self.audit),
        ):
            if rows:
                s.execute(insert(table), rows)
        start_watches(s, self.watch, self.watch_hours)
        self.categories, self.letters, self.audit, self.watch = [], [], [], []


@dataclass(slots=True)
class _Batch:
    """What ``raise_alerts`` needs to know of a batch's articles, read in two statements for the
    whole batch: each article's row, and which articles already have an alert."""

    articles: dict[int, Any]  # id -> (cluster_id, outlet_id, language, first_seen_at)
    alerted: set[int]

    @classmethod
    def load(cls, s: Session, ids: Sequence[int]) -> _Batch:
        articles: dict[int, Any] = {}
        alerted: set[int] = set()
        for part in range(0, len(ids), 500):  # bound parameters per statement
            chunk = ids[part : part + 500]
            rows = s.execute(
                select(Article.id, Article.cluster_id, Article.outlet_id, Article.language)
                .add_columns(Article.first_seen_at)
                .where(Article.id.in_(chunk))
            )
            articles.update((row.id, row) for row in rows)
            alerted.update(s.scalars(select(Alert.article_id).where(Alert.article_id.in_(chunk))))
        return cls(articles, alerted)


class AlertsStore(StoreBase):
    def create_alert(
        self, article_id: int, score_id: int, draft: AlertDraft, letter_cap: int = 3
    ) -> int | None:
        """Raise an alert with its first letter draft; None if the article already has one.
        *letter_cap* is how many responders may write to the outlet about it."""
        try:
            with self.sessions.begin() as s:
                outlet_id, language = s.execute(
                    select(Article.outlet_id, Article.language).where(Article.id == article_id)
                ).one()
                return self._add_alert(
                    s, article_id, score_id, draft, letter_cap, outlet_id, language, utcnow()
                )
        except IntegrityError:  # another process raised it first
            return None

    def _add_alert(
        self,
        s: Session,
        article_id: int,
        score_id: int,
        draft: AlertDraft,
        letter_cap: int,
        outlet_id: str,
        language: str | None,
        now: datetime,
        follow: _FollowingRows | None = None,
        known_free: bool = False,
    ) -> int | None:
        """Insert the alert (Core statements: no ORM objects to track) and its categories, first
        letter and audit entry, at once or, with *follow*, with the rest of a batch.
        *known_free*: the caller has checked in this transaction that the article has no alert."""
        if not known_free and s.scalar(select(Alert.id).where(Alert.article_id == article_id)) is not None:
            return None
        alert_id: int = s.scalars(
            insert(Alert).returning(Alert.id),
            [
                {
                    "article_id": article_id,
                    "score_id": score_id,
                    "kind": draft.kind,
                    "severity": draft.severity,
                    "priority": draft.priority,
                    "categories": list(draft.categories),
                    "summary": draft.summary,
                    "evidence": [e.as_stored() for e in draft.evidence],
                    "letter_cap": letter_cap,
                    "created_at": now,
                    "updated_at": now,
                    "outlet_id": outlet_id,
                    "language": language,
                }
            ],
        ).one()
        rows = follow if follow is not None else _FollowingRows()
        rows.categories += category_values(alert_id, draft.categories, draft.priority, outlet_id, language)
        d = draft.letter
        rows.letters.append(
            {
                "alert_id": alert_id,
                "is_draft": True,
                "language": d.language,
                "recipient": d.recipient,
                "subject": d.subject,
                "body": d.body,
                "word_count": d.word_count,
                "word_limit": d.word_limit,
                "created_at": now,
            }
        )
        detail = {"article_id": article_id, "kind": draft.kind}
        rows.audit.append(audit_values("pipeline", "alert_raised", "alert", alert_id, detail, now))
        if follow is None:
            rows.write(s)
        return alert_id

    def raise_alerts(
        self,
        requests: Sequence[AlertRequest],
        draft: Callable[[AlertRequest, WireCopy | None], AlertDraft | None],
        watch_hours: Sequence[float],
    ) -> list[AlertOutcome]:
        """For scored articles, in one transaction: raise the alerts their scores ask for (once
        per wire story: a later copy is noted on the first copy's alert), with the letter
        *draft* makes from the request and its wire story, and put the alerted and the sampled
        articles on the revisit schedule (*watch_hours*). Each request sees the alerts raised
        before it in the list. If the batch conflicts with another writer, each request is
        tried in a transaction of its own, where a conflict means another process raised the
        alert first (no alert)."""
        try:
            with self.sessions.begin() as s:
                now, follow = utcnow(), _FollowingRows(watch_hours=watch_hours)
                batch = _Batch.load(s, [r.article_id for r in requests if r.alert or r.sample])
                outcomes = [self._raise(s, r, draft, batch, now, follow) for r in requests]
                follow.write(s)
                return outcomes
        except IntegrityError:
            if len(requests) == 1:
                return [AlertOutcome()]
        return [self.raise_alerts([r], draft, watch_hours)[0] for r in requests]

    def _raise(
        self,
        s: Session,
        r: AlertRequest,
        draft: Callable[[AlertRequest, WireCopy | None], AlertDraft | None],
        batch: _Batch,
        now: datetime,
        follow: _FollowingRows,
    ) -> AlertOutcome:
        if not r.alert and not r.sample:
            return AlertOutcome()
        row = batch.articles[r.article_id]
        alert_id = None
        if r.alert:
            earlier = (
                None if row.cluster_id is None else earlier_cluster_alert(s, row.cluster_id, r.article_id)
            )
            if earlier is not None:  # one alert per wire story
                joined = {"article": r.article_id}
                s.add(self._audit_row("pipeline", "wire_copy_joined", "alert", earlier, joined))
                return AlertOutcome(joined=earlier)
            if r.article_id not in batch.alerted:  # (raised already: by another process, or a rescore)
                wire = None if row.cluster_id is None else load_wire_copy(s, row.cluster_id)
                made = draft(r, wire)
                if made is not None:
                    args = (r.article_id, r.score_id, made, r.letter_cap, row.outlet_id, row.language, now)
                    alert_id = self._add_alert(s, *args, follow, known_free=True)
                    batch.alerted.add(r.article_id)
        if alert_id is not None or r.sample:
            follow.watch.append((r.article_id, row.first_seen_at))
        return AlertOutcome(alert_id=alert_id)

    def list_alerts(
        self,
        status: str | Sequence[str] | None = None,
        outlet: str | None = None,
        category: str | None = None,
        language: str | None = None,
        kind: str | None = None,
        limit: int = 200,
        offset: int = 0,
        min_priority: float | None = None,
    ) -> list[AlertView]:
        """Alerts by priority, highest first, with optional filters (all done in SQL).

        One query in two parts. The page's ids: a subquery (SQLite runs it on its own, never
        flattened into the join) that walks an index in priority order led by what it can of the
        filters: with a category, alert_categories by (category[, outlet][, language],
        priority), each alert's status and kind checked by primary key, unless the one status
        asked for has few alerts (counted first, up to FEW_IN_STATUS): then (status, priority),
        the other filters checked per alert; without one, the alerts by (outlet[, language],
        priority) or (language, priority), status and kind read from the index, or (status,
        priority), or the priority index. So a filter that matches few alerts reads few index
        entries. Then those alerts joined to their article and outlet for only the columns a
        list shows, read as plain values (no ORM objects, no article text, evidence or outlet
        settings)."""
        statuses = ([status] if status else []) if isinstance(status, str) else list(status or ())
        with self.session() as s:
            filtered = bool(category or outlet or language)
            by_status = len(statuses) == 1 and (not filtered or _few(s, statuses[0]))
            if category and not by_status:
                ids = _ids_by_category(category, statuses, outlet, language, kind, min_priority)
                walk = (AlertCategory.priority.desc(), AlertCategory.alert_id.desc())
            else:
                ids = _ids_by_alert(statuses, outlet, language, kind, min_priority, category, by_status)
                walk = (Alert.priority.desc(), Alert.id.desc())
            page = ids.order_by(*walk).limit(limit).offset(offset).subquery()  # joins never flatten it
            order = (Alert.priority.desc(), Alert.id.desc())
            q = _LIST_ROWS.join(page, page.c.id == Alert.id).order_by(*order)
            return [_view(*_parts(row)) for row in s.execute(q)]

    def alert_outcomes(self, alert_id: int) -> list[dict[str, Any]]:
        """Outcomes recorded for an alert, candidates (to be confirmed by an analyst) included."""
        with self.session() as s:
            rows = s.scalars(select(Outcome).where(Outcome.alert_id == alert_id).order_by(Outcome.id))
            return [
                {
                    "id": o.id,
                    "kind": o.kind,
                    "note": o.note,
                    "confirmed": o.confirmed,
                    "version_id": o.version_id,
                    "created_at": o.created_at,
                }
                for o in rows
            ]

    def alert_detail(self, alert_id: int, viewer: UserView | None = None) -> AlertDetail | None:
        """The alert with its article, scores and letters. With a *viewer* who is a responder,
        other responders' unsent drafts are left out unless shared."""
        with self.session() as s:
            row = s.execute(_DETAIL, {"alert_id": alert_id}).first()
            if row is None:
                return None
            alert, article, outlet, score_categories, relevance = row
            if relevance is None:  # no score row: fail as a missing row always has
                s.get_one(ScoreRow, alert.score_id)
            if viewer is not None and not viewer.can("analyst"):  # a responder's drafts are theirs
                letters = s.execute(_RESPONDER_LETTERS, {"alert_id": alert_id, "viewer": viewer.id})
            else:
                letters = s.execute(_LETTERS, {"alert_id": alert_id})
            return AlertDetail(
                alert=_view(alert, article, outlet),
                text=article.text,
                evidence=list(alert.evidence),
                scores=dict(score_categories),
                relevance=relevance,
                letters=[
                    LetterView(
                        x.id,
                        x.language,
                        x.recipient,
                        x.subject,
                        x.body,
                        x.word_count,
                        x.word_limit,
                        x.is_draft,
                        x.user_id,
                        (name or email) if x.user_id is not None else None,
                        x.shared,
                        x.sent_at,
                    )
                    for x, name, email in letters
                ],
                outlet_config=dict(outlet.config),
                wire=load_wire_copy(s, article.cluster_id) if article.cluster_id is not None else None,
                wire_agency=article.wire_agency,
                page=ArticlePage(
                    article.section,
                    article.updated_on,
                    article.paywalled,
                    article.partial,
                    article.partial_reason,
                    article.status,
                ),
            )

    def export_articles(
        self, filters: ExportFilters | None = None, dataset: str = "articles"
    ) -> Iterator[dict[str, Any]]:
        """Rows of an export *dataset* (articles by default) matching *filters*, streamed in id
        order in batches; see ``pipeline.store.exports`` for the queries."""
        with self.session() as s:
            yield from stream(s, dataset, filters or ExportFilters())
