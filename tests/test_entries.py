"""Feed items -> entries: canonical URLs, GUIDs, UTC dates, malformed feeds (pipeline/entries.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline.entries import canonical_url, entry_guid, fingerprint, parse_feed, plain_text

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


CANONICAL_CASES = [
    # publishers' campaign and click tags go, the article id stays, in place
    (
        "https://news.example/a?_ga=2.1&id=7&mkt_tok=abc&igshid=x&at_medium=rss&at_campaign=c"
        "&cmp=rss&xtor=RSS-1&ito=1&page=2",
        "https://news.example/a?id=7&page=2",
    ),
    ("https://news.example/a?utm_source=rss", "https://news.example/a"),  # nothing left: no "?"
    ("https://news.example/a?", "https://news.example/a"),
    ("https://news.example/a?&&id=1&", "https://news.example/a?id=1"),
    # international host names become punycode
    ("https://Bücher.Example/livres", "https://xn--bcher-kva.example/livres"),
    ("https://nouvelles.québec/article", "https://nouvelles.xn--qubec-csa/article"),
    # escapes: upper-case hex, unreserved characters unescaped, reserved ones kept escaped
    ("https://news.example/%7estaff/%41rt%2fx", "https://news.example/~staff/Art%2Fx"),
    ("https://news.example/caf%c3%a9", "https://news.example/caf%C3%A9"),
    ("https://news.example/café rue", "https://news.example/caf%C3%A9%20rue"),  # as a browser sends it
    # the query is filtered, not re-encoded: these must stay fetchable as written
    ("https://news.example/story.php?12345", "https://news.example/story.php?12345"),
    ("https://news.example/s?q=gaza+ceasefire&u=https://x.example/y", None),
    ("https://news.example/s?q=%e9t%C3%A9", "https://news.example/s?q=%E9t%C3%A9"),
    # repeated slashes are kept: servers may route them differently
    ("https://news.example//world//story", None),
    ("http://[2001:db8::1]:8080/x", None),
    ("https://news.example./x", "https://news.example/x"),
    ("https://reader:secret@news.example/x", "https://news.example/x"),
    ("https://news.example:notaport/x", "https://news.example:notaport/x"),  # kept, never raises
]


@pytest.mark.parametrize(("url", "expected"), CANONICAL_CASES)
def test_canonical_url_normalises_and_is_idempotent(url: str, expected: str | None) -> None:
    result = canonical_url(url)
    assert result == (expected or url)
    assert canonical_url(result) == result


def test_canonical_url_makes_escaped_and_raw_forms_equal() -> None:
    assert canonical_url("https://news.example/%C3%A9t%c3%a9") == canonical_url("https://news.example/été")


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


def test_html_page_is_reported_as_not_a_feed() -> None:
    html = b"<!DOCTYPE html><html><head><title>Home</title></head><body><p>Hello</body></html>"
    parsed = parse_feed(html, "https://news.example/", FETCHED, "text/html; charset=utf-8")
    assert parsed.entries == []
    assert parsed.bozo is not None and parsed.bozo.startswith("not a feed: HTML page")


@pytest.mark.parametrize(
    "body",
    [
        b'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><body><p>x</p></body></html>',
        b'{"version": "https://jsonfeed.org/version/1.1", "items": []}',
        b"<sitemap><loc>https://news.example/a</loc></sitemap>",
    ],
)
def test_well_formed_non_feed_is_reported_as_not_a_feed(body: bytes) -> None:
    parsed = parse_feed(body, FEED_URL, FETCHED)
    assert parsed.entries == []
    assert parsed.bozo is not None and parsed.bozo.startswith("not a feed")


def test_feed_with_no_items_is_a_feed() -> None:
    parsed = parse_feed(_rss(""), FEED_URL, FETCHED)
    assert parsed.entries == [] and parsed.bozo is None and parsed.title == "Example News"


def test_body_that_names_a_local_file_is_not_read(tmp_path: Path) -> None:
    feed = tmp_path / "feed.xml"
    feed.write_bytes(_rss(_item("Secret", "https://news.example/secret")))
    parsed = parse_feed(str(feed).encode(), FEED_URL, FETCHED)
    assert parsed.entries == []
    assert parsed.bozo is not None and parsed.bozo.startswith("not a feed")


# ------------------------------------------------------------------ character encodings

MONTREAL = "Montréal : la marche"


def _encoded(declared: str | None, actual: str) -> bytes:
    decl = f' encoding="{declared}"' if declared else ""
    return (
        f'<?xml version="1.0"{decl}?><rss version="2.0"><channel><title>Le Fil</title>'
        f"<item><title>{MONTREAL}</title><link>https://fil.example/m</link></item></channel></rss>"
    ).encode(actual)


ENCODING_CASES = [
    # (XML declaration, real encoding of the bytes, HTTP Content-Type, bozo expected)
    ("utf-8", "utf-8", "application/rss+xml", False),
    ("ISO-8859-1", "iso-8859-1", "application/xml", False),
    ("windows-1252", "cp1252", "text/xml; charset=windows-1252", False),
    ("ISO-8859-1", "utf-8", "application/xml", True),  # declaration lies: bytes are UTF-8
    ("utf-8", "iso-8859-1", "application/xml", True),  # declaration lies: bytes are Latin-1
    (None, "iso-8859-1", "application/xml", True),  # no declaration, not UTF-8
    ("utf-8", "utf-8", "application/xml; charset=ISO-8859-1", True),  # HTTP header lies
    ("iso-8859-1", "iso-8859-1", "text/xml; charset=utf-8", True),  # HTTP header lies
    ("utf-8", "utf-8", "text/xml", False),  # text/xml without charset: UTF-8 bytes are fine
    ("utf-8", "utf-8", "text/html", False),  # feeds served with the wrong type still parse
    ("utf-8", "utf-8", "", False),
]


@pytest.mark.parametrize(("declared", "actual", "content_type", "bozo"), ENCODING_CASES)
def test_titles_are_readable_whatever_the_declared_encoding(
    declared: str | None, actual: str, content_type: str, bozo: bool
) -> None:
    parsed = parse_feed(_encoded(declared, actual), "https://fil.example/rss", FETCHED, content_type)
    assert [e.title for e in parsed.entries] == [MONTREAL]
    assert bool(parsed.bozo) is bozo


def test_utf8_read_despite_declaration_says_so() -> None:
    parsed = parse_feed(_encoded("ISO-8859-1", "utf-8"), "https://fil.example/rss", FETCHED)
    assert parsed.bozo is not None and "UTF-8" in parsed.bozo and "8859-1" in parsed.bozo


def test_utf16_with_bom_is_left_to_the_parser() -> None:
    body = _encoded("utf-16", "utf-16")
    assert [e.title for e in parse_feed(body, "https://fil.example/rss", FETCHED).entries] == [MONTREAL]


# ------------------------------------------------------------------ titles and text

TITLE_CASES = [
    ("&lt;b&gt;Breaking:&lt;/b&gt; council votes", "Breaking: council votes"),
    ("<![CDATA[<b>Bold</b> &amp; <i>brave</i>]]>", "Bold & brave"),
    ("<![CDATA[<p>First line</p><p>second line</p>]]>", "First line second line"),
    ("<![CDATA[Montr&eacute;al &mdash; vote]]>", "Montréal — vote"),
    ("&lt;script&gt;alert(1)&lt;/script&gt;Harbour opens", "Harbour opens"),
    ("&amp;lt;em&amp;gt;Escaped twice&amp;lt;/em&amp;gt;", "Escaped twice"),
    ("AT&amp;T and R&amp;D &lt;3 budgets", "AT&T and R&D <3 budgets"),
    ("3 &lt; 5 &amp;&amp; 7 &gt; 2", "3 < 5 && 7 > 2"),
    ("  Line\n\tbreaks&#160;and&nbsp;spaces  ", "Line breaks and spaces"),
    ("&lt;!-- teaser --&gt;Ferry delayed", "Ferry delayed"),
]


@pytest.mark.parametrize(("raw", "expected"), TITLE_CASES)
def test_titles_are_plain_text(raw: str, expected: str) -> None:
    body = _rss(_item(raw, "https://news.example/t")).replace(b"&nbsp;", b"&#160;")
    assert parse_feed(body, FEED_URL, FETCHED).entries[0].title == expected


def test_plain_text_drops_scripts_styles_and_comments() -> None:
    markup = "<style>p{color:red}</style><p>Kept <!-- note --><SCRIPT>x()</SCRIPT>text.</p>"
    assert plain_text(markup) == "Kept text."


def test_summary_is_plain_text() -> None:
    summary = "<![CDATA[<p><img src='/a.jpg'>Le conseil a <b>voté</b>.</p><script>track()</script>]]>"
    body = _rss(_item("Vote", "https://news.example/v", f"<description>{summary}</description>"))
    assert parse_feed(body, FEED_URL, FETCHED).entries[0].summary == "Le conseil a voté."


def test_feed_language_and_entry_xml_lang() -> None:
    body = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Le Fil</title>'
        "<language>fr-CA</language>"
        f"{_item('Nouvelles', 'https://fil.example/1')}</channel></rss>"
    ).encode()
    assert parse_feed(body, FEED_URL, FETCHED).entries[0].language == "fr"
    atom = ATOM.replace(b"<entry>", b'<entry xml:lang="fr-CA">', 1)
    first, second = parse_feed(atom, "https://lakeside.example/feed.atom", FETCHED).entries
    assert (first.language, second.language) == ("fr", None)


def test_authors_are_plain_and_unique() -> None:
    extra = "<dc:creator>Sam &lt;b&gt;Okafor&lt;/b&gt;</dc:creator><dc:creator>Sam Okafor</dc:creator>"
    body = _rss(_item("Bylined", "https://news.example/b", extra))
    assert parse_feed(body, FEED_URL, FETCHED).entries[0].authors == ["Sam Okafor"]


# ------------------------------------------------------------------ which items are usable, and their GUIDs

URL_CASES = [
    # (item XML, expected URL or None when the item is skipped)
    ("<guid>https://news.example/p/1?utm_source=rss</guid>", "https://news.example/p/1"),  # permalink
    ('<guid isPermaLink="true">http://news.example/p/2</guid>', "http://news.example/p/2"),
    ('<guid isPermaLink="false">https://news.example/p/3</guid>', None),  # not a permalink
    ("<guid>20261120-0042</guid>", None),  # a permalink by default, but not a URL
    ("<guid>/p/4</guid>", None),  # relative: not an http(s) URL
    ("<link>/world/5</link>", "https://news.example/world/5"),  # relative link: against the feed URL
    ("<link>story/6</link>", "https://news.example/feeds/story/6"),
    ("<link>//cdn.news.example/7</link>", "https://cdn.news.example/7"),
    ("<link>javascript:void(0)</link>", None),
    ("<link>mailto:desk@news.example</link>", None),
    ("<guid>20261120-0043</guid><link>https://news.example/p/8</link>", "https://news.example/p/8"),
]


@pytest.mark.parametrize(("extra", "expected"), URL_CASES)
def test_only_items_with_an_http_url_are_kept(extra: str, expected: str | None) -> None:
    body = _rss(f"<item><title>Story</title>{extra}</item>")
    parsed = parse_feed(body, "https://news.example/feeds/main.xml", FETCHED)
    assert [e.url for e in parsed.entries] == ([expected] if expected else [])


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("<id>urn:uuid:9a1c2d</id>", None),  # an Atom id that is no URL: nothing to fetch
        ("<id>https://lakeside.example/s/9</id>", "https://lakeside.example/s/9"),
        ('<id>urn:uuid:9a1c2e</id><link href="s/10"/>', "https://lakeside.example/feeds/s/10"),
    ],
)
def test_atom_entry_without_link_needs_an_http_id(entry: str, expected: str | None) -> None:
    body = (
        '<feed xmlns="http://www.w3.org/2005/Atom"><title>L</title>'
        f"<entry><title>Story</title>{entry}</entry></feed>"
    ).encode()
    parsed = parse_feed(body, "https://lakeside.example/feeds/all.atom", FETCHED)
    assert [e.url for e in parsed.entries] == ([expected] if expected else [])


def test_guid_is_the_feeds_own_id_even_when_it_looks_like_a_path() -> None:
    body = _rss(_item("Story", "https://news.example/s", "<guid>20261120-0042</guid>"))
    assert parse_feed(body, FEED_URL, FETCHED).entries[0].guid == "20261120-0042"


def test_entry_guid_falls_back_to_url_then_to_a_stable_hash() -> None:
    day = datetime(2026, 11, 19, 8, 0, tzinfo=UTC)
    assert entry_guid(" n-1 ", "https://news.example/a", "T", day) == "n-1"
    assert entry_guid("  ", "https://news.example/a", "T", day) == "https://news.example/a"
    hashed = entry_guid("", "", "Council votes", day)
    assert re.fullmatch(r"hash:[0-9a-f]{32}", hashed)
    assert entry_guid("", "", "Council votes", day) == hashed
    assert entry_guid("", "", "Council votes", day + timedelta(days=1)) != hashed
    assert entry_guid("", "", "Council vetoes", day) != hashed
    assert entry_guid("", "", "Council votes", None) != hashed


# ------------------------------------------------------------------ fingerprint

STORY = "Harbour ferry strike ends after 3 days"
STORY_SUMMARY = "Crews on the Lakeside ferry returned to work on Tuesday after a tentative deal."


@pytest.mark.parametrize(
    ("title", "summary"),
    [
        ("HARBOUR FERRY STRIKE ENDS AFTER 3 DAYS", STORY_SUMMARY),
        ("Harbour ferry strike ends — after 3 days!", STORY_SUMMARY),
        ("  Harbour   ferry\nstrike ends after 3 days. ", STORY_SUMMARY.replace(" ", "  ")),
        ("<b>Harbour ferry strike</b> ends after 3 days", f"<p>{STORY_SUMMARY}</p>"),
        ("Harbour ferry strike ends after 3&#160;days", STORY_SUMMARY.upper()),
    ],
)
def test_fingerprint_ignores_case_punctuation_spacing_and_markup(title: str, summary: str) -> None:
    assert fingerprint(title, summary) == fingerprint(STORY, STORY_SUMMARY)


def test_fingerprint_reads_only_the_start_of_the_summary() -> None:
    lead = STORY_SUMMARY + " Service resumes at dawn." * 8  # over 200 letters and digits
    assert fingerprint(STORY, lead + " Updated.") == fingerprint(STORY, lead + " Corrected: spelling.")
    assert fingerprint(STORY, lead) != fingerprint(STORY, "Ferry crews " + lead)


@pytest.mark.parametrize(
    ("title", "summary"),
    [
        ("Harbour ferry strike begins", STORY_SUMMARY),
        (STORY, "Crews on the Northshore ferry walked out on Tuesday after talks broke down."),
        ("Harbour ferry strike ends after 4 days", STORY_SUMMARY),
    ],
)
def test_fingerprint_of_a_different_story_differs(title: str, summary: str) -> None:
    assert fingerprint(title, summary) != fingerprint(STORY, STORY_SUMMARY)


@pytest.mark.parametrize("title", ["", "   ", "<b></b>", "!!! — ???"])
def test_fingerprint_is_empty_without_a_title(title: str) -> None:
    assert fingerprint(title, STORY_SUMMARY) == ""


def test_republished_story_with_new_guid_and_tracking_url_keeps_its_fingerprint() -> None:
    def feed(guid: str, link: str, title: str) -> bytes:
        desc = f"<description>&lt;p&gt;{STORY_SUMMARY}&lt;/p&gt;</description>"
        return _rss(_item(title, link, f'<guid isPermaLink="false">{guid}</guid>{desc}'))

    first = parse_feed(feed("cms-1001", "https://news.example/ferry", STORY), FEED_URL, FETCHED)
    again = parse_feed(
        feed("cms-2002", "https://news.example/ferry-strike?utm_source=rss&cmp=feed", STORY + "."),
        FEED_URL,
        FETCHED,
    )
    a, b = first.entries[0], again.entries[0]
    assert a.guid != b.guid and a.url != b.url
    assert re.fullmatch(r"[0-9a-f]{16}", fingerprint(a.title, a.summary))
    assert fingerprint(a.title, a.summary) == fingerprint(b.title, b.summary)


# ------------------------------------------------------------------ dates in one feed

DATE_CASES = [
    # (pubDate, expected UTC date or None when replaced by the fetch time and flagged)
    ("Tue, 17 Nov 2026 09:30:00 -0500", datetime(2026, 11, 17, 14, 30, tzinfo=UTC)),
    ("Tue, 17 Nov 2026 20:00:00 +0530", datetime(2026, 11, 17, 14, 30, tzinfo=UTC)),
    ("Tue, 17 Nov 2026 09:30:00 EST", datetime(2026, 11, 17, 14, 30, tzinfo=UTC)),
    ("Tue, 17 Nov 2026 14:30:00 GMT", datetime(2026, 11, 17, 14, 30, tzinfo=UTC)),
    ("Fri, 17 Nov 2026 09:30:00 -0500", datetime(2026, 11, 17, 14, 30, tzinfo=UTC)),  # wrong weekday
    ("Tue, 17 Nov 2026 14:30:00", datetime(2026, 11, 17, 14, 30, tzinfo=UTC)),  # no zone: UTC
    ("2026-11-17T14:30:00", datetime(2026, 11, 17, 14, 30, tzinfo=UTC)),  # no zone: UTC
    ("2026-11-17T09:30:00-05:00", datetime(2026, 11, 17, 14, 30, tzinfo=UTC)),
    ("last Tuesday", None),
    ("Tue, 31 Feb 2026 10:00:00 GMT", None),
    ("Thu, 01 Jan 1970 00:00:00 GMT", None),
    ("Thu, 01 Jan 2099 00:00:00 GMT", None),
    ("", None),
]


def test_mixed_dates_in_one_feed_are_utc_or_flagged() -> None:
    items = "".join(
        _item(f"Item {i}", f"https://news.example/{i}", f"<pubDate>{d}</pubDate>")
        for i, (d, _) in enumerate(DATE_CASES)
    )
    parsed = parse_feed(_rss(items), FEED_URL, FETCHED)
    got = [(e.published, e.date_flagged) for e in parsed.entries]
    expected = [(when or FETCHED, when is None) for _, when in DATE_CASES]
    assert got == expected
    assert all(e.published is not None and e.published.utcoffset() == timedelta(0) for e in parsed.entries)


def test_unreadable_published_date_falls_back_to_updated() -> None:
    atom = ATOM.replace(b"2026-11-18T10:15:00-05:00", b"sometime in November")
    first = parse_feed(atom, "https://lakeside.example/feed.atom", FETCHED).entries[0]
    assert (first.published, first.date_flagged) == (datetime(2026, 11, 18, 16, 0, tzinfo=UTC), False)
