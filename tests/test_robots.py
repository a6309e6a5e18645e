"""robots.txt for article pages, and what happens to a page the host refuses or throttles
(pipeline/robots.py, orchestrate.process_entries)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from pipeline.demo import DEMO_FEEDS
from pipeline.demo.server import LocalSite, Override
from pipeline.fetch import Fetcher, FetchPolicy
from pipeline.orchestrate import build, poll_sources, process_entries, run_cycle
from pipeline.robots import RobotsCache
from pipeline.settings import Settings
from pipeline.store import Store
from pipeline.store.schema import Entry

UA = "MediaWatch/test (+https://mediawatch.example.org/bot; tests@example.org)"


@pytest.fixture
def robots(local_site: LocalSite) -> Iterator[RobotsCache]:
    fetcher = Fetcher(FetchPolicy(UA, per_host_delay=0.0, allow_private=True, total_timeout=5.0))
    yield RobotsCache(fetcher)
    fetcher.close()


def robots_requests(site: LocalSite) -> int:
    return sum(1 for path, _h in site.requests if path == "/robots.txt")


def test_disallowed_pages_are_refused_and_the_rest_allowed(
    local_site: LocalSite, robots: RobotsCache
) -> None:
    (local_site.root / "robots.txt").write_text("User-agent: *\nDisallow: /members/\n")
    base = local_site.base_url
    assert robots.check(f"{base}/news/story.html") is None
    assert robots.check(f"{base}/members/story.html") == "robots.txt disallows this page for MediaWatch"
    assert robots_requests(local_site) == 1  # cached per host


def test_a_group_for_mediawatch_wins_over_the_wildcard(local_site: LocalSite, robots: RobotsCache) -> None:
    (local_site.root / "robots.txt").write_text(
        "User-agent: *\nAllow: /\n\nUser-agent: MediaWatch\nDisallow: /\n"
    )
    assert robots.check(f"{local_site.base_url}/news/story.html") is not None


def test_missing_robots_txt_allows_everything(local_site: LocalSite, robots: RobotsCache) -> None:
    assert robots.check(f"{local_site.base_url}/anything.html") is None


def test_unreachable_robots_txt_disallows_for_a_while(local_site: LocalSite, robots: RobotsCache) -> None:
    local_site.overrides["/robots.txt"] = Override(503, b"maintenance")
    refusal = robots.check(f"{local_site.base_url}/news/story.html")
    assert refusal and refusal.startswith("robots.txt unreachable (HTTP 503)")


def test_crawl_delay_slows_requests_to_that_host(local_site: LocalSite, robots: RobotsCache) -> None:
    (local_site.root / "robots.txt").write_text("User-agent: *\nCrawl-delay: 7\n")
    robots.check(f"{local_site.base_url}/a.html")
    host = local_site.base_url.split("//", 1)[1]
    spacer = robots.fetcher.spacer
    spacer.try_reserve(host)
    assert spacer.try_reserve(host) == pytest.approx(7, abs=0.1)


# ------------------------------------------------------------------ in a full cycle

BLOCKED = "khan-younis-family-killed-airstrike"
THROTTLED = "jets-edge-flames-overtime"


def page_path(store: Store, slug: str) -> str:
    with store.session() as s:
        url = s.scalars(select(Entry.url).where(Entry.url.contains(slug))).one()
    return "/" + url.split("/", 3)[3]


def entry(store: Store, slug: str) -> Entry:
    with store.session() as s:
        return s.scalars(select(Entry).where(Entry.url.contains(slug))).one()


def test_cycle_skips_disallowed_pages_and_retries_throttled_ones(
    settings: Settings, demo_site: LocalSite
) -> None:
    demo_site.overrides["/robots.txt"] = Override(
        200, f"User-agent: *\nDisallow: /*{BLOCKED}\n".encode(), {"Content-Type": "text/plain"}
    )
    store = Store.open(settings.db_url)
    p = build(settings, store, DEMO_FEEDS, base_url=demo_site.base_url)
    poll_sources(p, datetime.now(UTC))
    throttled = page_path(store, THROTTLED)
    demo_site.overrides[throttled] = Override(503, b"busy")
    process_entries(p)

    blocked = entry(store, BLOCKED)
    assert blocked.status == "blocked" and blocked.error == "robots.txt disallows this page for MediaWatch"
    assert not any(BLOCKED in path for path, _h in demo_site.requests)  # never requested
    waiting = entry(store, THROTTLED)
    assert (waiting.status, waiting.attempts) == ("new", 1)
    # first retry after half to all of 15 minutes (backoff with jitter)
    assert waiting.retry_at is not None and waiting.retry_at >= datetime.now(UTC) + timedelta(minutes=7)
    assert store.counts()["articles"] == 17

    del demo_site.overrides[throttled]
    with store.sessions.begin() as s:  # the retry time has come
        s.execute(Entry.__table__.update().where(Entry.id == waiting.id).values(retry_at=None))
    run_cycle(p)
    assert entry(store, THROTTLED).status == "processed"
    assert store.counts()["articles"] == 18
    store.close()


def test_a_page_that_keeps_failing_is_marked_failed_after_its_attempts(
    settings: Settings, demo_site: LocalSite
) -> None:
    settings.page_attempts = 2
    store = Store.open(settings.db_url)
    p = build(settings, store, DEMO_FEEDS, base_url=demo_site.base_url)
    poll_sources(p, datetime.now(UTC))
    demo_site.overrides[page_path(store, THROTTLED)] = Override(500, b"broken")
    for _ in range(2):
        process_entries(p)
        with store.sessions.begin() as s:
            s.execute(Entry.__table__.update().values(retry_at=None))
    failed = entry(store, THROTTLED)
    assert (failed.status, failed.attempts, failed.error) == ("failed", 2, "HTTP 500")
    store.close()


def test_retry_after_on_a_page_defers_the_hosts_other_pages(settings: Settings, demo_site: LocalSite) -> None:
    settings.per_host_connections = 1
    store = Store.open(settings.db_url)
    p = build(settings, store, DEMO_FEEDS, base_url=demo_site.base_url)
    poll_sources(p, datetime.now(UTC))
    with store.session() as s:
        first = s.scalars(select(Entry).order_by(Entry.id)).first()
    assert first is not None
    demo_site.overrides["/" + first.url.split("/", 3)[3]] = Override(429, b"", {"Retry-After": "300"})
    before = len(demo_site.requests)
    process_entries(p)
    with store.session() as s:
        rows = s.scalars(select(Entry)).all()
    assert len(demo_site.requests) - before == 2  # robots.txt and the page that answered 429
    soon = datetime.now(UTC) + timedelta(seconds=290)
    assert all(e.status == "new" and e.retry_at is not None and e.retry_at >= soon for e in rows)
    store.close()
