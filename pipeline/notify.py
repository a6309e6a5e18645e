"""Notifications for media responders: e-mail digests and immediate notices, Slack-compatible
webhooks, per-responder Atom feeds, and when the daily digest is due.

A pure library over plain ``Notice`` records; nothing here reads the database. Headlines come from
news sites and are hostile until proven otherwise: HTML is autoescaped, Slack text is escaped,
header values are one line, and characters XML cannot carry are dropped.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from email.utils import formataddr, formatdate, getaddresses, make_msgid
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import requests
from feedgen.feed import FeedGenerator
from jinja2 import DictLoader, Environment, StrictUndefined

from .errors import MediaWatchError
from .language import MONTHS
from .letters import LABELS

DEFAULT_TZ = "America/Toronto"
DEFAULT_DIGEST_TIME = time(10, 30)
SUBJECT_TITLE_CHARS = 90
SUMMARY_CHARS = 600
SLACK_MAX_NOTICES = 45  # Slack takes at most 50 blocks per message
SLACK_SECTION_CHARS = 2900  # of Slack's 3000 per section
SLACK_HEADER_CHARS = 150

# Control characters (newlines included), line/paragraph separators, bidi overrides and isolates
# (they can disguise the text around a headline), BOM, lone surrogates and XML non-characters.
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff\ufffe\uffff\ud800-\udfff]+"
)
_SPACES = re.compile(r"\s+")
_DIGEST_TIME = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])", re.ASCII)
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "brand": "MediaWatch: ",
        "alert": "alert",
        "alerts": "alerts",
        "digest_subject": "{brand}{count} to answer, {day}",
        "digest_heading": "MediaWatch alerts, {day}",
        "digest_intro": "{count} waiting for a responder, most urgent first.",
        "immediate_subject": "{brand}high-priority alert: {title}",
        "immediate_heading": "High-priority alert",
        "issues": "Issues:",
        "priority": "priority",
        "published": "published",
        "undated": "undated",
        "in_language": "in {name}",
        "open_alert": "Open the alert",
        "open_queue": "Open the alert queue:",
        "own_words": "Adapt the suggested letter in your own words and send it from your own e-mail.",
        "complaint": "complaint",
        "praise": "thank-you",
        "lang_en": "English",
        "lang_fr": "French",
        "more": "and {n} more",
        "untitled": "(no headline)",
    },
    "fr": {
        "brand": "MediaWatch : ",
        "alert": "alerte",
        "alerts": "alertes",
        "digest_subject": "{brand}{count} à traiter, {day}",
        "digest_heading": "Alertes MediaWatch du {day}",
        "digest_intro": "{count} en attente d'un ou d'une bénévole, les plus urgentes d'abord.",
        "immediate_subject": "{brand}alerte prioritaire : {title}",
        "immediate_heading": "Alerte prioritaire",
        "issues": "Problèmes :",
        "priority": "priorité",
        "published": "publié le",
        "undated": "sans date",
        "in_language": "en {name}",
        "open_alert": "Ouvrir l'alerte",
        "open_queue": "Ouvrir la file des alertes :",
        "own_words": (
            "Adaptez la lettre proposée dans vos propres mots et envoyez-la de votre propre courriel."
        ),
        "complaint": "plainte",
        "praise": "remerciement",
        "lang_en": "anglais",
        "lang_fr": "français",
        "more": "et {n} de plus",
        "untitled": "(sans titre)",
    },
}

_HTML = """\
<!doctype html>
<html lang="{{ lang }}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ heading }}</title></head>
<body style="margin:0;padding:16px;font-family:sans-serif;line-height:1.4;color:#222">
<div style="max-width:600px;margin:0 auto">
<h1 style="font-size:1.3em">{{ heading }}</h1>
{% if intro %}<p>{{ intro }}</p>{% endif %}
{% for item in items %}
<div style="border-top:1px solid #ccc;padding:12px 0">
<h2 style="font-size:1.1em;margin:0 0 4px" lang="{{ item.lang }}">
{% if item.url %}<a href="{{ item.url }}">{{ item.title }}</a>{% else %}{{ item.title }}{% endif %}</h2>
<p style="margin:0 0 4px;color:#555;font-size:.9em">{{ item.meta }}</p>
{% if item.issues %}<p style="margin:0 0 4px">{{ w.issues }} {{ item.issues }}</p>{% endif %}
{% if item.summary %}<p style="margin:0 0 4px">{{ item.summary }}</p>{% endif %}
{% if item.url %}<p style="margin:0"><a href="{{ item.url }}">{{ w.open_alert }}</a></p>{% endif %}
</div>
{% endfor %}
<p style="border-top:1px solid #ccc;padding-top:12px">
{% if queue_url %}<a href="{{ queue_url }}">{{ w.open_queue.rstrip(" :") }}</a><br>{% endif %}
{{ w.own_words }}</p>
</div>
</body>
</html>
"""
_ENV = Environment(loader=DictLoader({"mail.html": _HTML}), autoescape=True, undefined=StrictUndefined)


@dataclass(frozen=True, slots=True)
class Notice:
    """One alert as the notifications show it."""

    alert_id: int
    title: str  # the article's headline: untrusted text from a news site
    outlet_name: str
    kind: str  # "complaint" | "praise"
    categories: tuple[str, ...]
    priority: float
    summary: str
    language: str  # the article's language, "en" | "fr"
    published_at: datetime | None
    created_at: datetime
    url: str  # the alert's page in the web app


@dataclass(frozen=True, slots=True)
class Mail:
    """An e-mail's subject and its plain-text and HTML bodies."""

    subject: str
    text: str
    html: str


