"""The poll stage against real local servers: every failure keeps what is stored and reschedules
the source (pipeline/poll.py, fetch.py, polite.py, store/sources.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from sqlalchemy import func, select

from pipeline.config import FeedsConfig, Outlet, Source
from pipeline.demo.server import LocalSite, Override
from pipeline.fetch import Fetcher, policy_for
from pipeline.poll import Poller, source_health
from pipeline.settings import Settings
from pipeline.store import Store
from pipeline.store.schema import AuditEntry, Entry
from pipeline.store.schema import Source as SourceRow


def rss(items: list[tuple[str, str, str]], extra_head: str = "", encoding: str = "utf-8") -> bytes:
    """RSS 2.0 with (guid, link, title) items, dated an hour apart."""
    body = "".join(
        f"<item><guid>{g}</guid><link>{link}</link><title>{t}</title>"
        f"<pubDate>Fri, 20 Nov 2026 {10 + i % 10:02d}:00:00 -0500</pubDate>"
        f"<description>Summary of {t}</description></item>"
        for i, (g, link, t) in enumerate(items)
    )
    return (
        f'<?xml version="1.0" encoding="{encoding}"?>{extra_head}'
        f"<rss version='2.0'><channel><title>Test</title>{body}</channel></rss>"
    ).encode(encoding if encoding.lower() != "iso-8859-1" else "utf-8")


def items(n: int, prefix: str = "s") -> list[tuple[str, str, str]]:
    return [(f"guid-{prefix}{i}", f"{{base}}/{prefix}{i}.html", f"Story {prefix} {i}") for i in range(n)]


@dataclass
class Env:
    site: LocalSite
    settings: Settings
    store: Store
    stats: dict[str, int] = field(default_factory=dict)
    fetcher: Fetcher | None = None

    def feed(self, name: str, content: bytes) -> str:
        (self.site.root / name).write_bytes(content.replace(b"{base}", self.site.base_url.encode()))
        return f"{self.site.base_url}/{name}"

    def sync(self, *urls: str, kind: str = "feed") -> None:
        sources = [Source(url=u, type=kind, interval_minutes=30) for u in urls]  # type: ignore[arg-type]
        self.store.sync_outlets(
            FeedsConfig(
                outlets=[Outlet(id="test-outlet", name="Test Outlet", language="en", sources=sources)]
            )
        )

    def poll(self, now: datetime | None = None) -> dict[str, int]:
        self.stats = {}
        if self.fetcher is None:
            self.fetcher = Fetcher(policy_for(self.settings))

        def count(key: str, n: int) -> None:
            self.stats[key] = self.stats.get(key, 0) + n

        Poller(self.settings, self.store, self.fetcher, count).poll_due(now or datetime.now(UTC))
        return self.stats

    def source(self, url: str | None = None) -> SourceRow:
        with self.store.session() as s:
            q = select(SourceRow).where(SourceRow.kind == "feed")
            if url:
                q = q.where(SourceRow.listed_url == url)
            row = s.scalars(q).first()
            assert row is not None
            return row

    def entry_count(self) -> int:
        with self.store.session() as s:
            return int(s.scalar(select(func.count()).select_from(Entry)) or 0)

    def requests_for(self, path: str) -> list[dict[str, str]]:
        return [{k.lower(): v for k, v in h.items()} for p, h in self.site.requests if p == path]


@pytest.fixture
def env(local_site: LocalSite, settings: Settings, store: Store) -> Iterator[Env]:
    e = Env(local_site, settings, store)
    yield e
    if e.fetcher is not None:
        e.fetcher.close()


def later(source: SourceRow) -> datetime:
    """A moment just after the source's next check."""
    assert source.next_check_at is not None
    return source.next_check_at + timedelta(seconds=1)


def assert_rescheduled(env: Env, before: datetime) -> SourceRow:
    row = env.source()
    assert row.next_check_at is not None and row.next_check_at > before
    assert row.enabled  # never silently disabled
    return row


