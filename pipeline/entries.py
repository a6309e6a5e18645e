"""Feed items -> normalised entries: canonical URL, GUID, plain-text titles, UTC dates.

``parse_feed`` runs feedparser without its HTML sanitiser and without relative-URI resolution inside
HTML content (together they cost more than half of its time); this module turns the few fields it
keeps (title, summary, authors) into plain text itself and resolves the item link itself.
"""

from __future__ import annotations

import calendar
import codecs
import contextlib
import hashlib
import html
import io
import re
import unicodedata
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, unquote_plus, urljoin, urlsplit, urlunsplit

import feedparser
import idna

from .records import Entry, FeedParse

TRACKING_PREFIXES = ("utm_", "mc_", "pk_", "hsa_")
# fmt: off
TRACKING_PARAMS = frozenset(
    {
        # click identifiers
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid", "igshid", "igsh",
        # analytics and mail-campaign tags
        "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "vero_id", "oly_enc_id", "oly_anon_id", "mbid",
        # AT Internet, BBC, Guardian, Microsoft, Yahoo and other publishers' campaign tags
        "at_medium", "at_campaign", "at_custom1", "at_custom2", "at_custom3", "at_custom4",
        "xtor", "ito", "cmp", "cmpid", "ocid", "ncid", "taid", "cid", "ref", "ref_src", "ref_url",
        "ns_mchannel", "ns_source", "ns_campaign", "ns_linkname", "ns_fee",
    }
)
# fmt: on
DEFAULT_PORTS = {"http": 80, "https": 443}
# a date this far in the future, or before this year, is not believed
FUTURE_SLACK = timedelta(days=1)
EARLIEST_YEAR = 1995
FINGERPRINT_SUMMARY_CHARS = 200

_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_PATH_SAFE = "/:@!$&'()*+,;=%[]"  # reserved characters and existing escapes stay as written
_QUERY_SAFE = _PATH_SAFE + "?"
_DROPPED_MARKUP = re.compile(r"<(script|style)\b.*?</\1\s*>|<!--.*?-->", re.IGNORECASE | re.DOTALL)
_BLOCK_TAG = re.compile(r"</?(?:p|br|div|li|h[1-6]|tr|td|th|blockquote|ul|ol|table|hr)\b[^<>]*>", re.I)
_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
_NOT_ALNUM = re.compile(r"[\W_]+")
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)""")


# ------------------------------------------------------------------ URLs


def canonical_url(url: str) -> str:
    """Lower-case scheme and host (IDN hosts as punycode); drop fragments, default ports, tracking
    parameters and an empty query; normalise percent-escapes. Paths keep their case and slashes."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower() or "http"
    query = "&".join(p for p in parts.query.split("&") if p and not _is_tracking(p))
    return urlunsplit(
        (
            scheme,
            _netloc(parts, scheme),
            _escapes(parts.path or "/", _PATH_SAFE),
            _escapes(query, _QUERY_SAFE),
            "",
        )
    )


def _is_tracking(pair: str) -> bool:
    key = unquote_plus(pair.partition("=")[0]).lower()
    return key.startswith(TRACKING_PREFIXES) or key in TRACKING_PARAMS


def _netloc(parts: Any, scheme: str) -> str:
    """Host and non-default port; user information is dropped."""
    try:
        host, port = parts.hostname or "", parts.port
    except ValueError:  # a port that is not a number: keep what was written
        return str(parts.netloc).rpartition("@")[2].lower()
    host = host.rstrip(".")
    if not host.isascii():
        with contextlib.suppress(UnicodeError):  # not a valid IDN: keep it as written
            host = idna.encode(host, uts46=True).decode("ascii")
    if ":" in host:
        host = f"[{host}]"
    return host if port is None or DEFAULT_PORTS.get(scheme) == port else f"{host}:{port}"


def _escapes(text: str, safe: str) -> str:
    """Percent-encode what must be (spaces, non-ASCII as UTF-8), upper-case escapes, and decode
    escapes of unreserved characters (RFC 3986 section 6.2.2)."""
    return _ESCAPE.sub(_escape_case, quote(text, safe=safe))


