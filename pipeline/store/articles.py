"""Articles, their versions, wire-copy clusters and scores."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..cluster import Member, cluster_agency, originator_of
from ..records import Extracted, Score, StoredPage
from .base import StoreBase, utcnow
from .pages import page_values
from .schema import Alert, Article, ArticleVersion, Cluster, Entry, Letter, Outcome, Outlet, RawPage, ScoreRow
from .views import RevisitOutcome, RevisitTarget, StoredText, WireCopy, WireMember


def content_hash(title: str, text: str) -> str:
    return hashlib.sha256(f"{title}\n{text}".encode()).hexdigest()


def _same_score(s: Session, article_id: int, model_version: str) -> int | None:
    """The id of the article's score by *model_version* for its current text, if stored."""
    return s.scalar(
        select(ScoreRow.id)
        .join(Article, Article.id == ScoreRow.article_id)
        .where(
            ScoreRow.article_id == article_id,
            ScoreRow.model_version == model_version,
            ScoreRow.content_hash == Article.content_hash,
        )
    )


@dataclass(slots=True)
class NewArticle:
    """An article to store with ``save_new_articles``: what its entry and page gave."""

    entry_id: int
    outlet_id: str
    url: str
    doc: Extracted
    summary: str
    published: datetime | None
    wire_agency: str | None
    partial_reason: str | None
    page: StoredPage | None
    score: Score | None


def _table(model: type[Any]) -> Table:
    return cast(Table, model.__table__)


_ARTICLES = _table(Article)
_INSERT_ARTICLES = insert(_ARTICLES).returning(_ARTICLES.c.id, sort_by_parameter_order=True)
_INSERT_VERSIONS = insert(_table(ArticleVersion))
_INSERT_PAGES = insert(_table(RawPage))
_SCORES = _table(ScoreRow)
_INSERT_SCORES = insert(_SCORES).returning(_SCORES.c.id, sort_by_parameter_order=True)
_ENTRY_PROCESSED = (
    update(_table(Entry))
    .where(_table(Entry).c.id == bindparam("done_id"))
    .values(status="processed", article_id=bindparam("done_article"), error=None)
)


def _article_values(i: NewArticle, now: datetime) -> dict[str, Any]:
    doc = i.doc
    return {
        "url": i.url,
        "outlet_id": i.outlet_id,
        "title": doc.title,
        "text": doc.text,
        "summary": i.summary,
        "published_at": i.published,
        "language": doc.language,
        "authors": list(doc.authors),
        "status": doc.status,
        "wire_agency": i.wire_agency,
        "section": (doc.section or None) and doc.section[:200],
        "updated_on": _day(doc.updated),
        "paywalled": doc.paywalled,
        "partial": i.partial_reason is not None,
        "partial_reason": i.partial_reason,
        "content_hash": content_hash(doc.title, doc.text),
        "first_seen_at": now,
        "last_fetched_at": now,
    }


def _first_version(article_id: int, article: dict[str, Any]) -> dict[str, Any]:
    return {
        "article_id": article_id,
        "fetched_at": article["first_seen_at"],
        "title": article["title"],
        "text": article["text"],
        "content_hash": article["content_hash"],
    }


def _score_values(article_id: int, text_hash: str, score: Score, now: datetime) -> dict[str, Any]:
    return {
        "article_id": article_id,
        "model_version": score.model_version,
        "content_hash": text_hash,
        "relevant": score.relevant,
        "relevance": score.relevance,
        "categories": dict(score.categories),
        "alert": score.alert,
        "kind": score.kind,
        "severity": score.severity,
        "evidence": [e.as_stored() for e in score.evidence],
        "created_at": now,
        "facts": score.facts,
    }


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None