# ------------------------------------------------------------------ conditional requests


def test_304_flow_sends_stored_validators_after_a_restart(env: Env, settings: Settings) -> None:
    url = env.feed("feed.xml", rss(items(3)))
    env.sync(url)
    first = env.poll()
    assert first["new_entries"] == 3
    row = env.source()
    assert row.etag and row.last_modified
    env.store.close()

    env.store = Store.open(settings.db_url)  # a restart: new store, new HTTP session
    env.fetcher = None
    second = env.poll(later(row))
    sent = env.requests_for("/feed.xml")[-1]
    assert sent["if-none-match"] == row.etag
    assert sent["if-modified-since"] == row.last_modified
    assert second == {"polls": 1, "not_modified": 1}  # nothing parsed, nothing new
    after = assert_rescheduled(env, later(row))
    assert after.last_status == 304
    assert after.error_count == 0
    assert env.entry_count() == 3


def test_requests_to_one_host_arrive_spaced_by_the_delay(env: Env) -> None:
    urls = [env.feed(f"f{i}.xml", rss(items(2, f"f{i}"))) for i in range(8)]
    env.sync(*urls)
    env.settings.per_host_delay = 0.1
    env.poll()
    arrivals = sorted(env.site.arrivals)
    assert len(arrivals) == 8
    assert min(b - a for a, b in pairwise(arrivals)) >= 0.095  # what the publisher sees, not our intent


# ------------------------------------------------------------------ throttling and failures


def test_429_retry_after_is_honoured_and_other_feeds_of_the_host_wait(env: Env) -> None:
    a = env.feed("a.xml", rss(items(2, "a")))
    b = env.feed("b.xml", rss(items(2, "b")))
    env.sync(a, b)
    env.settings.per_host_connections = 1  # a is asked first, b waits behind it
    env.site.overrides["/a.xml"] = Override(429, b"slow down", {"Retry-After": "600"})
    now = datetime.now(UTC)
    stats = env.poll(now)
    assert stats["poll_errors"] == 1
    assert stats["deferred"] == 1  # b was never asked: the host said to wait
    assert env.requests_for("/b.xml") == []
    for url in (a, b):
        row = env.source(url)
        assert row.next_check_at is not None
        assert row.next_check_at >= now + timedelta(seconds=600 * 0.85)
    assert env.source(a).last_error == "HTTP 429"
    assert env.source(b).error_count == 0  # a host's wait is not b's failure


def test_retry_after_as_http_date_is_honoured(env: Env) -> None:
    url = env.feed("feed.xml", rss(items(1)))
    env.sync(url)
    when = datetime.now(UTC) + timedelta(hours=2)
    env.site.overrides["/feed.xml"] = Override(
        503, b"", {"Retry-After": when.strftime("%a, %d %b %Y %H:%M:%S GMT")}
    )
    env.poll()
    row = env.source()
    assert row.next_check_at is not None and row.next_check_at >= when - timedelta(minutes=1)


def test_500_backs_off_exponentially_then_recovers(env: Env) -> None:
    url = env.feed("feed.xml", rss(items(2)))
    env.sync(url)
    env.site.overrides["/feed.xml"] = Override(500, b"oops")
    now = datetime.now(UTC)
    env.poll(now)
    first = env.source()
    assert first.error_count == 1 and first.last_error == "HTTP 500"
    gap1 = first.next_check_at - now  # type: ignore[operator]
    now2 = later(first)
    env.poll(now2)
    second = env.source()
    assert second.error_count == 2
    gap2 = second.next_check_at - now2  # type: ignore[operator]
    # equal jitter: attempt n waits between half and all of interval * 2**n
    assert timedelta(minutes=15) <= gap1 <= timedelta(minutes=30)
    assert timedelta(minutes=30) <= gap2 <= timedelta(minutes=60)
    assert env.entry_count() == 0

    del env.site.overrides["/feed.xml"]
    env.poll(later(second))
    healed = assert_rescheduled(env, later(second))
    assert healed.error_count == 0 and healed.last_error is None and healed.failing_since is None
    assert env.entry_count() == 2