@dataclass(frozen=True, slots=True)
class SmtpServer:
    """Where and how to send mail, from an ``smtp://`` or ``smtps://`` URL (password kept apart)."""

    host: str
    port: int
    ssl: bool = False
    starttls: bool = False
    user: str = ""
    url_password: str = field(default="", repr=False)

    @property
    def label(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


class NotifyError(MediaWatchError):
    """A notification could not be sent. One line naming the server or URL and the cause; never a
    password. ``sent`` lists the recipients that did get the mail before the failure."""

    def __init__(self, message: str, sent: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.sent = tuple(sent)


# --- text helpers ---------------------------------------------------------------------------------


def one_line(value: str, limit: int | None = None) -> str:
    """*value* on one line: unsafe characters and runs of whitespace become one space; cut to *limit*."""
    text = _SPACES.sub(" ", _UNSAFE.sub(" ", value)).strip()
    if limit is not None and len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def _code(language: str) -> str:
    return language.strip().lower().replace("_", "-").split("-")[0]


def _lang(language: str) -> str:
    code = _code(language)
    if code not in _WORDS:
        raise ValueError(f"unsupported language {language!r} (expected 'en' or 'fr')")
    return code


def _count(n: int, lang: str) -> str:
    w = _WORDS[lang]
    return f"{n} {w['alert'] if n == 1 else w['alerts']}"


def _day(day: date, lang: str) -> str:
    if lang == "fr":
        return f"{'1er' if day.day == 1 else day.day} {MONTHS['fr'][day.month - 1]} {day.year}"
    return f"{MONTHS['en'][day.month - 1]} {day.day}, {day.year}"  # not %B: that follows the process locale


def _safe_href(url: str) -> str:
    """*url* if it is an http(s) link, else ''. The alert URLs are ours, but a link is cheap to check."""
    url = one_line(url)
    return url if urlsplit(url).scheme.lower() in ("http", "https") else ""


def _ordered(notices: Sequence[Notice]) -> list[Notice]:
    """Most urgent first; newest, then highest id, break ties so the order is stable."""
    return sorted(notices, key=lambda n: (-n.priority, -n.created_at.timestamp(), -n.alert_id))


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {tz!r}") from exc


def _meta(n: Notice, lang: str, zone: ZoneInfo) -> str:
    w = _WORDS[lang]
    kind = w[n.kind] if n.kind in ("complaint", "praise") else one_line(n.kind, 40)
    parts = [one_line(n.outlet_name, 120), kind]
    parts.append(f"{w['priority']} {n.priority:.2f}")
    if n.published_at is not None:
        parts.append(f"{w['published']} {n.published_at.astimezone(zone).date().isoformat()}")
    else:
        parts.append(w["undated"])
    article_lang = _code(n.language)
    if article_lang != lang and f"lang_{article_lang}" in w:
        parts.append(w["in_language"].format(name=w[f"lang_{article_lang}"]))
    return " · ".join(parts)


def _issues(n: Notice, lang: str) -> str:
    labels = LABELS.get(lang, {})
    return "; ".join(labels.get(c, one_line(c, 60)) for c in n.categories)


def _item(n: Notice, lang: str, zone: ZoneInfo) -> dict[str, str]:
    article_lang = _code(n.language)
    return {
        "title": one_line(n.title, 300) or _WORDS[lang]["untitled"],
        "lang": article_lang if article_lang in _WORDS else "",
        "meta": _meta(n, lang, zone),
        "issues": _issues(n, lang),
        "summary": one_line(n.summary, SUMMARY_CHARS),
        "url": _safe_href(n.url),
    }


def _text_item(index: int | None, item: Mapping[str, str], lang: str) -> list[str]:
    lead = f"{index}. " if index is not None else ""
    pad = " " * len(lead)
    lines = [lead + item["title"], pad + item["meta"]]
    if item["issues"]:
        lines.append(f"{pad}{_WORDS[lang]['issues']} {item['issues']}")
    if item["summary"]:
        lines.append(pad + item["summary"])
    if item["url"]:
        lines.append(pad + item["url"])
    return [*lines, ""]


def _footer(lang: str, queue_url: str) -> list[str]:
    w = _WORDS[lang]
    lines = [f"{w['open_queue']} {queue_url}"] if queue_url else []
    return [*lines, w["own_words"], ""]


# --- e-mail ---------------------------------------------------------------------------------------


def compose_digest(
    notices: Sequence[Notice], language: str, app_url: str, day: date, *, tz: str = DEFAULT_TZ
) -> Mail | None:
    """The daily digest in the recipient's *language* ("en" or "fr"), most urgent first; ``None``
    when there is nothing to send. Dates are shown in *tz*."""
    if not notices:
        return None
    lang, zone = _lang(language), _zone(tz)
    w = _WORDS[lang]
    ordered = _ordered(notices)
    items = [_item(n, lang, zone) for n in ordered]
    day_text = _day(day, lang)
    count = _count(len(items), lang)
    top = one_line(ordered[0].title, SUBJECT_TITLE_CHARS)
    subject = one_line(w["digest_subject"].format(brand=w["brand"], count=count, day=day_text) + f" | {top}")
    heading = w["digest_heading"].format(day=day_text)
    intro = w["digest_intro"].format(count=count)
    queue_url = _safe_href(app_url.rstrip("/") + "/alerts") if app_url else ""
    lines = [heading, "", intro, ""]
    for i, item in enumerate(items, 1):
        lines += _text_item(i, item, lang)
    lines += _footer(lang, queue_url)
    html = _ENV.get_template("mail.html").render(
        lang=lang, heading=heading, intro=intro, items=items, w=w, queue_url=queue_url
    )
    return Mail(subject=subject, text="\n".join(lines), html=html)


def compose_immediate(notice: Notice, language: str, *, tz: str = DEFAULT_TZ) -> Mail:
    """An immediate notice of one high-priority alert, in the recipient's *language*."""
    lang, zone = _lang(language), _zone(tz)
    w = _WORDS[lang]
    item = _item(notice, lang, zone)
    title = one_line(notice.title, SUBJECT_TITLE_CHARS)
    subject = one_line(w["immediate_subject"].format(brand=w["brand"], title=title))
    heading = w["immediate_heading"]
    lines = [heading, "", *_text_item(None, item, lang), *_footer(lang, "")]
    html = _ENV.get_template("mail.html").render(
        lang=lang, heading=heading, intro="", items=[item], w=w, queue_url=""
    )
    return Mail(subject=subject, text="\n".join(lines), html=html)


def _flag(value: list[str], name: str) -> bool:
    word = value[-1].strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise NotifyError(f"SMTP URL option {name}={value[-1]!r} is not a yes/no value")


def parse_smtp_url(smtp_url: str) -> SmtpServer:
    """``smtp://[user@]host[:port][?starttls=1]`` or ``smtps://[user@]host[:port]``; ports default
    to 25 and 465. Errors never repeat the URL, which may hold a password."""
    parts = urlsplit(smtp_url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("smtp", "smtps"):
        raise NotifyError(f"SMTP URL must start with smtp:// or smtps://, not {scheme or 'nothing'}://")
    try:
        port = parts.port
    except ValueError:
        raise NotifyError(f"SMTP URL for host {parts.hostname or '?'} has an invalid port") from None
    if not parts.hostname:
        raise NotifyError("SMTP URL has no host")
    options = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(options) - {"starttls"})
    if unknown:
        raise NotifyError(f"SMTP URL for {parts.hostname} has unknown options: {', '.join(unknown)}")
    starttls = _flag(options["starttls"], "starttls") if "starttls" in options else False
    if scheme == "smtps" and starttls:
        raise NotifyError(f"SMTP URL for {parts.hostname}: smtps:// is already TLS; drop starttls")
    return SmtpServer(
        host=parts.hostname,
        port=port or (465 if scheme == "smtps" else 25),
        ssl=scheme == "smtps",
        starttls=starttls,
        user=unquote(parts.username or ""),
        url_password=unquote(parts.password or ""),
    )


def _address(value: str, role: str) -> tuple[str, str]:
    """(display name, address) of *value*; NotifyError unless it is exactly one address on one line."""
    found = [] if _UNSAFE.search(value) else getaddresses([value])
    if len(found) == 1:
        name, addr = found[0]
        local, _, domain = addr.rpartition("@")
        if local and domain and "@" not in local and not _SPACES.search(addr):
            return name, addr
    raise NotifyError(f"invalid {role} address {one_line(value, 80)!r}")


def _message(mail: Mail, sender: tuple[str, str], recipient: tuple[str, str]) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = one_line(mail.subject, 250)
    msg["From"] = formataddr(sender)
    msg["To"] = formataddr(recipient)
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = make_msgid(domain=sender[1].rpartition("@")[2])
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(mail.text, cte="quoted-printable")
    msg.add_alternative(mail.html, subtype="html", cte="quoted-printable")
    return msg


def _cause(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else ""
        return one_line(f"{type(exc).__name__} {exc.smtp_code} {text}", 300)
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the mail server running?)"
    if isinstance(exc, TimeoutError):
        return "timed out"
    return one_line(f"{type(exc).__name__}: {exc}", 300)


def send_mail(
    smtp_url: str,
    password: str,
    sender: str,
    to: Sequence[str],
    mail: Mail,
    timeout: float = 10,
    *,
    tls_context: ssl.SSLContext | None = None,
) -> None:
    """Send *mail* to each recipient as a message of its own (its own To:, nobody else's), over one
    connection. A refused recipient does not stop the others; NotifyError names them at the end.
    *tls_context* defaults to the system's verified one."""
    server = parse_smtp_url(smtp_url)
    secret = password or server.url_password
    if server.user and not secret:
        raise NotifyError(f"SMTP {server.label}: user {server.user!r} given but no password")
    origin = _address(sender, "sender")
    recipients: dict[str, tuple[str, str]] = {}
    for value in to:
        name, addr = _address(value, "recipient")
        recipients.setdefault(addr.lower(), (name, addr))
    if not recipients:
        return
    messages = [(_message(mail, origin, rcpt), rcpt[1]) for rcpt in recipients.values()]
    context = tls_context or ssl.create_default_context()
    sent: list[str] = []
    refused: list[str] = []
    try:
        client = _connect(server, timeout, context)
        try:
            if server.starttls:
                client.starttls(context=context)
            if server.user:
                client.login(server.user, secret)
            _deliver(client, origin[1], messages, sent, refused)
        finally:
            _quit(client)
    except (smtplib.SMTPException, OSError) as exc:
        done = f" ({len(sent)} of {len(messages)} sent)" if sent else ""
        raise NotifyError(f"cannot send mail via {server.label}: {_cause(exc)}{done}", sent) from exc
    if refused:
        raise NotifyError(
            f"mail server {server.label} refused {len(refused)} of {len(messages)} recipients: "
            + "; ".join(refused),
            sent,
        )


def _deliver(
    client: smtplib.SMTP,
    envelope_from: str,
    messages: Sequence[tuple[EmailMessage, str]],
    sent: list[str],
    refused: list[str],
) -> None:
    """Send each message to its one recipient; refusals are noted in *refused*, not raised."""
    for msg, addr in messages:
        try:
            client.send_message(msg, from_addr=envelope_from, to_addrs=[addr])
        except smtplib.SMTPRecipientsRefused as exc:
            refused += [f"{a} ({_cause(e)})" for a, e in _refusals(exc)]
        else:
            sent.append(addr)


def _connect(server: SmtpServer, timeout: float, context: ssl.SSLContext) -> smtplib.SMTP:
    if server.ssl:
        return smtplib.SMTP_SSL(server.host, server.port, timeout=timeout, context=context)
    return smtplib.SMTP(server.host, server.port, timeout=timeout)


def _quit(client: smtplib.SMTP) -> None:
    """Say goodbye; the mail is already accepted, so a failure here is not worth reporting."""
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()


def _refusals(exc: smtplib.SMTPRecipientsRefused) -> list[tuple[str, smtplib.SMTPResponseException]]:
    return [(addr, smtplib.SMTPResponseException(code, msg)) for addr, (code, msg) in exc.recipients.items()]


# --- webhooks -------------------------------------------------------------------------------------


def slack_escape(text: str) -> str:
    """Escape &, < and > as Slack asks, so headlines cannot make links or @-mentions."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_section(n: Notice, lang: str, zone: ZoneInfo) -> str:
    w = _WORDS[lang]
    item = _item(n, lang, zone)
    title = slack_escape(item["title"]).replace("|", "¦")
    head = f"*<{slack_escape(item['url'])}|{title}>*" if item["url"] else f"*{title}*"
    lines = [head, slack_escape(item["meta"])]
    if item["issues"]:
        lines.append(f"{w['issues']} {slack_escape(item['issues'])}")
    if item["summary"]:
        lines.append(slack_escape(item["summary"]))
    text = "\n".join(lines)
    return text if len(text) <= SLACK_SECTION_CHARS else text[: SLACK_SECTION_CHARS - 1] + "…"


def slack_payload(
    notices: Sequence[Notice], heading: str, *, language: str = "en", tz: str = DEFAULT_TZ
) -> dict[str, Any]:
    """A Slack-compatible message (``text`` fallback plus mrkdwn ``blocks``), most urgent first."""
    lang, zone = _lang(language), _zone(tz)
    ordered = _ordered(notices)
    head = one_line(heading, SLACK_HEADER_CHARS)
    blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": head}}]
    for n in ordered[:SLACK_MAX_NOTICES]:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _slack_section(n, lang, zone)}})
    if len(ordered) > SLACK_MAX_NOTICES:
        more = _WORDS[lang]["more"].format(n=len(ordered) - SLACK_MAX_NOTICES)
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": more}]})
    text = f"{slack_escape(head)}: {_count(len(ordered), lang)}"
    return {"text": text, "blocks": blocks}


def safe_url(url: str) -> str:
    """*url* fit for a log line: no user, password or query, and only the first path segment
    (webhook URLs carry their secret in the path)."""
    parts = urlsplit(url.strip())
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    segments = parts.path.split("/")
    path = "/".join(segments[:2]) + ("/…" if len([s for s in segments[2:] if s]) else "")
    return one_line(f"{parts.scheme}://{host}{port}{path}" + ("?…" if parts.query else ""), 200)


def _request_cause(exc: requests.RequestException) -> str:
    if isinstance(exc, requests.Timeout):
        return "timed out"
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS error (certificate?)"
    if isinstance(exc, requests.ConnectionError):
        return "could not connect (connection refused or host unreachable)"
    return type(exc).__name__


def post_webhook(url: str, payload: Mapping[str, Any], user_agent: str, timeout: float = 10) -> None:
    """POST *payload* as JSON. Redirects are not followed; anything but 2xx is a NotifyError."""
    where = safe_url(url)
    if urlsplit(url).scheme.lower() not in ("http", "https"):
        raise NotifyError(f"webhook {where}: only http and https URLs are supported")
    try:
        response = requests.post(
            url, json=payload, headers={"User-Agent": user_agent}, timeout=timeout, allow_redirects=False
        )
    except requests.RequestException as exc:
        raise NotifyError(f"webhook {where}: {_request_cause(exc)}") from exc
    with response:
        if not 200 <= response.status_code < 300:
            body = one_line(response.text[:200], 120) if response.content else ""
            reason = one_line(response.reason or "", 60)
            detail = f": {body}" if body else ""
            status = f"HTTP {response.status_code} {reason}".strip()
            raise NotifyError(f"webhook {where} answered {status}{detail}")


# --- Atom feed ------------------------------------------------------------------------------------


def atom_feed(
    notices: Sequence[Notice],
    feed_id: str,
    title: str,
    self_url: str,
    updated: datetime,
    *,
    language: str = "en",
    tz: str = DEFAULT_TZ,
) -> bytes:
    """An Atom 1.0 feed of open alerts, newest first: one entry per alert, whose id is the alert's
    URL (stable however often the feed is rebuilt) and whose link is the alert's page."""
    fg = FeedGenerator()
    fg.id(one_line(feed_id))
    fg.title(one_line(title, 200))
    fg.author({"name": "MediaWatch"})
    fg.link(href=one_line(self_url), rel="self", type="application/atom+xml")
    fg.updated(updated.astimezone(UTC))
    fg.generator("MediaWatch")
    lang, zone = _lang(language), _zone(tz)
    fg.language(lang)
    for n in sorted(notices, key=lambda n: (n.created_at.timestamp(), n.alert_id), reverse=True):
        item = _item(n, lang, zone)
        fe = fg.add_entry(order="append")
        fe.id(one_line(n.url) or f"urn:mediawatch:alert:{n.alert_id}")
        fe.title(item["title"])
        if item["url"]:
            fe.link(href=item["url"], rel="alternate", type="text/html")
        fe.published(n.created_at.astimezone(UTC))
        fe.updated(n.created_at.astimezone(UTC))
        summary = " · ".join(p for p in (item["meta"], item["issues"], item["summary"]) if p)
        fe.summary(summary)
        for category in (n.kind, *n.categories):
            fe.category(term=one_line(category, 60))
    out: bytes = fg.atom_str(pretty=True)
    return out


# --- when the digest is due -----------------------------------------------------------------------


def parse_digest_time(value: str) -> time:
    """``"10:30"`` -> ``time(10, 30)``; anything but H:MM or HH:MM on a 24-hour clock is a ValueError."""
    match = _DIGEST_TIME.fullmatch(value.strip())
    if not match:
        raise ValueError(f"invalid digest time {value!r}: expected HH:MM on a 24-hour clock, e.g. 10:30")
    return time(int(match[1]), int(match[2]))


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")
    return value.astimezone(UTC)


def _slot(day: date, at: time, zone: ZoneInfo) -> datetime:
    """*at* on local *day*, in UTC. A time skipped by DST counts from before the jump (02:30 on the
    spring-forward day is 03:30 daylight time); a repeated time is its first occurrence."""
    return datetime.combine(day, at.replace(tzinfo=None, fold=0), tzinfo=zone).astimezone(UTC)


def digest_due(now: datetime, at: time, tz: str, last_sent: datetime | None) -> bool:
    """True when today's local *at* has passed and no digest was sent since."""
    now_utc = _aware(now, "now")
    zone = _zone(tz)
    slot = _slot(now_utc.astimezone(zone).date(), at, zone)
    if now_utc < slot:
        return False
    return last_sent is None or _aware(last_sent, "last_sent") < slot


def next_digest_at(now: datetime, at: time, tz: str) -> datetime:
    """The first local *at* after *now*, as an aware UTC datetime."""
    now_utc = _aware(now, "now")
    zone = _zone(tz)
    today = now_utc.astimezone(zone).date()
    slot = _slot(today, at, zone)
    return slot if slot > now_utc else _slot(today + timedelta(days=1), at, zone)