class ArticlesStore(StoreBase):
    def article_id_for_url(self, url: str) -> int | None:
        with self.session() as s:
            return s.scalar(select(Article.id).where(Article.url == url))

    def article_ids_for_urls(self, urls: Sequence[str]) -> dict[str, int]:
        """The stored articles among *urls*: {url: article id}."""
        found: dict[str, int] = {}
        with self.session() as s:
            for i in range(0, len(urls), 500):
                rows = s.execute(select(Article.url, Article.id).where(Article.url.in_(urls[i : i + 500])))
                found.update((url, article_id) for url, article_id in rows)
        return found

    def save_article(
        self,
        outlet_id: str,
        url: str,
        doc: Extracted,
        summary: str,
        published: datetime | None,
        wire_agency: str | None,
        partial_reason: str | None = None,
    ) -> int:
        """Insert the article (first version) or return the existing one's id for *url*.
        *partial_reason*, when given, marks the text as less than the full article."""
        try:
            item = NewArticle(
                0, outlet_id, url, doc, summary, published, wire_agency, partial_reason, None, None
            )
            return self._insert_article(item)
        except IntegrityError:  # another worker stored the same URL between our look and our insert
            found = self.article_id_for_url(url)
            if found is None:
                raise
            return found

    def _insert_article(self, item: NewArticle) -> int:
        with self.sessions.begin() as s:
            existing = s.scalar(select(Article).where(Article.url == item.url))
            if existing is not None:
                return existing.id
            values = _article_values(item, utcnow())
            row = Article(**values)
            s.add(row)
            s.flush()
            s.add(ArticleVersion(**_first_version(row.id, values)))
            return row.id

    def save_new_articles(self, items: Sequence[NewArticle]) -> list[tuple[int, int | None]]:
        """Store articles whose URLs are not stored yet, each with its first version, its page as
        fetched, its entry marked processed and its score, in one transaction (a few statements
        for the whole batch, not a few per article). Returns (article id, score id) per item.

        All or nothing: if another writer stored one of the URLs meanwhile, nothing is written
        and ``IntegrityError`` is raised, so the caller can store them one at a time."""
        if not items:
            return []
        now = utcnow()
        values = [_article_values(i, now) for i in items]
        with self.sessions.begin() as s:
            # Core statements on the tables (every row has the same columns, no ORM bookkeeping):
            # a third less time than the ORM's bulk INSERT for the same rows
            db = s.connection()
            ids = list(db.execute(_INSERT_ARTICLES, values).scalars())
            db.execute(_INSERT_VERSIONS, [_first_version(a, v) for a, v in zip(ids, values, strict=True)])
            pages = [
                page_values(a, i.page, now) for a, i in zip(ids, items, strict=True) if i.page is not None
            ]
            if pages:
                db.execute(_INSERT_PAGES, pages)
            done = [{"done_id": i.entry_id, "done_article": a} for a, i in zip(ids, items, strict=True)]
            db.execute(_ENTRY_PROCESSED, done)
            scored = [
                (a, v, i.score) for a, v, i in zip(ids, values, items, strict=True) if i.score is not None
            ]
            # the ORM's bulk INSERT split these rows into groups by which values are None
            # (facts), down to one statement a row: a fifth of the main process's storing time
            score_ids: Iterator[int] = iter(
                list(
                    db.execute(
                        _INSERT_SCORES, [_score_values(a, v["content_hash"], sc, now) for a, v, sc in scored]
                    ).scalars()
                )
                if scored
                else []
            )
        return [
            (a, next(score_ids) if i.score is not None else None) for a, i in zip(ids, items, strict=True)
        ]

    def articles_since(self, since: datetime) -> Iterator[StoredText]:
        """Stored articles first seen since *since* (id order, streamed): what rules and models
        read, for re-running them over what is already stored."""
        q = (
            select(Article.id, Article.url, Article.outlet_id, Article.title, Article.text, Article.language)
            .where(Article.first_seen_at >= since)
            .order_by(Article.id)
            .execution_options(yield_per=200)
        )
        with self.session() as s:
            for row in s.execute(q):
                yield StoredText(*row)

    def recent_for_clustering(self, since: datetime) -> list[tuple[int, str, int | None]]:
        """(article id, text, cluster id) for articles first seen since *since*."""
        with self.session() as s:
            rows = s.execute(
                select(Article.id, Article.text, Article.cluster_id).where(
                    Article.first_seen_at >= since, Article.status == "ok"
                )
            )
            return [(r[0], r[1], r[2]) for r in rows]

    def join_cluster(self, article_id: int, other_id: int) -> int:
        """Put *article_id* in *other_id*'s cluster (creating it); return the cluster id. The
        cluster's agency and original copy are decided again from all its members."""
        with self.sessions.begin() as s:
            other = s.get_one(Article, other_id)
            if other.cluster_id is None:
                cluster = Cluster(created_at=utcnow())
                s.add(cluster)
                s.flush()
                other.cluster_id = cluster.id
            else:
                cluster = s.get_one(Cluster, other.cluster_id)
            s.get_one(Article, article_id).cluster_id = cluster.id
            s.flush()
            members = [
                Member(a.id, a.outlet_id, a.wire_agency, a.published_at, a.first_seen_at)
                for a in s.scalars(select(Article).where(Article.cluster_id == cluster.id))
            ]
            cluster.originator = cluster_agency(members)
            cluster.origin_article_id = originator_of(members).article_id
            return cluster.id

    def cluster_alert(self, article_id: int) -> int | None:
        """The alert already raised on another copy of this article's wire story, if any."""
        with self.session() as s:
            cluster_id = s.scalar(select(Article.cluster_id).where(Article.id == article_id))
            return None if cluster_id is None else earlier_cluster_alert(s, cluster_id, article_id)

    def save_score(self, article_id: int, score: Score) -> int:
        """Store a score; the same article, model and text is stored once."""
        try:
            return self._insert_score(article_id, score)
        except IntegrityError:  # another worker stored the same score at the same moment
            with self.session() as s:
                found = _same_score(s, article_id, score.model_version)
            if found is None:
                raise
            return found

    def _insert_score(self, article_id: int, score: Score) -> int:
        with self.sessions.begin() as s:
            article = s.get_one(Article, article_id)
            existing = _same_score(s, article_id, score.model_version)
            if existing is not None:
                return existing
            row = ScoreRow(**_score_values(article_id, article.content_hash, score, utcnow()))
            s.add(row)
            s.flush()
            return row.id

    def watch_article(self, article_id: int, schedule_hours: list[float]) -> None:
        """Put the article on the revisit schedule (a no-op when it is on it, or has finished it)."""
        with self.sessions.begin() as s:
            first_seen = s.scalar(select(Article.first_seen_at).where(Article.id == article_id))
            if first_seen is not None:
                start_watch(s, article_id, first_seen, schedule_hours)

    def revisit_targets(self, now: datetime, limit: int = 100) -> list[RevisitTarget]:
        """Watched articles whose next scheduled re-fetch has come, most overdue first."""
        with self.session() as s:
            rows = s.scalars(
                select(Article)
                .where(Article.next_revisit_at.is_not(None), Article.next_revisit_at <= now)
                .order_by(Article.next_revisit_at, Article.id)  # ties in one order on every backend
                .limit(limit)
            )
            return [
                RevisitTarget(r.id, r.url, r.title, r.text, r.content_hash, r.outlet_id, r.summary)
                for r in rows
            ]

    def record_revisit(
        self,
        article_id: int,
        schedule_hours: list[float],
        page: tuple[str, str, str | None, bool] | None,
        partial: str | None = None,
    ) -> RevisitOutcome:
        """Note a scheduled re-fetch and move the article to its next step. *page* is
        ``(title, text, diff, correction_note)``, or None when the page could not be read;
        *partial* says why the text read is less than the full article (None: it is all there).

        A changed title or text becomes a new version; if a letter about the article had
        already been sent, the change becomes a candidate outcome for an analyst to confirm."""
        now = utcnow()
        with self.sessions.begin() as s:
            row = s.get_one(Article, article_id)
            row.revisit_step += 1
            row.next_revisit_at = (
                row.first_seen_at + timedelta(hours=schedule_hours[row.revisit_step])
                if row.revisit_step < len(schedule_hours)
                else None
            )
            if page is None:
                return RevisitOutcome(False)
            title, text, diff, correction = page
            row.last_fetched_at = now
            row.partial, row.partial_reason = partial is not None, partial
            digest = content_hash(title, text)
            if digest == row.content_hash:
                return RevisitOutcome(False)
            version = ArticleVersion(
                article_id=article_id,
                fetched_at=now,
                title=title,
                text=text,
                content_hash=digest,
                diff=diff,
                correction_note=correction,
            )
            s.add(version)
            row.title, row.text, row.content_hash = title, text, digest
            s.flush()
            s.add(
                self._audit_row("revisit", "article_changed", "article", article_id, {"version": version.id})
            )
            outcome = self._amended_outcome(s, article_id, version, now)
            return RevisitOutcome(True, version.id, outcome)

    def _amended_outcome(
        self, s: Session, article_id: int, version: ArticleVersion, now: datetime
    ) -> int | None:
        """A candidate 'article amended' outcome when a letter on it was sent before the change."""
        alert = s.scalar(select(Alert).where(Alert.article_id == article_id))
        if alert is None:
            return None
        sent = s.scalar(
            select(func.min(Letter.sent_at)).where(Letter.alert_id == alert.id, Letter.sent_at.is_not(None))
        )
        if sent is None or sent > now:
            return None
        what = "a correction or editor's note was added" if version.correction_note else "the text changed"
        outcome = Outcome(
            alert_id=alert.id,
            kind="article_amended",
            note=f"After a letter was sent on {sent:%Y-%m-%d}, {what} ({now:%Y-%m-%d %H:%M} UTC).",
            confirmed=False,
            version_id=version.id,
            created_at=now,
        )
        s.add(outcome)
        s.flush()
        detail = {"version": version.id, "outcome": outcome.id}
        s.add(self._audit_row("revisit", "candidate_outcome", "alert", alert.id, detail))
        return outcome.id

    def versions(self, article_id: int) -> list[dict[str, Any]]:
        """Every stored version, oldest first, with its word diff against the one before."""
        with self.session() as s:
            rows = s.scalars(
                select(ArticleVersion)
                .where(ArticleVersion.article_id == article_id)
                .order_by(ArticleVersion.id)
            )
            return [
                {
                    "id": v.id,
                    "fetched_at": v.fetched_at,
                    "title": v.title,
                    "diff": v.diff,
                    "correction_note": v.correction_note,
                }
                for v in rows
            ]


