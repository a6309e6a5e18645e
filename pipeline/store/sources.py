"""Outlets, sources and feed entries."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, func, insert, or_, select, update
from sqlalchemy.orm import Session

from ..config import FeedsConfig
from ..entries import fingerprint
from ..records import Entry as EntryRecord
from .base import StoreBase, utcnow
from .schema import Entry, Outlet, Source
from .views import DueSource, PendingEntry, PollRecord

REMOVED = "removed from the feeds file"
MANUAL = "manual"  # the per-outlet source that holds URLs submitted by people
FINGERPRINT_WINDOW = timedelta(days=7)


def pending_entry(e: Entry, outlet_id: str) -> PendingEntry:
    """An entry row as the fetch stage reads it."""
    return PendingEntry(
        e.id,
        outlet_id,
        e.url,
        e.canonical_url,
        e.title,
        e.summary,
        e.published_at,
        e.attempts,
        e.submitted_by,
    )


class SourcesStore(StoreBase):
    def sync_outlets(self, config: FeedsConfig) -> None:
        """Make outlets and sources match the feeds file. Removed sources are disabled, never deleted;
        a source that moved (permanent redirects) keeps its new URL."""
        with self.sessions.begin() as s:
            listed: set[str] = set()
            for o in config.outlets:
                row = s.get(Outlet, o.id) or Outlet(id=o.id)
                row.name, row.language, row.reach, row.enabled = o.name, o.language, o.reach, o.enabled
                row.config = o.model_dump(mode="json", exclude={"sources"})
                s.add(row)
                for src in o.sources:
                    listed.add(src.url)
                    srow = s.scalar(select(Source).where(Source.listed_url == src.url))
                    srow = srow or Source(listed_url=src.url, url=src.url)
                    srow.outlet_id, srow.kind, srow.section = o.id, src.type, src.section
                    srow.interval_minutes = src.interval_minutes
                    srow.enabled = src.enabled and o.enabled
                    srow.disabled_reason = src.disabled_reason or o.disabled_reason
                    s.add(srow)
            s.flush()
            gone = select(Source).where(Source.listed_url.not_in(listed), Source.kind != MANUAL)
            for srow in s.scalars(gone):
                srow.enabled, srow.disabled_reason = False, REMOVED

    def outlet_names(self) -> list[tuple[str, str]]:
        with self.session() as s:  # two columns only: an outlet's config can be large
            return [
                (i, n) for i, n in s.execute(select(Outlet.id, Outlet.name).order_by(Outlet.name, Outlet.id))
            ]

    def due_sources(self, now: datetime, lease: timedelta | None = None) -> list[DueSource]:
        """Enabled sources whose next check time has come (never-checked ones first).

        With *lease*, the sources are claimed: their next check moves to ``now + lease`` so a
        second poller does not take them too, and a poller that dies gives them back later."""
        with self.sessions.begin() as s:
            rows = list(
                s.scalars(
                    select(Source)
                    .where(Source.enabled.is_(True), Source.kind != MANUAL)
                    .where(or_(Source.next_check_at.is_(None), Source.next_check_at <= now))
                    .order_by(Source.next_check_at.is_not(None), Source.next_check_at, Source.id)
                )
            )
            if lease is not None and rows:
                s.execute(
                    update(Source)
                    .where(Source.id.in_([r.id for r in rows]))
                    .values(next_check_at=now + lease)
                )
            return [_due(r) for r in rows]

    def record_poll(self, source_id: int, rec: PollRecord, move_after: int = 3) -> str | None:
        """Keep validators, health counters, the schedule and redirect tracking for a source.
        Returns the new URL when repeated permanent redirects moved the source."""
        now = utcnow()
        with self.sessions.begin() as s:
            row = s.get_one(Source, source_id)
            row.last_checked_at, row.next_check_at = now, rec.next_check
            if rec.deferred:
                return None
            row.last_status = rec.status
            row.poll_minutes = rec.poll_minutes or row.poll_minutes
            row.typical_gap_minutes = rec.typical_gap_minutes or row.typical_gap_minutes
            if rec.error is None:
                _record_success(row, rec, now)
                return self._track_redirect(s, row, rec.permanent_redirect, move_after)
            row.error_count += 1
            row.last_error = rec.error
            row.failing_since = row.failing_since or now
            return None

    def _track_redirect(self, s: Session, row: Source, target: str | None, move_after: int) -> str | None:
        if target is None or target == row.url:
            row.redirect_url, row.redirect_count = None, 0
            return None
        if row.redirect_url != target:
            row.redirect_url, row.redirect_count = target, 0
        row.redirect_count += 1
        if row.redirect_count < move_after:
            return None
        taken = s.scalar(select(Source.id).where(Source.url == target, Source.id != row.id))
        detail: dict[str, Any] = {"from": row.url, "to": target, "after": row.redirect_count}
        if taken is not None:
            s.add(
                self._audit_row("poller", "source_not_moved", "source", row.id, {**detail, "taken_by": taken})
            )
            return None
        s.add(self._audit_row("poller", "source_moved", "source", row.id, detail))
        row.url, row.redirect_url, row.redirect_count = target, None, 0
        return target

    def add_entries(self, source_id: int, entries: list[EntryRecord]) -> int:
        """Store entries not seen before: a known GUID in this source, a known canonical URL in
        this outlet, or the same story (fingerprint) in this outlet within a week is a duplicate."""
        if not entries:
            return 0
        now = utcnow()
        with self.sessions.begin() as s:
            outlet_id = s.get_one(Source, source_id).outlet_id
            prints = [fingerprint(e.title, e.summary) for e in entries]
            seen_guids, seen_urls, seen_prints = _known(
                s, source_id, outlet_id, entries, set(prints) - {""}, now
            )
            rows = []
            for e, fp in zip(entries, prints, strict=True):
                if e.guid in seen_guids or e.url in seen_urls or (fp and fp in seen_prints):
                    continue
                seen_guids.add(e.guid)
                seen_urls.add(e.url)
                seen_prints.add(fp)
                rows.append(_entry_values(source_id, e, fp, now))
            if rows:  # one INSERT for the feed's new entries (the ORM made and flushed an object each)
                s.execute(_INSERT_ENTRIES, rows)
        return len(rows)

    def submit_url(self, outlet_id: str, entry: EntryRecord, by: str) -> tuple[int, bool]:
        """Queue a URL a person submitted, through the outlet's manual source.
        Returns ``(entry id, True)`` or, when the URL is already known, ``(its id, False)``."""
        with self.sessions.begin() as s:
            known = s.scalar(
                select(Entry.id)
                .join(Source, Source.id == Entry.source_id)
                .where(Source.outlet_id == outlet_id, Entry.canonical_url == entry.url)
                .limit(1)
            )
            if known is not None:
                return known, False
            key = f"{MANUAL}:{outlet_id}"
            source = s.scalar(select(Source).where(Source.listed_url == key))
            if source is None:
                source = Source(listed_url=key, url=key, outlet_id=outlet_id, kind=MANUAL, enabled=True)
                s.add(source)
                s.flush()
            row = _entry_row(source.id, entry, fingerprint(entry.title, entry.summary), utcnow())
            row.submitted_by = by
            s.add(row)
            s.flush()
            s.add(self._audit_row(by, "url_submitted", "entry", row.id, {"url": entry.url}))
            return row.id, True

    def pending_entries(self, limit: int, now: datetime | None = None) -> list[PendingEntry]:
        """New entries whose retry time (if any) has come: the outlets in turn, each one's oldest
        first. A poll stores an outlet's entries together, so in plain id order a batch (and
        `mediawatch run`'s chunks of it) would be one outlet's pages, fetched one host's few
        connections and per-host delay at a time while the other outlets wait."""
        now = now or utcnow()
        turn = func.row_number().over(partition_by=Source.outlet_id, order_by=Entry.id)
        due = (
            select(Entry.id, turn.label("turn"))
            .join(Source, Source.id == Entry.source_id)
            .where(Entry.status == "new", or_(Entry.retry_at.is_(None), Entry.retry_at <= now))
            .subquery()
        )
        with self.session() as s:
            rows = s.execute(
                select(Entry, Source.outlet_id)
                .join(due, due.c.id == Entry.id)
                .join(Source, Source.id == Entry.source_id)
                .order_by(due.c.turn, Entry.id)
                .limit(limit)
            )
            return [pending_entry(e, outlet) for e, outlet in rows]

    def mark_entry(
        self, entry_id: int, status: str, article_id: int | None = None, error: str | None = None
    ) -> None:
        with self.sessions.begin() as s:
            row = s.get_one(Entry, entry_id)
            row.status, row.article_id, row.error = status, article_id, error

    def entry_status(self, entry_id: int) -> str:
        """One line on where an entry stands, for people."""
        with self.session() as s:
            row = s.get_one(Entry, entry_id)
            if row.article_id is not None:
                return f"{row.status} (article {row.article_id})"
            return f"{row.status}: {row.error}" if row.error else row.status

    def retry_entry(self, entry_id: int, retry_at: datetime, error: str, max_attempts: int) -> bool:
        """Count a failed page fetch; the entry is tried again at *retry_at* until *max_attempts*,
        then marked failed. Returns True while it will be retried."""
        with self.sessions.begin() as s:
            row = s.get_one(Entry, entry_id)
            row.attempts += 1
            row.error = error
            if row.attempts >= max_attempts:
                row.status, row.retry_at = "failed", None
                return False
            row.retry_at = retry_at
            return True

    def entry_counts(self) -> dict[str, int]:
        with self.session() as s:
            return {
                status: n
                for status, n in s.execute(select(Entry.status, func.count()).group_by(Entry.status))
            }

    def source_health(
        self, now: datetime, failing_after: timedelta = timedelta(days=1), quiet_factor: float = 3.0
    ) -> list[dict[str, object]]:
        """Every polled source with its counters, and a warning when it fails or has gone quiet."""
        with self.session() as s:
            rows = s.execute(
                select(Source, Outlet.name)
                .join(Outlet, Outlet.id == Source.outlet_id)
                .where(Source.kind != MANUAL)
                .order_by(Source.outlet_id, Source.id)
            )
            return [_health(r, name, now, failing_after, quiet_factor) for r, name in rows]


def _due(r: Source) -> DueSource:
    return DueSource(
        r.id,
        r.outlet_id,
        r.url,
        r.kind,
        r.interval_minutes,
        r.etag,
        r.last_modified,
        r.error_count,
        r.poll_minutes,
        r.typical_gap_minutes,
        r.redirect_url,
        r.redirect_count,
    )


def _record_success(row: Source, rec: PollRecord, now: datetime) -> None:
    row.last_success_at, row.error_count, row.last_error, row.failing_since = now, 0, None, None
    if rec.status != 304:
        row.etag, row.last_modified, row.parse_note = rec.etag, rec.last_modified, rec.parse_note
    if rec.new_items:
        row.last_new_item_at = now


def _known(
    s: Session, source_id: int, outlet_id: str, entries: list[EntryRecord], prints: set[str], now: datetime
) -> tuple[set[str], set[str], set[str]]:
    """GUIDs, canonical URLs and recent fingerprints already stored, among the candidates'."""
    guids = {e.guid for e in entries}
    urls = {e.url for e in entries}
    in_outlet = select(Source.id).where(Source.outlet_id == outlet_id)
    seen_guids = set(s.scalars(select(Entry.guid).where(Entry.source_id == source_id, Entry.guid.in_(guids))))
    seen_urls = set(
        s.scalars(
            select(Entry.canonical_url).where(Entry.source_id.in_(in_outlet), Entry.canonical_url.in_(urls))
        )
    )
    seen_prints = set(
        s.scalars(
            select(Entry.fingerprint).where(
                and_(
                    Entry.source_id.in_(in_outlet),
                    Entry.fingerprint.in_(prints),
                    Entry.fetched_at >= now - FINGERPRINT_WINDOW,
                )
            )
        )
    )
    return seen_guids, seen_urls, seen_prints