def _escape_case(match: re.Match[str]) -> str:
    char = chr(int(match.group(1), 16))
    return char if char in _UNRESERVED else "%" + match.group(1).upper()


def _item_url(item: dict[str, Any], base_url: str) -> str | None:
    """Canonical http(s) URL of the item, or None when it has no page to fetch. A link that
    feedparser copied from a permalink GUID counts only when the GUID is an absolute http(s) URL."""
    link = str(item.get("link") or "").strip()
    if not link:
        return None
    absolute = link.lower().startswith(("http://", "https://"))
    if item.get("guidislink") and link == str(item.get("id") or "").strip():
        return canonical_url(link) if absolute else None
    if not absolute:
        link = urljoin(base_url, link)
        if urlsplit(link).scheme.lower() not in DEFAULT_PORTS:
            return None
    return canonical_url(link)


# ------------------------------------------------------------------ identity


def entry_guid(feed_id: str, url: str, title: str, published: datetime | None) -> str:
    """The feed's own id or guid, else the canonical URL, else a hash of title and date."""
    if feed_id.strip():
        return feed_id.strip()
    if url:
        return url
    stamp = published.isoformat() if published else ""
    return "hash:" + hashlib.blake2b(f"{title}\n{stamp}".encode(), digest_size=16).hexdigest()


def _folded(text: str) -> str:
    """Plain text, NFKC, case-folded, with everything but letters and digits removed."""
    return _NOT_ALNUM.sub("", unicodedata.normalize("NFKC", plain_text(text)).casefold())


def fingerprint(title: str, summary: str) -> str:
    """Short hex digest of the folded title and the start of the folded summary, for spotting the
    same story under a new GUID or URL. Empty when the title has no letters or digits."""
    head = _folded(title)
    if not head:
        return ""
    body = _folded(summary)[:FINGERPRINT_SUMMARY_CHARS]
    return hashlib.blake2b(f"{head}\n{body}".encode(), digest_size=8).hexdigest()


# ------------------------------------------------------------------ text


def plain_text(markup: str) -> str:
    """Text of an HTML fragment: tags, scripts, styles and comments dropped, entities decoded
    (twice-escaped markup too), whitespace collapsed."""
    if "<" in markup or "&" in markup:
        markup = _strip_tags(html.unescape(_strip_tags(markup)))
    return " ".join(markup.split())


def _strip_tags(markup: str) -> str:
    if "<" not in markup:
        return markup
    markup = _BLOCK_TAG.sub(" ", _DROPPED_MARKUP.sub(" ", markup))
    return _TAG.sub("", markup)


def _authors(item: dict[str, Any]) -> list[str]:
    names = (plain_text(str(a.get("name") or "")) for a in item.get("authors") or [])
    return list(dict.fromkeys(n for n in names if n))


def _language(tag: object) -> str | None:
    """Primary language subtag: ``fr-CA`` -> ``fr``."""
    code = str(tag or "").strip().lower().replace("_", "-").partition("-")[0]
    return code if code.isalpha() and 2 <= len(code) <= 3 else None


# ------------------------------------------------------------------ dates


def plausible_date(when: datetime | None, fetched_at: datetime) -> tuple[datetime, bool]:
    """``(date in UTC, False)``, or ``(fetched_at, True)`` when the date is missing or absurd
    (before EARLIEST_YEAR or more than FUTURE_SLACK ahead of the fetch). Naive dates are UTC."""
    if when is None:
        return fetched_at, True
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    if when.year >= EARLIEST_YEAR and when <= fetched_at + FUTURE_SLACK:
        return when, False
    return fetched_at, True


