"""The poll stage: take the sources that are due, fetch them politely, store new entries, and
decide when each source is checked next.

Every outcome reschedules the source: success (adapted to how often it publishes), failure
(exponential backoff with jitter; never disabled), or a host that asked us to wait (Retry-After).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property

from . import entries, sitemap, xmlguard
from .fetch import Fetcher
from .polite import Deferred, HostPool
from .records import FeedParse, FetchResult
from .schedule import SchedulePolicy, backoff_minutes, blend_gap, jittered, poll_minutes, publish_gap
from .settings import Settings
from .store import Store
from .store.views import DueSource, PollRecord

log = logging.getLogger(__name__)
LEASE = timedelta(minutes=15)
UNUSABLE = ("not a feed", "not a sitemap", "sitemap index")  # parse notes that mean the poll failed
Count = Callable[[str, int], None]


def schedule_policy(settings: Settings) -> SchedulePolicy:
    return SchedulePolicy(
        min_minutes=settings.poll_min_minutes,
        max_minutes=settings.poll_max_minutes,
        max_backoff_minutes=settings.max_backoff_minutes,
    )


def parse_source(kind: str, body: bytes, url: str, now: datetime, content_type: str) -> FeedParse:
    """Refuse entity attacks, then parse a feed or a (news) sitemap (which checks for itself)."""
    if kind == "sitemap":
        return sitemap.parse_news_sitemap(body, url, now)
    xmlguard.check(body)
    return entries.parse_feed(body, url, now, content_type)


def source_health(store: Store, settings: Settings, now: datetime) -> list[dict[str, object]]:
    """Every polled source with counters and, when it fails or has gone quiet, a warning."""
    return store.source_health(
        now, failing_after=timedelta(hours=settings.failing_warning_hours), quiet_factor=settings.quiet_factor
    )


@dataclass
class Poller:
    settings: Settings
    store: Store
    fetcher: Fetcher
    count: Count
    rng: random.Random = field(default_factory=random.Random)

    @cached_property
    def policy(self) -> SchedulePolicy:
        return schedule_policy(self.settings)

    def poll_due(self, now: datetime) -> None:
        """Poll every due source; one slow or failing host never holds up the others."""
        due = self.store.due_sources(now, lease=LEASE)
        pool = HostPool(self.fetcher.spacer, self.settings.workers, self.settings.per_host_connections)
        for source, outcome in pool.run(due, lambda s: s.url, self._fetch):
            self.count("polls", 1)
            rec = self._outcome(source, outcome, now)
            moved = self.store.record_poll(source.id, rec, self.settings.redirect_moves_after)
            if moved:
                log.warning("source moved id=%s to=%s (permanent redirects)", source.id, moved)
                self.count("sources_moved", 1)

    def _fetch(self, source: DueSource) -> FetchResult:
        return self.fetcher.get(source.url, source.etag, source.last_modified, kind="feed", reserved=True)

    def _outcome(self, source: DueSource, outcome: FetchResult | Deferred, now: datetime) -> PollRecord:
        if isinstance(outcome, Deferred):
            self.count("deferred", 1)
            return PollRecord(
                0, next_check=jittered(now, outcome.seconds / 60, self.policy, self.rng), deferred=True
            )
        if outcome.not_modified:
            self.count("not_modified", 1)
            return self._success(source, outcome, now)
        if outcome.ok:
            return self._parsed(source, outcome, now)
        return self._failure(source, outcome, outcome.error or f"HTTP {outcome.status}", now)

    def _parsed(self, source: DueSource, result: FetchResult, now: datetime) -> PollRecord:
        try:
            parsed = parse_source(source.kind, result.body, result.final_url, now, result.content_type)
        except xmlguard.UnsafeXMLError as exc:
            return self._failure(source, result, str(exc), now)
        if parsed.bozo:
            log.warning("feed malformed source=%s reason=%s", source.url, parsed.bozo)
            self.count("malformed", 1)
        if not parsed.entries and parsed.bozo and parsed.bozo.startswith(UNUSABLE):
            return self._failure(source, result, parsed.bozo, now)
        new = self.store.add_entries(source.id, parsed.entries)
        self.count("new_entries", new)
        dates = [e.published for e in parsed.entries if e.published and not e.date_flagged]
        gap = blend_gap(source.typical_gap_minutes, publish_gap(dates))
        return self._success(source, result, now, new=new, gap=gap, note=parsed.bozo)

    def _success(
        self,
        source: DueSource,
        result: FetchResult,
        now: datetime,
        new: int = 0,
        gap: float | None = None,
        note: str | None = None,
    ) -> PollRecord:
        gap = gap if gap is not None else source.typical_gap_minutes
        minutes = poll_minutes(source.interval_minutes, gap, self.policy)
        return PollRecord(
            status=result.status,
            etag=result.etag,
            last_modified=result.last_modified,
            new_items=new,
            next_check=jittered(now, minutes, self.policy, self.rng),
            poll_minutes=minutes,
            typical_gap_minutes=gap,
            parse_note=note,
            permanent_redirect=result.permanent_redirect,
        )

    def _failure(self, source: DueSource, result: FetchResult, error: str, now: datetime) -> PollRecord:
        self.count("poll_errors", 1)
        log.warning("poll failed source=%s error=%s", source.url, error)
        interval = source.poll_minutes or poll_minutes(source.interval_minutes, None, self.policy)
        minutes = backoff_minutes(interval, source.error_count, self.policy, self.rng)
        if result.retry_after is not None:
            minutes = max(minutes, result.retry_after / 60)
        return PollRecord(status=result.status, error=error, next_check=now + timedelta(minutes=minutes))