def test_failing_for_a_day_is_a_health_warning_never_a_disable(env: Env) -> None:
    url = env.feed("feed.xml", rss(items(2)))
    env.sync(url)
    env.poll()
    env.site.overrides["/feed.xml"] = Override(500, b"down")
    env.poll(later(env.source()))
    now = datetime.now(UTC)
    soon = {r["url"]: r for r in source_health(env.store, env.settings, now + timedelta(hours=2))}[url]
    assert soon["warning"] is None  # a blip is not a warning
    day = {r["url"]: r for r in source_health(env.store, env.settings, now + timedelta(hours=25))}[url]
    assert day["warning"] and str(day["warning"]).startswith("failing for 25 h")
    assert day["enabled"] is True
    assert env.entry_count() == 2


def test_quiet_source_is_a_health_warning(env: Env) -> None:
    url = env.feed("feed.xml", rss(items(6)))  # items an hour apart: usual gap 60 min
    env.sync(url)
    env.poll()
    row = env.source()
    assert row.typical_gap_minutes == pytest.approx(60)
    now = datetime.now(UTC)
    assert source_health(env.store, env.settings, now + timedelta(hours=2))[0]["warning"] is None
    quiet = source_health(env.store, env.settings, now + timedelta(hours=4))[0]["warning"]
    assert quiet and str(quiet).startswith("quiet: no new item for 4 h")


def test_schedule_adapts_to_how_often_a_source_publishes(env: Env) -> None:
    url = env.feed("feed.xml", rss(items(6)))
    env.sync(url)
    now = datetime.now(UTC)
    env.poll(now)
    row = env.source()
    # twice per 60-minute gap: 30 minutes, within ±15% jitter
    assert row.poll_minutes == pytest.approx(30)
    assert now + timedelta(minutes=25) <= row.next_check_at <= now + timedelta(minutes=35)  # type: ignore[operator]


# ------------------------------------------------------------------ caps and safety


def test_redirect_loop_is_an_error_and_the_source_is_rescheduled(env: Env) -> None:
    url = env.feed("feed.xml", rss(items(1)))
    env.sync(url)
    env.site.overrides["/feed.xml"] = Override(302, b"", {"Location": "/loop.xml"})
    env.site.overrides["/loop.xml"] = Override(302, b"", {"Location": "/feed.xml"})
    now = datetime.now(UTC)
    env.poll(now)
    row = assert_rescheduled(env, now)
    assert row.last_error and "redirects" in row.last_error


def test_permanent_redirect_moves_the_source_after_it_repeats(env: Env) -> None:
    old = env.feed("old.xml", rss(items(2)))
    new = env.feed("new.xml", rss(items(2)))
    env.sync(old)
    env.site.overrides["/old.xml"] = Override(301, b"", {"Location": "/new.xml"})
    now = datetime.now(UTC)
    for _ in range(2):
        env.poll(now)
        now = later(env.source())
        assert env.source().url == old
    assert env.source().redirect_url == new and env.source().redirect_count == 2
    env.poll(now)
    row = env.source()
    assert row.url == new and row.listed_url == old
    with env.store.session() as s:
        audit = s.scalars(select(AuditEntry).where(AuditEntry.action == "source_moved")).one()
    assert audit.detail == {"from": old, "to": new, "after": 3}
    env.sync(old)  # the feeds file still lists the old URL: same row, still moved, not disabled
    assert env.source(old).url == new and env.source(old).enabled
    env.poll(later(row))
    assert env.requests_for("/new.xml")[-1]["if-none-match"]  # fetched directly now
    assert env.entry_count() == 2