def earlier_cluster_alert(s: Session, cluster_id: int, article_id: int) -> int | None:
    """The first alert raised on a copy of wire story *cluster_id* other than *article_id*."""
    return s.scalar(
        select(Alert.id)
        .join(Article, Article.id == Alert.article_id)
        .where(Article.cluster_id == cluster_id, Article.id != article_id)
        .order_by(Alert.id)
        .limit(1)
    )


def start_watch(s: Session, article_id: int, first_seen: datetime, schedule_hours: Sequence[float]) -> None:
    """Put the article on the revisit schedule, unless it is on it or has finished it."""
    start_watches(s, [(article_id, first_seen)], schedule_hours)


# A Core statement (the ORM's bulk UPDATE would first look for the rows in the session), run
# once with the parameters of many articles.
_START_WATCH = (
    update(_ARTICLES)
    .where(
        _ARTICLES.c.id == bindparam("watched_id"),
        _ARTICLES.c.next_revisit_at.is_(None),
        _ARTICLES.c.revisit_step == 0,
    )
    .values(next_revisit_at=bindparam("first_revisit"))
)


def start_watches(
    s: Session, articles: Sequence[tuple[int, datetime]], schedule_hours: Sequence[float]
) -> None:
    """``start_watch`` for many (article id, first seen) at once: one statement."""
    if schedule_hours and articles:
        first = timedelta(hours=schedule_hours[0])
        s.connection().execute(
            _START_WATCH, [{"watched_id": a, "first_revisit": seen + first} for a, seen in articles]
        )


def load_wire_copy(s: Session, cluster_id: int) -> WireCopy:
    cluster = s.get_one(Cluster, cluster_id)
    rows = s.execute(
        select(Article.id, Article.title, Article.url, Outlet.id, Outlet.name)
        .join(Outlet, Outlet.id == Article.outlet_id)
        .where(Article.cluster_id == cluster_id)
        .order_by(Article.first_seen_at, Article.id)
    )
    copies = [WireMember(r[0], r[1], r[2], r[3], r[4]) for r in rows]
    return WireCopy(cluster.id, cluster.originator, cluster.origin_article_id, copies)