def _entry_values(source_id: int, e: EntryRecord, fp: str, now: datetime) -> dict[str, Any]:
    return {
        "source_id": source_id,
        "guid": e.guid,
        "url": e.url,
        "canonical_url": e.url,
        "title": e.title,
        "summary": e.summary,
        "fingerprint": fp,
        "language": e.language,
        "published_at": e.published,
        "date_flagged": e.date_flagged,
        "fetched_at": now,
    }


def _entry_row(source_id: int, e: EntryRecord, fp: str, now: datetime) -> Entry:
    return Entry(**_entry_values(source_id, e, fp, now))


_INSERT_ENTRIES = insert(cast(Table, Entry.__table__))


def _health(
    r: Source, outlet_name: str, now: datetime, failing_after: timedelta, quiet_factor: float
) -> dict[str, object]:
    return {
        "id": r.id,
        "outlet": r.outlet_id,
        "outlet_name": outlet_name,
        "url": r.url,
        "listed_url": r.listed_url,
        "kind": r.kind,
        "enabled": r.enabled,
        "disabled_reason": r.disabled_reason,
        "errors": r.error_count,
        "last_status": r.last_status,
        "last_error": r.last_error,
        "last_success": r.last_success_at,
        "last_new_item": r.last_new_item_at,
        "failing_since": r.failing_since,
        "poll_minutes": r.poll_minutes or r.interval_minutes,
        "typical_gap_minutes": r.typical_gap_minutes,
        "next_check": r.next_check_at,
        "redirect_url": r.redirect_url,
        "parse_note": r.parse_note,
        "warning": health_warning(r, now, failing_after, quiet_factor),
    }


def health_warning(r: Source, now: datetime, failing_after: timedelta, quiet_factor: float) -> str | None:
    """Why an admin should look at this source, or None. Disabled sources say why in their own field."""
    if not r.enabled:
        return None
    if r.error_count and r.failing_since and now - r.failing_since >= failing_after:
        hours = (now - r.failing_since).total_seconds() / 3600
        return f"failing for {hours:.0f} h ({r.error_count} errors in a row): {r.last_error}"
    if r.error_count and r.last_success_at is None:
        return f"never succeeded ({r.error_count} errors): {r.last_error}"
    if r.typical_gap_minutes and r.last_new_item_at:
        quiet = now - r.last_new_item_at
        usual = timedelta(minutes=r.typical_gap_minutes)
        if quiet > max(usual * quiet_factor, timedelta(hours=2)):
            return (
                f"quiet: no new item for {quiet.total_seconds() / 3600:.0f} h, "
                f"usually one every {r.typical_gap_minutes / 60:.1f} h"
            )
    return None
