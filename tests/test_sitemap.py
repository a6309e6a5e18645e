"""News sitemaps -> entries: URLs, titles, UTC dates, language, malformed input (pipeline/sitemap.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipeline.records import FeedParse
from pipeline.sitemap import INDEX_MESSAGE, parse_news_sitemap
from pipeline.xmlguard import UnsafeXMLError

FETCHED = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
BASE = "https://www.lakeshore-courier.example/sitemaps/news.xml"


def _news_url(
    loc: str,
    title: str = "",
    date: str | None = None,
    lang: str = "en",
    name: str = "The Lakeshore Courier",
    keywords: str | None = None,
    lastmod: str | None = None,
) -> str:
    parts = [f"<url><loc>{loc}</loc><news:news>"]
    parts.append(f"<news:publication><news:name>{name}</news:name><news:language>{lang}</news:language>")
    parts.append("</news:publication>")
    if date is not None:
        parts.append(f"<news:publication_date>{date}</news:publication_date>")
    parts.append(f"<news:title>{title}</news:title>")
    if keywords is not None:
        parts.append(f"<news:keywords>{keywords}</news:keywords>")
    parts.append("</news:news>")
    if lastmod is not None:
        parts.append(f"<lastmod>{lastmod}</lastmod>")
    return "".join(parts) + "</url>\n"


def _urlset(urls: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"\n'
        '        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"\n'
        '        xmlns:image="http://www.google.com/schemas/sitemap-image/1.1">\n'
        f"{urls}</urlset>\n"
    ).encode()


EN_SITEMAP = _urlset(
    _news_url(
        "https://www.lakeshore-courier.example/news/2026/11/18/harbour-bridge-repairs?utm_source=sitemap",
        title="Harbour bridge   repairs to\n close two lanes until spring",
        date="2026-11-18T10:15:00-05:00",
        keywords="infrastructure, transit, harbour",
        lastmod="2026-11-18T16:00:00Z",
    )
    + _news_url(
        "https://www.lakeshore-courier.example/news/2026/11/19/school-board-budget",
        title="School board weighs budget for new library wing",
        date="2026-11-19T08:30:00Z",
    )
)
FR_SITEMAP = _urlset(
    _news_url(
        "https://www.echo-des-berges.example/actualites/2026/11/17/marche-public-rouvre",
        title="Le marché public rouvre ses portes après les travaux",
        date="2026-11-17T07:00:00+01:00",
        lang="FR",
        name="L’Écho des Berges",
        keywords="commerce, centre-ville",
    )
)


def _parse(body: bytes, base: str = BASE) -> FeedParse:
    return parse_news_sitemap(body, base, FETCHED)


def test_english_news_sitemap() -> None:
    parsed = _parse(EN_SITEMAP)
    assert parsed.bozo is None
    assert parsed.title == "The Lakeshore Courier"
    first, second = parsed.entries
    assert first.url == "https://www.lakeshore-courier.example/news/2026/11/18/harbour-bridge-repairs"
    assert first.guid.endswith("harbour-bridge-repairs?utm_source=sitemap")  # the loc as given
    assert first.title == "Harbour bridge repairs to close two lanes until spring"
    assert first.summary == "infrastructure, transit, harbour"
    assert first.language == "en"
    assert first.published == datetime(2026, 11, 18, 15, 15, tzinfo=UTC)  # publication_date beats lastmod
    assert first.date_flagged is False
    assert first.authors == []
    assert second.title == "School board weighs budget for new library wing"
    assert second.summary == ""
    assert second.published == datetime(2026, 11, 19, 8, 30, tzinfo=UTC)


def test_french_news_sitemap() -> None:
    parsed = _parse(FR_SITEMAP, "https://www.echo-des-berges.example/sitemap-news.xml")
    assert parsed.title == "L’Écho des Berges"
    (entry,) = parsed.entries
    assert entry.title == "Le marché public rouvre ses portes après les travaux"
    assert entry.language == "fr"
    assert entry.published == datetime(2026, 11, 17, 6, 0, tzinfo=UTC)
    assert entry.published.tzinfo == UTC


@pytest.mark.parametrize(
    ("date", "expected"),
    [
        ("2026-11-18", datetime(2026, 11, 18, tzinfo=UTC)),
        ("2026-11-18T23:30:00-08:00", datetime(2026, 11, 19, 7, 30, tzinfo=UTC)),
        ("2026-11-18T10:15+05:30", datetime(2026, 11, 18, 4, 45, tzinfo=UTC)),
        ("2026-11-18T10:15:00.250Z", datetime(2026, 11, 18, 10, 15, 0, 250_000, tzinfo=UTC)),
        ("2026-11-18T10:15:00", datetime(2026, 11, 18, 10, 15, tzinfo=UTC)),  # no offset: taken as UTC
        ("Wed, 18 Nov 2026 10:15:00 -0500", datetime(2026, 11, 18, 15, 15, tzinfo=UTC)),
    ],
)
def test_dates_are_converted_to_utc(date: str, expected: datetime) -> None:
    (entry,) = _parse(_urlset(_news_url("https://a.example/story", date=date))).entries
    assert (entry.published, entry.date_flagged) == (expected, False)


def test_lastmod_is_used_when_there_is_no_publication_date() -> None:
    body = _urlset(_news_url("https://a.example/story", lastmod="2026-11-15T09:00:00+00:00"))
    (entry,) = _parse(body).entries
    assert (entry.published, entry.date_flagged) == (datetime(2026, 11, 15, 9, 0, tzinfo=UTC), False)


@pytest.mark.parametrize(
    "url",
    [
        _news_url("https://a.example/no-date"),
        _news_url("https://a.example/garbled", date="last Tuesday", lastmod="soon"),
        _news_url("https://a.example/future", date="2031-01-01T00:00:00Z"),
        _news_url("https://a.example/ancient", date="1970-01-01"),
        _news_url("https://a.example/year-one", date="0001-01-01T00:00:00+01:00"),  # before datetime.min
    ],
    ids=["missing", "unparseable", "future", "before-the-web", "year-one"],
)
def test_missing_or_absurd_dates_are_flagged(url: str) -> None:
    (entry,) = _parse(_urlset(url)).entries
    assert (entry.published, entry.date_flagged) == (FETCHED, True)


def test_relative_loc_is_joined_to_the_sitemap_url_and_tracking_removed() -> None:
    body = _urlset(_news_url("/news/2026/11/18/ferry-terminal?id=7&amp;utm_medium=feed&amp;fbclid=abc#top"))
    (entry,) = _parse(body).entries
    assert entry.url == "https://www.lakeshore-courier.example/news/2026/11/18/ferry-terminal?id=7"
    assert entry.guid == "/news/2026/11/18/ferry-terminal?id=7&utm_medium=feed&fbclid=abc#top"


@pytest.mark.parametrize(
    ("loc", "url"),
    [
        ("archive/2026/ferry.html", "https://www.lakeshore-courier.example/sitemaps/archive/2026/ferry.html"),
        ("//cdn.lakeshore-courier.example/a", "https://cdn.lakeshore-courier.example/a"),
        (
            "/go?to=https://elsewhere.example/",
            "https://www.lakeshore-courier.example/go?to=https://elsewhere.example/",
        ),
        ("HTTPS://WWW.Lakeshore-Courier.example:443/Story", "https://www.lakeshore-courier.example/Story"),
    ],
)
def test_locs_are_resolved_against_the_sitemap_url(loc: str, url: str) -> None:
    (entry,) = _parse(_urlset(_news_url(loc))).entries
    assert (entry.guid, entry.url) == (loc, url)


def test_plain_sitemap_without_news_namespace() -> None:
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        b"<url><loc>https://a.example/about</loc><lastmod>2026-10-01</lastmod></url>"
        b"<url><loc> https://a.example/contact </loc></url></urlset>"
    )
    parsed = parse_news_sitemap(body, "https://a.example/sitemap.xml", FETCHED)
    assert parsed.bozo is None
    assert parsed.title == ""
    about, contact = parsed.entries
    assert (about.url, about.title, about.language) == ("https://a.example/about", "", None)
    assert (about.published, about.date_flagged) == (datetime(2026, 10, 1, tzinfo=UTC), False)
    assert (contact.guid, contact.date_flagged) == ("https://a.example/contact", True)


def test_image_extension_titles_are_not_taken_for_the_headline() -> None:
    url = (
        "<url><loc>https://a.example/photo-story</loc>"
        "<image:image><image:loc>https://a.example/p.jpg</image:loc>"
        "<image:title>Photo caption</image:title></image:image></url>\n"
    )
    (entry,) = _parse(_urlset(url)).entries
    assert entry.title == ""


def test_urls_without_loc_are_skipped_and_counted() -> None:
    body = _urlset(
        "<url><lastmod>2026-11-18</lastmod></url>"
        + _news_url("https://a.example/kept", title="Kept")
        + "<url><loc>  </loc></url>"
    )
    parsed = _parse(body)
    assert [e.title for e in parsed.entries] == ["Kept"]
    assert parsed.bozo == "2 <url> elements without <loc> skipped"


def test_truncated_sitemap_keeps_the_complete_urls() -> None:
    body = EN_SITEMAP[: EN_SITEMAP.index(b"school-board") + 6]  # cut inside the second <loc>
    parsed = _parse(body)
    assert [e.url for e in parsed.entries] == [
        "https://www.lakeshore-courier.example/news/2026/11/18/harbour-bridge-repairs"
    ]
    assert parsed.bozo is not None
    assert parsed.bozo.startswith("malformed XML at line")
    assert "1 incomplete <url> element dropped" in parsed.bozo


def test_broken_markup_in_the_middle_keeps_what_parsed() -> None:
    body = _urlset(
        _news_url("https://a.example/one", title="One")
        + "<url><loc>https://a.example/two</loc><news:news><news:title>Two &nbsp; </news:news></url>\n"
        + _news_url("https://a.example/three", title="Three")
    )
    parsed = _parse(body)
    # libxml2's recovery nests <url> three inside two: it is still found
    assert [e.url for e in parsed.entries] == [f"https://a.example/{n}" for n in ("one", "two", "three")]
    assert [e.title for e in parsed.entries] == ["One", "Two", "Three"]
    assert parsed.bozo is not None
    assert parsed.bozo.startswith("malformed XML at line")


def test_stray_ampersands_and_html_entities_do_not_corrupt_later_urls() -> None:
    # libxml2's recovery drops every later named reference, &amp; included, after one error
    body = _urlset(
        _news_url("https://a.example/search?q=ferry&page=2", title="Caf&eacute; owners&nbsp;protest")
        + _news_url("https://a.example/story?id=7&amp;section=local", title="Fish &amp; chips &mdash; again")
        + _news_url("https://a.example/quoted", title="<![CDATA[Kept as written: &nbsp; & &amp;]]>")
        + _news_url("https://a.example/unknown", title="R&D &notanentity; spending")
    )
    parsed = _parse(body)
    assert [e.url for e in parsed.entries] == [
        "https://a.example/search?q=ferry&page=2",
        "https://a.example/story?id=7&section=local",
        "https://a.example/quoted",
        "https://a.example/unknown",
    ]
    assert [e.title for e in parsed.entries] == [
        "Café owners protest",
        "Fish & chips — again",
        "Kept as written: &nbsp; & &amp;",
        "R&D &notanentity; spending",
    ]
    assert parsed.bozo is not None
    assert parsed.bozo == "malformed XML at line 5: EntityRef: expecting ';'"  # the first, original error


def test_sitemap_index_says_to_list_a_child_sitemap() -> None:
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        b"<sitemap><loc>https://a.example/sitemap-news.xml</loc></sitemap></sitemapindex>"
    )
    parsed = _parse(body)
    assert (parsed.entries, parsed.bozo) == ([], INDEX_MESSAGE)
    assert INDEX_MESSAGE == "sitemap index: list one of its child sitemaps as the source instead"


@pytest.mark.parametrize(
    ("body", "bozo"),
    [
        (
            b"<!DOCTYPE html>\n<html><head><title>Oops</title></head><body><p>Moved</body></html>",
            "not a sitemap: root element <html>",
        ),
        (
            b"<rss version='2.0'><channel><title>Feed</title></channel></rss>",
            "not a sitemap: root element <rss>",
        ),
        (b"Service temporarily unavailable", "not a sitemap: no XML element found"),
    ],
    ids=["html", "rss", "text"],
)
def test_documents_that_are_not_sitemaps_say_what_they_were(body: bytes, bozo: str) -> None:
    parsed = _parse(body)
    assert parsed.entries == []
    assert parsed.bozo == bozo


def test_entity_attack_is_refused() -> None:
    body = (
        b'<?xml version="1.0"?>\n<!DOCTYPE urlset [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
        b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>https://a.example/&xxe;</loc>'
        b"</url></urlset>"
    )
    with pytest.raises(UnsafeXMLError):
        _parse(body)


@pytest.mark.parametrize("body", [b"", b"  \n"])
def test_empty_body(body: bytes) -> None:
    parsed = _parse(body)
    assert (parsed.entries, parsed.title, parsed.bozo) == ([], "", "empty response")
