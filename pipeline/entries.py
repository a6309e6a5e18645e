"""Feed items -> normalised entries: canonical URL, GUID, UTC dates."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import feedparser

from .records import Entry, FeedParse

TRACKING_PREFIXES = ("utm_", "mc_", "pk_")
TRACKING_PARAMS = {"fbclid", "gclid", "cmpid", "ocid", "ref", "taid", "dclid", "cid"}
# a date this far in the future, or before this year, is not believed
FUTURE_SLACK = timedelta(days=1)
EARLIEST_YEAR = 1995


def canonical_url(url: str) -> str:
    """Lower-case scheme and host, drop fragments, default ports and tracking parameters."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower() or "http"
    host = (parts.hostname or "").lower()
    port = parts.port
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith(TRACKING_PREFIXES) and k.lower() not in TRACKING_PARAMS
    ]
    return urlunsplit((scheme, host, parts.path or "/", urlencode(query), ""))


def _date(item: Any, fetched_at: datetime) -> tuple[datetime, bool]:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = item.get(key)
        if parsed:
            when = datetime.fromtimestamp(calendar.timegm(parsed), UTC)
            if when.year >= EARLIEST_YEAR and when <= fetched_at + FUTURE_SLACK:
                return when, False
            return fetched_at, True
    return fetched_at, True


def _guid(item: Any, url: str, title: str) -> str:
    return str(item.get("id") or item.get("guid") or url or title)


def _entry(item: Any, base: str, fetched_at: datetime) -> Entry | None:
    link = item.get("link") or ""
    if not link:
        return None
    url = canonical_url(link if "://" in link else base.rstrip("/") + "/" + link.lstrip("/"))
    title = " ".join(str(item.get("title", "")).split())
    published, flagged = _date(item, fetched_at)
    authors = [a.get("name", "") for a in item.get("authors", []) if a.get("name")]
    return Entry(
        guid=_guid(item, url, title),
        url=url,
        title=title,
        summary=str(item.get("summary", "")),
        published=published,
        date_flagged=flagged,
        authors=authors,
    )


def parse_feed(
    body: bytes, base_url: str, fetched_at: datetime, content_type: str = "application/xml"
) -> FeedParse:
    """Parse RSS/Atom bytes. Malformed feeds keep the items that parsed, with the reason."""
    if not body.strip():
        return FeedParse(entries=[], bozo="empty response")
    headers = {"content-location": base_url, "content-type": content_type or "application/xml"}
    parsed = feedparser.parse(body, response_headers=headers, sanitize_html=False)
    entries = [e for e in (_entry(i, base_url, fetched_at) for i in parsed.entries) if e]
    bozo = str(parsed.get("bozo_exception")) if parsed.get("bozo") else None
    if not parsed.entries and not parsed.feed and bozo:
        bozo = f"not a feed: {bozo}"
    return FeedParse(entries=entries, title=str(parsed.feed.get("title", "")), bozo=bozo)
