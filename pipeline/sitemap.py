"""Google News sitemaps (and plain sitemaps) -> normalised entries.

Elements are matched by local name, so sitemaps with a missing or outdated namespace still work;
news fields are only read inside ``<news:news>``, so image and video extensions are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from html.entities import html5
from typing import Any
from urllib.parse import urljoin

from lxml import etree

from . import xmlguard
from .entries import canonical_url, plausible_date
from .records import Entry, FeedParse

INDEX_MESSAGE = "sitemap index: list one of its child sitemaps as the source instead"

Element = Any  # lxml.etree._Element: lxml ships no type information

# every "&" outside CDATA sections and comments, with the name of a named reference
_REFERENCE = re.compile(
    rb"<!\[CDATA\[.*?\]\]>|<!--.*?-->|&(?:#[0-9]+;|#x[0-9A-Fa-f]+;|([A-Za-z][A-Za-z0-9]*);)?", re.DOTALL
)


def parse_news_sitemap(body: bytes, base_url: str, fetched_at: datetime) -> FeedParse:
    """Parse sitemap bytes. Malformed sitemaps keep the ``<url>`` elements that were complete."""
    xmlguard.check(body)
    if not body.strip():
        return FeedParse(entries=[], bozo="empty response")
    root, urls, problems = _read(body)
    not_urlset = _not_urlset(root)
    if not_urlset:
        return FeedParse(entries=[], bozo=not_urlset)
    entries = [_entry(el, base_url, fetched_at) for el in urls]
    kept = [e for e in entries if e is not None]
    if len(kept) < len(entries):
        problems.append(f"{len(entries) - len(kept)} <url> elements without <loc> skipped")
    return FeedParse(entries=kept, title=_publication_name(urls), bozo="; ".join(problems) or None)


def _read(body: bytes) -> tuple[Element | None, list[Element], list[str]]:
    """Root, the ``<url>`` elements to read, and what was wrong with the document."""
    root, complete, error = _parse(body)
    if error is None:
        return root, _urls(root), []
    # once libxml2's recovery has met an error it drops named references, even &amp;: read again
    root, complete, still_broken = _parse(_numeric_references(body))
    found = _urls(root)
    urls = found if still_broken is None else [el for el in found if el in complete]
    problems = [error]
    if len(urls) < len(found):
        problems.append(f"{len(found) - len(urls)} incomplete <url> element dropped at the end of the data")
    return root, urls, problems


def _parse(body: bytes) -> tuple[Element | None, set[Element], str | None]:
    """Root, the ``<url>`` elements closed before the data ended, and the first parse error."""
    parser = etree.XMLPullParser(
        events=("end",),
        tag="{*}url",
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        recover=True,
    )
    parser.feed(body)
    complete = {el for _event, el in parser.read_events()}  # an element cut off by the end comes later
    try:
        root = parser.close()
    except etree.XMLSyntaxError:
        root = None
    errors = parser.feed_error_log
    error = f"malformed XML at line {errors[0].line}: {errors[0].message}" if len(errors) else None
    return root, complete, error


def _numeric_references(body: bytes) -> bytes:
    """Named references (HTML ones too) and bare ``&`` as numeric references; UTF-16/32 left alone."""
    return body if b"\x00" in body[:4] else _REFERENCE.sub(_numeric, body)


def _numeric(match: re.Match[bytes]) -> bytes:
    found = match.group()
    if found.startswith((b"<", b"&#")):
        return found
    name = match.group(1)
    chars = html5.get(name.decode("ascii") + ";") if name else None
    if not chars:  # a bare "&", or a name HTML does not know either: keep it as text
        return b"&#38;" + found[1:]
    return "".join(f"&#{ord(c)};" for c in chars).encode("ascii")


def _not_urlset(root: Element | None) -> str | None:
    """Why the document is not a ``<urlset>``, or None when it is."""
    if root is None:
        return "not a sitemap: no XML element found"
    name = _local(root)
    if name == "urlset":
        return None
    if name == "sitemapindex":
        return INDEX_MESSAGE
    return f"not a sitemap: root element <{name}>"


def _urls(root: Element | None) -> list[Element]:
    """``<url>`` elements in document order, with any that a recovering parser nested in another."""
    if root is None:
        return []
    return [el for el in root.iter("{*}url") if _local(el.getparent()) in ("urlset", "url")]


def _local(el: Element) -> str:
    """The tag without its namespace (empty for comments and processing instructions)."""
    tag = el.tag
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _fields(el: Element | None) -> dict[str, Element]:
    """The first child element of each local name, whatever its namespace."""
    fields: dict[str, Element] = {}
    for child in () if el is None else el:
        fields.setdefault(_local(child), child)
    return fields


def _text(el: Element | None) -> str:
    """The element's text, whitespace collapsed; empty when it is missing."""
    return "" if el is None else " ".join("".join(el.itertext()).split())


def _entry(url: Element, base_url: str, fetched_at: datetime) -> Entry | None:
    fields = _fields(url)
    loc = _text(fields.get("loc"))
    if not loc:
        return None
    news = _fields(fields.get("news"))
    published, flagged = plausible_date(
        _first_date(news.get("publication_date"), fields.get("lastmod")), fetched_at
    )
    return Entry(
        guid=loc,
        url=canonical_url(_absolute(loc, base_url)),
        title=_text(news.get("title")),
        summary=_text(news.get("keywords")),
        published=published,
        date_flagged=flagged,
        language=_text(_fields(news.get("publication")).get("language")).lower() or None,
    )


def _absolute(loc: str, base_url: str) -> str:
    """``loc`` joined to the sitemap's URL unless it already is an absolute web URL (the usual case)."""
    return loc if loc[:8].lower().startswith(("http://", "https://")) else urljoin(base_url, loc)


def _first_date(*candidates: Element | None) -> datetime | None:
    """The first candidate date that parses (news:publication_date, then lastmod)."""
    for el in candidates:
        when = _parse_date(_text(el))
        if when is not None:
            return when
    return None


def _parse_date(text: str) -> datetime | None:
    """A W3C / ISO 8601 date or date-time (``2026-11-18``, ``...T10:15:00-05:00``, ``...Z``) in UTC.

    An RFC 822 date, which some publishers put there instead, is accepted too; None otherwise.
    """
    for parse in (_iso_date, parsedate_to_datetime):
        try:
            when = parse(text)
            return when if when.tzinfo is None else when.astimezone(UTC)
        except (TypeError, ValueError, IndexError, OverflowError):  # OverflowError: 0001-01-01T00:00+01:00
            continue
    return None


def _iso_date(text: str) -> datetime:
    return datetime.fromisoformat(text.strip().upper())


def _publication_name(urls: Iterable[Element]) -> str:
    """The first news:publication/news:name, or an empty string."""
    for url in urls:
        publication = _fields(_fields(url).get("news")).get("publication")
        name = _text(_fields(publication).get("name"))
        if name:
            return name
    return ""
