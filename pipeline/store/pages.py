"""Raw article pages as fetched, gzip-compressed, kept as evidence for a retention period."""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, func, select

from ..records import StoredPage, compress_page
from .base import StoreBase, utcnow
from .schema import Alert, RawPage


@dataclass(slots=True)
class RawPageInfo:
    id: int
    article_id: int
    version_id: int | None
    fetched_at: datetime
    url: str
    http_status: int
    content_type: str
    size: int
    stored: int  # bytes after compression
    sha256: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "fetched_at": self.fetched_at.isoformat(),
            "url": self.url,
            "http_status": self.http_status,
            "content_type": self.content_type,
            "size": self.size,
            "stored_bytes": self.stored,
            "sha256": self.sha256,
            "version_id": self.version_id,
        }


def page_values(
    article_id: int, page: StoredPage, now: datetime, version_id: int | None = None
) -> dict[str, Any]:
    """A ``raw_pages`` row for *page*."""
    return {
        "article_id": article_id,
        "version_id": version_id,
        "fetched_at": now,
        "url": page.url[:2000],
        "http_status": page.status,
        "content_type": page.content_type[:200],
        "size": page.size,
        "sha256": page.sha256,
        "body": page.gz,
    }


class PagesStore(StoreBase):
    def save_raw_page(
        self,
        article_id: int,
        url: str,
        body: bytes,
        http_status: int = 200,
        content_type: str = "",
        version_id: int | None = None,
    ) -> int | None:
        """Keep the page as fetched; None when it is byte-for-byte the article's latest copy."""
        gz, digest = compress_page(body)
        return self.save_page(
            article_id, StoredPage(url, gz, digest, len(body), http_status, content_type), version_id
        )

    def save_page(self, article_id: int, page: StoredPage, version_id: int | None = None) -> int | None:
        """``save_raw_page`` for a page already compressed."""
        with self.sessions.begin() as s:
            latest = s.scalar(
                select(RawPage.sha256)
                .where(RawPage.article_id == article_id)
                .order_by(RawPage.id.desc())
                .limit(1)
            )
            if latest == page.sha256:
                return None
            row = RawPage(**page_values(article_id, page, utcnow(), version_id))
            s.add(row)
            s.flush()
            return row.id

    def raw_pages(self, article_id: int) -> list[RawPageInfo]:
        """The article's stored pages, oldest first (without their bodies)."""
        with self.session() as s:
            rows = s.execute(
                select(RawPage, func.length(RawPage.body))
                .where(RawPage.article_id == article_id)
                .order_by(RawPage.id)
            )
            return [_info(r, int(stored)) for r, stored in rows]

    def raw_page(self, raw_id: int) -> tuple[RawPageInfo, bytes] | None:
        """One stored page and its bytes as they were fetched."""
        with self.session() as s:
            row = s.get(RawPage, raw_id)
            if row is None:
                return None
            return _info(row, len(row.body)), gzip.decompress(row.body)

    def prune_raw_pages(self, now: datetime, keep_days: int, keep_alerted_days: int) -> int:
        """Delete pages past their retention (0 days = keep for ever); pages of articles with an
        alert follow *keep_alerted_days*, since they are evidence. Returns how many went."""
        removed = 0
        alerted = exists().where(Alert.article_id == RawPage.article_id)
        with self.sessions.begin() as s:
            for days, condition in ((keep_days, ~alerted), (keep_alerted_days, alerted)):
                if days > 0:
                    cutoff = now - timedelta(days=days)
                    result = s.execute(delete(RawPage).where(RawPage.fetched_at < cutoff, condition))
                    removed += int(getattr(result, "rowcount", 0) or 0)
        return removed


def _info(row: RawPage, stored: int) -> RawPageInfo:
    return RawPageInfo(
        row.id,
        row.article_id,
        row.version_id,
        row.fetched_at,
        row.url,
        row.http_status,
        row.content_type,
        row.size,
        stored,
        row.sha256,
    )
