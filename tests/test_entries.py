"""Feed items -> entries: canonical URLs, GUIDs, UTC dates, malformed feeds (pipeline/entries.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pipeline.entries import canonical_url, parse_feed

FETCHED = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
FEED_URL = "https://news.example/feed.xml"


def _rss(items: str, channel_title: str = "Example News") -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        f"<title>{channel_title}</title><link>https://news.example/</link>"
        "<description>Test feed</description>"
        f"{items}</channel></rss>"
    ).encode()


def _item(title: str, link: str, extra: str = "") -> str:
    return f"<item><title>{title}</title><link>{link}</link>{extra}</item>"


ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Lakeside Atom</title>
  <id>tag:lakeside.example,2026:feed</id>
  <updated>2026-11-19T00:00:00Z</updated>
  <entry>
    <title>Élection   partielle
      à Québec</title>
    <id>tag:lakeside.example,2026:story-1</id>
    <link rel="alternate" href="https://lakeside.example/story-1?utm_campaign=atom#top"/>
    <published>2026-11-18T10:15:00-05:00</published>
    <updated>2026-11-18T16:00:00+00:00</updated>
    <author><name>Jo Tremblay</name></author>
    <summary>Résumé court.</summary>
  </entry>
  <entry>
    <title>Relative link</title>
    <id>tag:lakeside.example,2026:story-2</id>
    <link rel="alternate" href="/local/story-2"/>
    <updated>2026-11-19T23:30:00+05:30</updated>
  </entry>
</feed>
""".encode()


# ------------------------------------------------------------------ canonical_url


def test_canonical_url_drops_tracking_parameters_and_fragment() -> None:
    url = "https://news.example/a/story?utm_source=tw&id=42&fbclid=XYZ&UTM_Medium=social&gclid=1#comments"
    assert canonical_url(url) == "https://news.example/a/story?id=42"