def _item_date(item: dict[str, Any], key: str) -> datetime | None:
    # dict.get: FeedParserDict.get("updated") falls back to "published" with a warning
    parsed = dict.get(item, f"{key}_parsed")
    if parsed:
        return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
    raw = dict.get(item, key)
    if not raw:
        return None
    try:  # RFC 822 with no zone, which feedparser gives up on; read as UTC
        return parsedate_to_datetime(str(raw))
    except (TypeError, ValueError, IndexError):
        return None


def _date(item: dict[str, Any], fetched_at: datetime) -> tuple[datetime, bool]:
    for key in ("published", "updated", "created"):
        when = _item_date(item, key)
        if when is not None:
            return plausible_date(when, fetched_at)
    return fetched_at, True


# ------------------------------------------------------------------ items and feeds


def item_entry(
    item: dict[str, Any], base_url: str, fetched_at: datetime, language: str | None = None
) -> Entry | None:
    """One feedparser item as an Entry, or None when it has no usable URL."""
    url = _item_url(item, base_url)
    if url is None:
        return None
    title = plain_text(str(item.get("title") or ""))
    published, flagged = _date(item, fetched_at)
    detail = item.get("title_detail") or {}
    return Entry(
        guid=entry_guid(str(item.get("id") or ""), url, title, None if flagged else published),
        url=url,
        title=title,
        summary=plain_text(str(item.get("summary") or "")),
        published=published,
        date_flagged=flagged,
        authors=_authors(item),
        language=_language(detail.get("language")) or language,
    )


def feed_entries(parsed: dict[str, Any], base_url: str, fetched_at: datetime) -> list[Entry]:
    """The usable items of any ``feedparser.parse`` result, normalised."""
    language = _language(parsed["feed"].get("language"))
    found = (item_entry(i, base_url, fetched_at, language) for i in parsed["entries"])
    return [e for e in found if e is not None]


def _codec(name: str | None) -> str | None:
    try:
        return codecs.lookup(name).name if name else None
    except LookupError:
        return name.lower() if name else None


def _charset(body: bytes, content_type: str) -> tuple[str | None, str | None]:
    """Charset to tell feedparser, and a note when the declared one is wrong. Bytes that are valid
    UTF-8 are read as UTF-8 whatever the HTTP header or the XML declaration says."""
    header = content_type.lower().partition("charset=")[2].split(";")[0].strip(" \"'") or None
    if body.isascii() or b"\x00" in body:  # nothing to decide, or UTF-16/32 left to feedparser
        return header, None
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return header, None
    match = _XML_ENCODING.match(body[:512])
    declared = _codec(header or (match.group(1).decode() if match else None))
    if declared in (None, "utf-8"):
        return "utf-8", None
    return "utf-8", f"declared {declared} but the bytes are UTF-8; read as UTF-8"


def _not_a_feed(body: bytes, content_type: str, error: str | None) -> str:
    head = body[:1024].lower()
    kind = "HTML page" if b"<html" in head or "html" in content_type.lower() else "no RSS, Atom or RDF"
    return f"not a feed: {kind}" + (f" ({error})" if error else "")


def parse_feed(
    body: bytes, base_url: str, fetched_at: datetime, content_type: str = "application/xml"
) -> FeedParse:
    """Parse RSS/Atom/RDF bytes. Malformed feeds keep the items that parsed, with the reason."""
    if not body or body.isspace():
        return FeedParse(entries=[], bozo="empty response")
    charset, note = _charset(body, content_type or "")
    headers = {"content-type": "application/xml" + (f"; charset={charset}" if charset else "")}
    parsed = feedparser.parse(
        io.BytesIO(body), response_headers=headers, sanitize_html=False, resolve_relative_uris=False
    )
    entries = feed_entries(parsed, base_url, fetched_at)
    error = str(parsed.get("bozo_exception")) if parsed.get("bozo") else None
    if not entries and not parsed.get("version"):
        return FeedParse(entries=[], bozo=_not_a_feed(body, content_type or "", error))
    bozo = "; ".join(r for r in (note, error) if r) or None
    return FeedParse(entries=entries, title=plain_text(str(parsed["feed"].get("title") or "")), bozo=bozo)
