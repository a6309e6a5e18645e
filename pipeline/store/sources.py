"""Outlets, sources and feed entries."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select

from ..config import FeedsConfig
from ..records import Entry as EntryRecord
from ..records import FetchResult
from .base import StoreBase, utcnow
from .schema import Entry, Outlet, Source
from .views import DueSource, PendingEntry

REMOVED = "removed from the feeds file"


class SourcesStore(StoreBase):
    def sync_outlets(self, config: FeedsConfig) -> None:
        """Make outlets and sources match the feeds file. Removed sources are disabled, never deleted."""
        with self.sessions.begin() as s:
            listed: set[str] = set()
            for o in config.outlets:
                row = s.get(Outlet, o.id) or Outlet(id=o.id)
                row.name, row.language, row.reach, row.enabled = o.name, o.language, o.reach, o.enabled
                row.config = o.model_dump(mode="json", exclude={"sources"})
                s.add(row)
                for src in o.sources:
                    listed.add(src.url)
                    srow = s.scalar(select(Source).where(Source.url == src.url)) or Source(url=src.url)
                    srow.outlet_id, srow.kind, srow.section = o.id, src.type, src.section
                    srow.interval_minutes = src.interval_minutes
                    srow.enabled = src.enabled and o.enabled
                    srow.disabled_reason = src.disabled_reason or o.disabled_reason
                    s.add(srow)
            s.flush()
            for srow in s.scalars(select(Source).where(Source.url.not_in(listed))):
                srow.enabled, srow.disabled_reason = False, REMOVED

    def outlet_names(self) -> list[tuple[str, str]]:
        with self.session() as s:
            return [(r.id, r.name) for r in s.scalars(select(Outlet).order_by(Outlet.name))]

    def due_sources(self, now: datetime) -> list[DueSource]:
        """Enabled sources whose next check time has come (never-checked ones first)."""
        with self.session() as s:
            rows = s.scalars(
                select(Source)
                .where(Source.enabled.is_(True))
                .where(or_(Source.next_check_at.is_(None), Source.next_check_at <= now))
                .order_by(Source.next_check_at.is_not(None), Source.next_check_at)
            )
            return [
                DueSource(
                    r.id,
                    r.outlet_id,
                    r.url,
                    r.kind,
                    r.interval_minutes,
                    r.etag,
                    r.last_modified,
                    r.error_count,
                )
                for r in rows
            ]

    def record_poll(self, source_id: int, result: FetchResult, new_items: int, next_check: datetime) -> None:
        """Keep validators, health counters and the next check time for a source."""
        now = utcnow()
        with self.sessions.begin() as s:
            row = s.get_one(Source, source_id)
            row.last_checked_at, row.last_status, row.next_check_at = now, result.status, next_check
            if result.error is None and (result.ok or result.not_modified):
                row.last_success_at, row.error_count, row.last_error = now, 0, None
                if result.ok:
                    row.etag, row.last_modified = result.etag, result.last_modified
                if new_items:
                    row.last_new_item_at = now
            else:
                row.error_count += 1
                row.last_error = result.error or f"HTTP {result.status}"

    def add_entries(self, source_id: int, entries: list[EntryRecord]) -> int:
        """Store entries not seen before (by GUID in this source, or URL in this outlet)."""
        now, added = utcnow(), 0
        with self.sessions.begin() as s:
            outlet_id = s.get_one(Source, source_id).outlet_id
            for e in entries:
                seen = s.scalar(
                    select(Entry.id)
                    .join(Source, Source.id == Entry.source_id)
                    .where(
                        or_(
                            (Entry.source_id == source_id) & (Entry.guid == e.guid),
                            (Source.outlet_id == outlet_id) & (Entry.canonical_url == e.url),
                        )
                    )
                    .limit(1)
                )
                if seen is not None:
                    continue
                s.add(
                    Entry(
                        source_id=source_id,
                        guid=e.guid,
                        url=e.url,
                        canonical_url=e.url,
                        title=e.title,
                        summary=e.summary,
                        published_at=e.published,
                        date_flagged=e.date_flagged,
                        fetched_at=now,
                    )
                )
                s.flush()
                added += 1
        return added

    def pending_entries(self, limit: int) -> list[PendingEntry]:
        with self.session() as s:
            rows = s.execute(
                select(Entry, Source.outlet_id)
                .join(Source, Source.id == Entry.source_id)
                .where(Entry.status == "new")
                .order_by(Entry.id)
                .limit(limit)
            )
            return [
                PendingEntry(e.id, outlet, e.url, e.canonical_url, e.title, e.summary, e.published_at)
                for e, outlet in rows
            ]

    def mark_entry(
        self, entry_id: int, status: str, article_id: int | None = None, error: str | None = None
    ) -> None:
        with self.sessions.begin() as s:
            row = s.get_one(Entry, entry_id)
            row.status, row.article_id, row.error = status, article_id, error

    def source_health(self, now: datetime) -> list[dict[str, object]]:
        """Every source with its counters and a warning when it fails or has gone quiet."""
        with self.session() as s:
            out = []
            for r in s.scalars(select(Source).order_by(Source.outlet_id, Source.id)):
                warning = None
                if r.enabled and r.error_count and r.last_success_at is None:
                    warning = "never succeeded"
                elif r.enabled and r.last_success_at and now - r.last_success_at > timedelta(days=1):
                    warning = "failing for over a day"
                out.append(
                    {
                        "id": r.id,
                        "outlet": r.outlet_id,
                        "url": r.url,
                        "enabled": r.enabled,
                        "disabled_reason": r.disabled_reason,
                        "errors": r.error_count,
                        "last_status": r.last_status,
                        "last_error": r.last_error,
                        "last_success": r.last_success_at,
                        "next_check": r.next_check_at,
                        "warning": warning,
                    }
                )
            return out