def test_canonical_url_lowercases_scheme_and_host_not_path() -> None:
    assert canonical_url("HTTPS://News.EXAMPLE.com/World/Story") == "https://news.example.com/World/Story"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://news.example:443/x", "https://news.example/x"),
        ("http://news.example:80/x", "http://news.example/x"),
        ("http://news.example:8080/x", "http://news.example:8080/x"),
        ("https://news.example:80/x", "https://news.example:80/x"),
    ],
)
def test_canonical_url_drops_only_default_ports(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_canonical_url_keeps_meaningful_query_in_order() -> None:
    assert canonical_url("https://news.example/s?page=2&q=gaza") == "https://news.example/s?page=2&q=gaza"


def test_canonical_url_gives_empty_path_a_slash() -> None:
    assert canonical_url("https://News.example") == "https://news.example/"


def test_canonical_url_is_idempotent() -> None:
    once = canonical_url("HTTPS://News.example:443/a?b=1&utm_x=2#f")
    assert canonical_url(once) == once


# ------------------------------------------------------------------ RSS


def test_rss_items_become_entries_with_canonical_urls() -> None:
    body = _rss(
        _item(
            "First story", "https://news.example/first?utm_source=rss", '<guid isPermaLink="false">n-1</guid>'
        )
        + _item("Second story", "https://news.example/second", '<guid isPermaLink="false">n-2</guid>')
    )
    parsed = parse_feed(body, FEED_URL, FETCHED)
    assert parsed.title == "Example News"
    assert [e.title for e in parsed.entries] == ["First story", "Second story"]
    assert parsed.entries[0].url == "https://news.example/first"
    assert [e.guid for e in parsed.entries] == ["n-1", "n-2"]


@pytest.mark.parametrize(
    ("pub_date", "expected"),
    [
        ("Tue, 17 Nov 2026 09:30:00 -0500", datetime(2026, 11, 17, 14, 30, tzinfo=UTC)),
        ("Tue, 17 Nov 2026 16:00:00 +0200", datetime(2026, 11, 17, 14, 0, tzinfo=UTC)),
        ("Tue, 17 Nov 2026 14:00:00 GMT", datetime(2026, 11, 17, 14, 0, tzinfo=UTC)),
        ("Tue, 17 Nov 2026 07:00:00 -0700", datetime(2026, 11, 17, 14, 0, tzinfo=UTC)),
        ("Tue, 17 Nov 2026 19:30:00 +0530", datetime(2026, 11, 17, 14, 0, tzinfo=UTC)),
    ],
)
def test_rss_dates_are_converted_to_utc(pub_date: str, expected: datetime) -> None:
    body = _rss(_item("Dated", "https://news.example/d", f"<pubDate>{pub_date}</pubDate>"))
    entry = parse_feed(body, FEED_URL, FETCHED).entries[0]
    assert entry.published == expected
    assert entry.published is not None and entry.published.utcoffset() == timedelta(0)
    assert entry.date_flagged is False


def test_missing_date_is_replaced_by_fetch_time_and_flagged() -> None:
    entry = parse_feed(_rss(_item("Undated", "https://news.example/u")), FEED_URL, FETCHED).entries[0]
    assert entry.published == FETCHED
    assert entry.date_flagged is True


@pytest.mark.parametrize(
    "pub_date",
    [
        "Sat, 17 Nov 2040 09:30:00 GMT",  # far future
        "Mon, 01 Jan 1900 00:00:00 GMT",  # before the web
        "Sun, 22 Nov 2026 12:00:00 GMT",  # two days ahead of the fetch
    ],
)
def test_absurd_dates_are_replaced_by_fetch_time_and_flagged(pub_date: str) -> None:
    body = _rss(_item("Odd date", "https://news.example/o", f"<pubDate>{pub_date}</pubDate>"))
    entry = parse_feed(body, FEED_URL, FETCHED).entries[0]
    assert entry.published == FETCHED
    assert entry.date_flagged is True


def test_date_a_few_hours_ahead_is_believed() -> None:
    body = _rss(_item("Soon", "https://news.example/s", "<pubDate>Fri, 20 Nov 2026 18:00:00 GMT</pubDate>"))
    entry = parse_feed(body, FEED_URL, FETCHED).entries[0]
    assert entry.published == datetime(2026, 11, 20, 18, 0, tzinfo=UTC)
    assert entry.date_flagged is False


def test_item_without_guid_uses_its_canonical_link() -> None:
    body = _rss(_item("No guid", "https://News.example/no-guid?utm_medium=feed#x"))
    entry = parse_feed(body, FEED_URL, FETCHED).entries[0]
    assert entry.guid == "https://news.example/no-guid"
    assert entry.guid == entry.url


def test_item_without_link_is_skipped() -> None:
    body = _rss(
        '<item><title>Link-less</title><guid isPermaLink="false">x-1</guid></item>'
        + _item("Linked", "https://news.example/l")
    )
    parsed = parse_feed(body, FEED_URL, FETCHED)
    assert [e.title for e in parsed.entries] == ["Linked"]


def test_dc_creator_becomes_author() -> None:
    body = _rss(_item("Bylined", "https://news.example/b", "<dc:creator>Sam Okafor</dc:creator>"))
    assert parse_feed(body, FEED_URL, FETCHED).entries[0].authors == ["Sam Okafor"]


def test_well_formed_feed_is_not_marked_bozo() -> None:
    body = _rss(_item("Fine", "https://news.example/f", '<guid isPermaLink="false">f-1</guid>'))
    assert parse_feed(body, FEED_URL, FETCHED).bozo is None


# ------------------------------------------------------------------ Atom


def test_atom_entries_get_ids_utc_dates_authors_and_clean_titles() -> None:
    parsed = parse_feed(ATOM, "https://lakeside.example/feed.atom", FETCHED)
    assert parsed.title == "Lakeside Atom"
    first, second = parsed.entries
    assert first.guid == "tag:lakeside.example,2026:story-1"
    assert first.url == "https://lakeside.example/story-1"
    assert first.title == "Élection partielle à Québec"  # whitespace collapsed
    # <published> wins over <updated>; -05:00 converted to UTC
    assert first.published == datetime(2026, 11, 18, 15, 15, tzinfo=UTC)
    assert first.authors == ["Jo Tremblay"]
    assert first.summary == "Résumé court."
    assert second.published == datetime(2026, 11, 19, 18, 0, tzinfo=UTC)  # +05:30


def test_atom_relative_link_is_resolved_against_feed_url() -> None:
    parsed = parse_feed(ATOM, "https://lakeside.example/feeds/main.atom", FETCHED)
    assert parsed.entries[1].url == "https://lakeside.example/local/story-2"


# ------------------------------------------------------------------ broken input


def test_malformed_feed_keeps_items_parsed_before_the_error() -> None:
    good = _item("Good one", "https://news.example/1") + _item("Good two", "https://news.example/2")
    broken = "<item><title>Broken<link>https://news.example/3</link></item>"  # <title> never closed
    body = _rss(good + broken + _item("After", "https://news.example/4"))
    parsed = parse_feed(body, FEED_URL, FETCHED)
    assert [e.title for e in parsed.entries][:2] == ["Good one", "Good two"]
    assert "https://news.example/1" in {e.url for e in parsed.entries}
    assert parsed.bozo


def test_truncated_feed_keeps_complete_items_and_sets_bozo() -> None:
    body = _rss(_item("One", "https://news.example/1") + _item("Two", "https://news.example/2"))
    body = body[: body.index(b"</channel>")] + b"<item><title>Thr"
    parsed = parse_feed(body, FEED_URL, FETCHED)
    assert [e.title for e in parsed.entries][:2] == ["One", "Two"]
    assert parsed.bozo


def test_html_page_instead_of_feed_gives_no_entries_and_bozo() -> None:
    html = (
        b"<!DOCTYPE html><html><head><title>Home | Example News</title></head>"
        b"<body><nav><a href='/world'>World</a></nav><p>Welcome <b>reader</p></body></html>"
    )
    parsed = parse_feed(html, "https://news.example/", FETCHED)
    assert parsed.entries == []
    assert parsed.bozo


def test_empty_body_gives_no_entries_and_bozo() -> None:
    parsed = parse_feed(b"", FEED_URL, FETCHED)
    assert parsed.entries == []
    assert parsed.bozo


def test_whitespace_body_gives_no_entries_and_bozo() -> None:
    parsed = parse_feed(b"  \n ", FEED_URL, FETCHED)
    assert parsed.entries == []
    assert parsed.bozo