def test_temporary_redirects_never_move_a_source(env: Env) -> None:
    old = env.feed("old.xml", rss(items(1)))
    env.feed("new.xml", rss(items(1)))
    env.sync(old)
    env.site.overrides["/old.xml"] = Override(302, b"", {"Location": "/new.xml"})
    now = datetime.now(UTC)
    for _ in range(4):
        env.poll(now)
        now = later(env.source())
    assert env.source().url == old and env.source().redirect_count == 0


def test_slow_drip_server_is_cut_at_the_deadline(env: Env) -> None:
    url = env.feed("feed.xml", rss(items(1)))
    env.sync(url)
    env.settings.total_timeout = 1.0
    env.site.overrides["/feed.xml"] = Override(
        200, b"<rss>" + b" " * 200, {"Content-Type": "application/rss+xml"}, drip=0.05
    )
    started = time.monotonic()
    now = datetime.now(UTC)
    env.poll(now)
    assert time.monotonic() - started < 4  # the 10-second drip did not hold the poller
    row = assert_rescheduled(env, now)
    assert row.last_error and "deadline" in row.last_error


def test_oversized_response_is_refused_and_nothing_is_stored(env: Env) -> None:
    url = env.feed("feed.xml", rss(items(1)))
    env.sync(url)
    env.poll()
    huge = rss(items(2000))
    env.settings.max_response_bytes = 50_000
    env.feed("feed.xml", huge)
    env.fetcher = None
    env.poll(later(env.source()))
    row = env.source()
    assert row.last_error and "cap" in row.last_error
    assert env.entry_count() == 1


def test_html_instead_of_a_feed_is_an_error(env: Env) -> None:
    url = env.feed("feed.xml", rss(items(1)))
    env.sync(url)
    env.site.overrides["/feed.xml"] = Override(
        200, b"<!DOCTYPE html><html><body>Subscribe!</body></html>", {"Content-Type": "text/html"}
    )
    now = datetime.now(UTC)
    env.poll(now)
    row = assert_rescheduled(env, now)
    assert row.last_error == "got an HTML page (text/html) instead of a feed"


def test_wrong_declared_encoding_still_gives_readable_titles(env: Env) -> None:
    body = rss([("g1", "{base}/a.html", "Montréal adopte une motion")], encoding="iso-8859-1")
    url = env.feed("feed.xml", body)  # declared ISO-8859-1, bytes are UTF-8
    env.sync(url)
    env.poll()
    with env.store.session() as s:
        assert s.scalars(select(Entry.title)).one() == "Montréal adopte une motion"


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>
<rss version="2.0"><channel><title>&d;</title><item><title>&d;</title><link>http://x/1</link></item></channel></rss>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><item><title>&secret;</title><link>http://x/1</link></item></channel></rss>"""


@pytest.mark.parametrize("attack", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["dtd-bomb", "external-entity"])
def test_entity_attacks_are_refused_before_parsing(env: Env, attack: bytes) -> None:
    url = env.feed("feed.xml", rss(items(2)))
    env.sync(url)
    env.poll()
    env.feed("feed.xml", attack)
    env.fetcher = None
    env.poll(later(env.source()))
    row = assert_rescheduled(env, later(env.source()) - timedelta(days=1))
    assert row.last_error and "entit" in row.last_error.lower()
    assert env.entry_count() == 2  # what was stored before is untouched
    with env.store.session() as s:
        assert all("root:" not in t for t in s.scalars(select(Entry.title)))


def test_private_address_is_refused_when_the_guard_is_on(env: Env) -> None:
    url = env.feed("feed.xml", rss(items(1)))
    env.sync(url)
    env.settings.allow_private_networks = False
    now = datetime.now(UTC)
    env.poll(now)
    row = assert_rescheduled(env, now)
    assert row.last_error and row.last_error.startswith("refused non-public address 127.0.0.1")
    assert env.site.requests == []  # not one byte was sent


# ------------------------------------------------------------------ entries


