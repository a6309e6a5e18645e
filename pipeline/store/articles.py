"""Articles, their versions, wire-copy clusters and scores."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from ..records import Extracted, Score
from .base import StoreBase, utcnow
from .schema import Alert, Article, ArticleVersion, Cluster, ScoreRow
from .views import RevisitTarget


def content_hash(title: str, text: str) -> str:
    return hashlib.sha256(f"{title}\n{text}".encode()).hexdigest()


class ArticlesStore(StoreBase):
    def article_id_for_url(self, url: str) -> int | None:
        with self.session() as s:
            return s.scalar(select(Article.id).where(Article.url == url))

    def save_article(
        self,
        outlet_id: str,
        url: str,
        doc: Extracted,
        summary: str,
        published: datetime | None,
        wire_agency: str | None,
    ) -> int:
        """Insert the article (first version) or return the existing one's id for *url*."""
        now = utcnow()
        digest = content_hash(doc.title, doc.text)
        with self.sessions.begin() as s:
            existing = s.scalar(select(Article).where(Article.url == url))
            if existing is not None:
                return existing.id
            row = Article(
                url=url,
                outlet_id=outlet_id,
                title=doc.title,
                text=doc.text,
                summary=summary,
                published_at=published,
                language=doc.language,
                authors=list(doc.authors),
                status=doc.status,
                wire_agency=wire_agency,
                content_hash=digest,
                first_seen_at=now,
                last_fetched_at=now,
            )
            s.add(row)
            s.flush()
            s.add(
                ArticleVersion(
                    article_id=row.id,
                    fetched_at=now,
                    title=doc.title,
                    text=doc.text,
                    content_hash=digest,
                )
            )
            return row.id

    def recent_for_clustering(self, since: datetime) -> list[tuple[int, str, int | None]]:
        """(article id, text, cluster id) for articles first seen since *since*."""
        with self.session() as s:
            rows = s.execute(
                select(Article.id, Article.text, Article.cluster_id).where(
                    Article.first_seen_at >= since, Article.status == "ok"
                )
            )
            return [(r[0], r[1], r[2]) for r in rows]

    def join_cluster(self, article_id: int, other_id: int, originator: str | None) -> int:
        """Put *article_id* in *other_id*'s cluster (creating it); return the cluster id."""
        with self.sessions.begin() as s:
            other = s.get_one(Article, other_id)
            if other.cluster_id is None:
                cluster = Cluster(originator=originator or other.wire_agency, created_at=utcnow())
                s.add(cluster)
                s.flush()
                other.cluster_id = cluster.id
            else:
                cluster = s.get_one(Cluster, other.cluster_id)
                cluster.originator = cluster.originator or originator
            s.get_one(Article, article_id).cluster_id = cluster.id
            return cluster.id

    def save_score(self, article_id: int, score: Score) -> int:
        """Store a score; the same article, model and text is stored once."""
        with self.sessions.begin() as s:
            article = s.get_one(Article, article_id)
            existing = s.scalar(
                select(ScoreRow).where(
                    ScoreRow.article_id == article_id,
                    ScoreRow.model_version == score.model_version,
                    ScoreRow.content_hash == article.content_hash,
                )
            )
            if existing is not None:
                return existing.id
            row = ScoreRow(
                article_id=article_id,
                model_version=score.model_version,
                content_hash=article.content_hash,
                relevant=score.relevant,
                relevance=score.relevance,
                categories=dict(score.categories),
                alert=score.alert,
                kind=score.kind,
                severity=score.severity,
                evidence=[e.as_stored() for e in score.evidence],
                created_at=utcnow(),
            )
            s.add(row)
            s.flush()
            return row.id

    def revisit_targets(self, now: datetime, after: timedelta, limit: int = 100) -> list[RevisitTarget]:
        """Alerted articles not fetched for *after*."""
        with self.session() as s:
            rows = s.scalars(
                select(Article)
                .join(Alert, Alert.article_id == Article.id)
                .where(Article.last_fetched_at <= now - after)
                .order_by(Article.last_fetched_at)
                .limit(limit)
            )
            return [RevisitTarget(r.id, r.url, r.title, r.text, r.content_hash) for r in rows]

    def record_revisit(self, article_id: int, title: str, text: str, diff: str | None) -> bool:
        """Note a re-fetch; a changed title or text becomes a new version. True if changed."""
        now = utcnow()
        digest = content_hash(title, text)
        with self.sessions.begin() as s:
            row = s.get_one(Article, article_id)
            row.last_fetched_at = now
            if digest == row.content_hash:
                return False
            s.add(
                ArticleVersion(
                    article_id=article_id,
                    fetched_at=now,
                    title=title,
                    text=text,
                    content_hash=digest,
                    diff=diff,
                )
            )
            row.title, row.text, row.content_hash = title, text, digest
            s.add(self._audit_row("revisit", "article_changed", "article", article_id, {}))
            return True

    def versions(self, article_id: int) -> list[dict[str, Any]]:
        with self.session() as s:
            rows = s.scalars(
                select(ArticleVersion)
                .where(ArticleVersion.article_id == article_id)
                .order_by(ArticleVersion.id)
            )
            return [{"fetched_at": v.fetched_at, "title": v.title, "diff": v.diff} for v in rows]