def test_guid_changes_and_republished_items_make_no_duplicates(env: Env) -> None:
    stories = [
        ("g1", "{base}/one.html", "Council votes on budget"),
        ("g2", "{base}/two.html", "Rink reopens"),
    ]
    url = env.feed("feed.xml", rss(stories))
    env.sync(url)
    env.poll()
    assert env.entry_count() == 2
    changed = [
        ("new-guid-1", "{base}/one.html?utm_source=rss", "Council votes on budget"),  # new GUID, tracked URL
        ("new-guid-2", "{base}/2026/two-republished.html", "Rink reopens"),  # new GUID and URL, same story
        ("g3", "{base}/three.html", "Library extends hours"),  # really new
    ]
    env.feed("feed.xml", rss(changed))
    env.fetcher = None
    stats = env.poll(later(env.source()))
    assert stats["new_entries"] == 1
    with env.store.session() as s:
        assert sorted(s.scalars(select(Entry.title))) == [
            "Council votes on budget",
            "Library extends hours",
            "Rink reopens",
        ]


def test_time_zones_and_broken_dates(env: Env) -> None:
    dated = [
        ("a", "Eastern", "<pubDate>Fri, 20 Nov 2026 10:00:00 -0500</pubDate>"),
        ("b", "India", "<pubDate>Fri, 20 Nov 2026 20:30:00 +0530</pubDate>"),
        ("c", "Garbage", "<pubDate>yesterday-ish</pubDate>"),
        ("d", "Future", "<pubDate>Mon, 01 Jan 2099 00:00:00 GMT</pubDate>"),
        ("e", "Missing", ""),
    ]
    feed = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
        + "".join(
            f"<item><guid>{g}</guid><link>http://h/{g}</link><title>{t}</title>{d}</item>"
            for g, t, d in dated
        )
        + "</channel></rss>"
    ).encode()
    url = env.feed("feed.xml", feed)
    env.sync(url)
    before = datetime.now(UTC)
    env.poll()
    with env.store.session() as s:
        rows = {e.title: e for e in s.scalars(select(Entry))}
    assert rows["Eastern"].published_at == datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    assert rows["India"].published_at == datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    assert not rows["Eastern"].date_flagged and not rows["India"].date_flagged
    for title in ("Garbage", "Future", "Missing"):
        assert rows[title].date_flagged
        assert rows[title].published_at is not None and rows[title].published_at >= before - timedelta(
            seconds=1
        )


def test_malformed_feed_keeps_parsed_items_and_records_why(env: Env) -> None:
    broken = rss(items(2)).replace(b"</channel></rss>", b"<item><title>cut off")
    url = env.feed("feed.xml", broken)
    env.sync(url)
    env.poll()
    row = env.source()
    assert env.entry_count() == 2
    assert row.parse_note and row.error_count == 0


def test_news_sitemap_is_a_source_type(env: Env) -> None:
    sitemap = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
 xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
<url><loc>{base}/news/1.html</loc><news:news><news:publication><news:name>Test</news:name>
<news:language>fr</news:language></news:publication>
<news:publication_date>2026-11-20T10:00:00-05:00</news:publication_date>
<news:title>Conseil municipal</news:title></news:news></url>
</urlset>"""
    url = env.feed("news-sitemap.xml", sitemap)
    env.sync(url, kind="sitemap")
    env.poll()
    with env.store.session() as s:
        entry = s.scalars(select(Entry)).one()
    assert (entry.title, entry.language) == ("Conseil municipal", "fr")
    assert entry.url == f"{env.site.base_url}/news/1.html"
    assert entry.published_at == datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def test_lease_keeps_a_second_poller_off_claimed_sources(env: Env) -> None:
    url = env.feed("feed.xml", rss(items(1)))
    env.sync(url)
    now = datetime.now(UTC)
    assert len(env.store.due_sources(now, lease=timedelta(minutes=15))) == 1
    assert env.store.due_sources(now) == []  # claimed
    assert len(env.store.due_sources(now + timedelta(minutes=16))) == 1  # a dead poller gives it back
