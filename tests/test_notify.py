"""Notifications against real components: an aiosmtpd server, an HTTP webhook receiver, feedparser."""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import feedparser
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from lxml import etree

from pipeline.notify import (
    Mail,
    Notice,
    NotifyError,
    atom_feed,
    compose_digest,
    compose_immediate,
    digest_due,
    next_digest_at,
    parse_digest_time,
    parse_smtp_url,
    post_webhook,
    send_mail,
    slack_payload,
)

HOSTILE = "Gaza <script>alert('x')</script> & <b>more</b>\r\nBcc: victim@evil.example"
UA = "MediaWatch/test (+https://example.org; team@example.org)"
DAY = date(2026, 3, 5)
SENDER = "MediaWatch <alerts@mediawatch.example>"


def notice(alert_id: int, title: str, priority: float, **kw: Any) -> Notice:
    base = Notice(
        alert_id=alert_id,
        title=title,
        outlet_name="The Daily Star",
        kind="complaint",
        categories=("agentless_casualties", "loaded_language"),
        priority=priority,
        summary="Deaths reported without naming who caused them.",
        language="en",
        published_at=datetime(2026, 3, 4, 23, 30, tzinfo=UTC),  # 18:30 on 4 March in Toronto
        created_at=datetime(2026, 3, 5, 1, 0, tzinfo=UTC),
        url=f"https://app.example/alerts/{alert_id}",
    )
    return replace(base, **kw)


NOTICES = [
    notice(1, "Low priority story", 0.2),
    notice(2, HOSTILE, 0.9),
    notice(3, "Un reportage soigné", 0.5, kind="praise", categories=("good_coverage",), language="fr"),
]


# --- a real SMTP server ---------------------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    authenticated: bool | None


@dataclass
class Collector:
    """aiosmtpd handler keeping every message; recipients starting with 'bounce' are refused."""

    received: list[Received] = field(default_factory=list)

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.startswith("bounce"):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        raw = envelope.original_content or b""
        msg = message_from_bytes(raw, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        self.received.append(
            Received(str(envelope.mail_from), list(envelope.rcpt_tos), msg, session.authenticated)
        )
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


SmtpFactory = Callable[..., tuple[str, Collector]]


@pytest.fixture
def smtp_server() -> Iterator[SmtpFactory]:
    """Start a real aiosmtpd server with the given options; yields (host:port, collector)."""
    started: list[Controller] = []

    def start(**kwargs: Any) -> tuple[str, Collector]:
        handler = Collector()
        port = free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
        controller.start()
        started.append(controller)
        return f"127.0.0.1:{port}", handler

    yield start
    for controller in started:
        controller.stop()


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (made with the openssl command)."""
    if not shutil.which("openssl"):
        pytest.skip("openssl command not available")
    folder = tmp_path_factory.mktemp("tls")
    key, crt = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(crt), "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return crt, key


def server_tls(cert: tuple[Path, Path]) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(*cert)
    return ctx


def client_tls(cert: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert[0]))


def parts(msg: EmailMessage) -> tuple[str, str]:
    text, html = msg.get_body(("plain",)), msg.get_body(("html",))
    assert text is not None and html is not None
    return str(text.get_content()), str(html.get_content())


def test_digest_goes_to_each_recipient_alone_with_hostile_title_escaped(smtp_server: SmtpFactory) -> None:
    where, box = smtp_server()
    mail = compose_digest(NOTICES, "en", "https://app.example/", DAY)
    assert mail is not None
    to = ["ana@example.org", "Ben Responder <ben@example.org>", "ANA@example.org"]
    send_mail(f"smtp://{where}", "", SENDER, to, mail)

    assert len(box.received) == 2  # one message per responder; the same address twice is sent once
    assert [r.rcpt_tos for r in box.received] == [["ana@example.org"], ["ben@example.org"]]
    assert [r.message["To"] for r in box.received] == ["ana@example.org", "Ben Responder <ben@example.org>"]
    for r in box.received:
        msg = r.message
        assert r.mail_from == "alerts@mediawatch.example"
        assert msg["From"] == SENDER
        assert msg["Bcc"] is None and msg["Cc"] is None
        assert msg["Auto-Submitted"] == "auto-generated" and msg["Message-ID"]
        other = "ben@" if "ana@" in msg["To"] else "ana@"
        assert other not in msg.as_string()  # nobody sees the other responders
        subject = msg["Subject"]
        assert "\n" not in subject and "\r" not in subject
        assert subject.startswith("MediaWatch: 3 alerts to answer, March 5, 2026")
        assert "Bcc: victim@evil.example" in subject  # the title stays text on the Subject line
        text, html = parts(msg)
        # the text part is plain text: the title as written, no HTML escaping
        assert "Gaza <script>alert('x')</script> & <b>more</b> Bcc: victim@evil.example" in text
        assert "&lt;" not in text
        assert text.index("Gaza <script>") < text.index("Un reportage soigné") < text.index("Low priority")
        assert "The Daily Star · complaint · priority 0.90 · published 2026-03-04" in text
        assert "in French" in text  # article 3 is French, the responder reads English
        assert "Issues: deaths reported without saying who caused them" in text
        assert "https://app.example/alerts/2" in text and "https://app.example/alerts" in text
        # the html part escapes it
        assert "<script>" not in html and "<b>more" not in html
        assert "Gaza &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &lt;b&gt;more&lt;/b&gt;" in html
        assert '<a href="https://app.example/alerts/2">' in html and '<html lang="en">' in html


def test_french_digest(smtp_server: SmtpFactory) -> None:
    where, box = smtp_server()
    mail = compose_digest(NOTICES[:1] + NOTICES[2:], "fr", "https://app.example", date(2026, 3, 1))
    assert mail is not None
    send_mail(f"smtp://{where}", "", SENDER, ["chloe@example.org"], mail)
    (got,) = box.received
    assert got.message["Subject"].startswith("MediaWatch : 2 alertes à traiter, 1er mars 2026 | ")
    text, html = parts(got.message)
    assert "Alertes MediaWatch du 1er mars 2026" in text
    assert "Problèmes : des morts rapportées sans dire qui les a causées" in text
    assert "The Daily Star · remerciement · priorité 0.50 · publié le 2026-03-04" in text
    assert "en anglais" in text and "Adaptez la lettre proposée" in text
    assert '<html lang="fr">' in html and "Ouvrir l&#39;alerte" in html


def test_immediate_notice_subject_is_one_line(smtp_server: SmtpFactory) -> None:
    where, box = smtp_server()
    mail = compose_immediate(NOTICES[1], "en")
    title = "Gaza <script>alert('x')</script> & <b>more</b> Bcc: victim@evil.example"
    assert mail.subject == f"MediaWatch: high-priority alert: {title}"
    long = compose_immediate(notice(9, "word " * 40, 0.9), "en").subject
    assert long.endswith("word…") and len(long) < 130
    send_mail(f"smtp://{where}", "", SENDER, ["ana@example.org"], mail)
    (got,) = box.received
    assert got.rcpt_tos == ["ana@example.org"] and got.message["Bcc"] is None
    text, html = parts(got.message)
    assert "High-priority alert" in text and "<script>" in text
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_mail_subject_with_newlines_is_flattened_when_sent(smtp_server: SmtpFactory) -> None:
    where, box = smtp_server()
    mail = Mail(subject="Hello\r\nBcc: victim@evil.example\nX-Evil: 1", text="body", html="<p>body</p>")
    send_mail(f"smtp://{where}", "", SENDER, ["ana@example.org"], mail)
    (got,) = box.received
    assert got.message["Subject"] == "Hello Bcc: victim@evil.example X-Evil: 1"
    assert got.message["Bcc"] is None and got.message["X-Evil"] is None
    assert got.rcpt_tos == ["ana@example.org"]


def test_empty_digest_is_not_composed() -> None:
    assert compose_digest([], "en", "https://app.example", DAY) is None
    with pytest.raises(ValueError, match="'de'"):
        compose_digest(NOTICES, "de", "https://app.example", DAY)


@pytest.mark.parametrize(
    "address",
    ["ana@example.org\r\nBcc: victim@evil.example", "ana@example.org, victim@evil.example", "not-an-address"],
)
def test_bad_recipient_is_refused_before_anything_is_sent(smtp_server: SmtpFactory, address: str) -> None:
    where, box = smtp_server()
    mail = compose_immediate(NOTICES[0], "en")
    with pytest.raises(NotifyError, match="invalid recipient address"):
        send_mail(f"smtp://{where}", "", SENDER, ["ok@example.org", address], mail)
    assert box.received == []


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_login(smtp_server: SmtpFactory) -> None:
    seen: list[tuple[str, bytes]] = []

    def authenticator(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        seen.append((mechanism, auth_data.login))
        ok = auth_data.login == b"relay" and auth_data.password == b"s3cret pass"
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself

    where, box = smtp_server(authenticator=authenticator, auth_require_tls=False, auth_required=True)
    mail = compose_immediate(NOTICES[0], "en")
    send_mail(f"smtp://relay@{where}", "s3cret pass", SENDER, ["ana@example.org"], mail)
    assert len(box.received) == 1 and box.received[0].authenticated is True
    assert seen and seen[0][1] == b"relay"

    with pytest.raises(NotifyError) as caught:
        send_mail(f"smtp://relay@{where}", "wrong-password", SENDER, ["ana@example.org"], mail)
    message = str(caught.value)
    assert where in message and "535" in message and "wrong-password" not in message
    assert "\n" not in message

    with pytest.raises(NotifyError, match="530"):  # no user: the server wants a login first
        send_mail(f"smtp://{where}", "", SENDER, ["ana@example.org"], mail)
    with pytest.raises(NotifyError, match="no password"):
        send_mail(f"smtp://relay@{where}", "", SENDER, ["ana@example.org"], mail)
    assert len(box.received) == 1


def test_nothing_listening() -> None:
    port = free_port()
    mail = compose_immediate(NOTICES[0], "en")
    with pytest.raises(NotifyError) as caught:
        send_mail(f"smtp://user:hunter2@127.0.0.1:{port}", "", SENDER, ["ana@example.org"], mail, timeout=3)
    message = str(caught.value)
    assert f"127.0.0.1:{port}" in message and "refused" in message
    assert "hunter2" not in message and "\n" not in message
    assert caught.value.sent == ()


def test_refused_recipient_does_not_stop_the_others(smtp_server: SmtpFactory) -> None:
    where, box = smtp_server()
    mail = compose_immediate(NOTICES[0], "en")
    with pytest.raises(NotifyError) as caught:
        send_mail(f"smtp://{where}", "", SENDER, ["bounce@example.org", "ana@example.org"], mail)
    assert [r.rcpt_tos for r in box.received] == [["ana@example.org"]]
    assert "bounce@example.org" in str(caught.value) and "550" in str(caught.value)
    assert caught.value.sent == ("ana@example.org",)


def test_starttls(smtp_server: SmtpFactory, cert: tuple[Path, Path]) -> None:
    where, box = smtp_server(tls_context=server_tls(cert), require_starttls=True)
    mail = compose_immediate(NOTICES[0], "en")
    send_mail(f"smtp://{where}?starttls=1", "", SENDER, ["a@example.org"], mail, tls_context=client_tls(cert))
    assert len(box.received) == 1
    with pytest.raises(NotifyError, match="530"):  # the server insists on STARTTLS
        send_mail(f"smtp://{where}", "", SENDER, ["a@example.org"], mail)
    with pytest.raises(NotifyError, match="CERTIFICATE_VERIFY_FAILED"):  # not trusted by default
        send_mail(f"smtp://{where}?starttls=yes", "", SENDER, ["a@example.org"], mail)
    assert len(box.received) == 1


def test_smtps(smtp_server: SmtpFactory, cert: tuple[Path, Path]) -> None:
    where, box = smtp_server(ssl_context=server_tls(cert))
    mail = compose_immediate(NOTICES[0], "fr")
    send_mail(f"smtps://{where}", "", SENDER, ["a@example.org"], mail, tls_context=client_tls(cert))
    (got,) = box.received
    assert got.message["Subject"].startswith("MediaWatch : alerte prioritaire : Low priority story")


def test_parse_smtp_url() -> None:
    assert parse_smtp_url("smtp://mail.example").port == 25
    server = parse_smtp_url("smtps://me%40org@mail.example")
    assert (server.port, server.ssl, server.user, server.starttls) == (465, True, "me@org", False)
    server = parse_smtp_url("smtp://mail.example:587?starttls=1")
    assert (server.port, server.starttls, server.label) == (587, True, "mail.example:587")
    assert "pw" not in repr(parse_smtp_url("smtp://u:pw@mail.example"))
    for bad, match in [
        ("http://mail.example", "smtp://"),
        ("smtp://u:pw@mail.example:99999", "invalid port"),
        ("smtp://mail.example?tls=1", "unknown options: tls"),
        ("smtp://mail.example?starttls=maybe", "starttls"),
        ("smtps://mail.example?starttls=1", "already TLS"),
    ]:
        with pytest.raises(NotifyError, match=match) as caught:
            parse_smtp_url(bad)
        assert "pw" not in str(caught.value)


# --- a real webhook receiver ----------------------------------------------------------------------


class Hook(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.posts.append((self.path, dict(self.headers), body))  # type: ignore[attr-defined]
        if self.path.startswith("/moved"):
            self.send_response(302)
            self.send_header("Location", "/hook")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        status, reply = (500, b"boom: invalid_payload") if self.path.startswith("/fail") else (200, b"ok")
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[str, dict[str, str], bytes]]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    posts: list[tuple[str, dict[str, str], bytes]] = []
    server.posts = posts  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", posts
    server.shutdown()
    server.server_close()
    thread.join()


def test_slack_payload_escapes_and_orders() -> None:
    payload = slack_payload(NOTICES, "New <!channel> alerts & more")
    assert payload["text"] == "New &lt;!channel&gt; alerts &amp; more: 3 alerts"
    header, *sections = payload["blocks"]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": "New <!channel> alerts & more"},
    }
    assert [s["type"] for s in sections] == ["section"] * 3
    assert all(s["text"]["type"] == "mrkdwn" for s in sections)
    first = sections[0]["text"]["text"]
    assert first.startswith(
        "*<https://app.example/alerts/2|Gaza &lt;script&gt;alert('x')&lt;/script&gt; &amp; &lt;b&gt;more"
    )
    assert "<script>" not in first and "<b>" not in first
    assert "victim@evil.example>*\nThe Daily Star · complaint · priority 0.90" in first
    assert "https://app.example/alerts/3" in sections[1]["text"]["text"]
    assert "https://app.example/alerts/1" in sections[2]["text"]["text"]


def test_slack_payload_stays_within_block_limit() -> None:
    many = [notice(i, f"Story {i}", i / 100) for i in range(60)]
    payload = slack_payload(many, "Digest")
    assert len(payload["blocks"]) <= 50
    assert payload["blocks"][-1]["elements"][0]["text"] == "and 15 more"
    assert payload["text"] == "Digest: 60 alerts"


def test_post_webhook(receiver: tuple[str, list[tuple[str, dict[str, str], bytes]]]) -> None:
    base, posts = receiver
    payload = slack_payload(NOTICES[:1], "Urgent")
    post_webhook(f"{base}/hook", payload, UA)
    ((path, headers, body),) = posts
    assert path == "/hook"
    assert headers["Content-Type"] == "application/json" and headers["User-Agent"] == UA
    assert json.loads(body) == payload


def test_post_webhook_failures(receiver: tuple[str, list[tuple[str, dict[str, str], bytes]]]) -> None:
    base, posts = receiver
    with pytest.raises(NotifyError) as caught:
        post_webhook(f"{base}/fail", {"text": "x"}, UA)
    assert (
        str(caught.value)
        == f"webhook {base}/fail answered HTTP 500 Internal Server Error: boom: invalid_payload"
    )

    with pytest.raises(NotifyError) as caught:  # the secret part of a webhook URL stays out of the message
        post_webhook(f"{base}/fail/T000/B000/XXXXsecretXXXX?token=abc", {"text": "x"}, UA)
    assert f"{base}/fail/…?…" in str(caught.value) and "secret" not in str(caught.value)

    with pytest.raises(NotifyError, match="HTTP 302"):  # a redirect is not followed
        post_webhook(f"{base}/moved", {"text": "x"}, UA)
    assert [p[0] for p in posts] == ["/fail", "/fail/T000/B000/XXXXsecretXXXX?token=abc", "/moved"]

    port = free_port()
    with pytest.raises(NotifyError, match=f"127.0.0.1:{port}/hook: could not connect"):
        post_webhook(f"http://127.0.0.1:{port}/hook", {"text": "x"}, UA, timeout=3)
    with pytest.raises(NotifyError, match="only http and https"):
        post_webhook("file:///etc/passwd", {"text": "x"}, UA)


# --- Atom feed ------------------------------------------------------------------------------------


def test_atom_feed() -> None:
    updated = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)
    weird = notice(4, "Bell\x07 and\x00 null\x0b title \u202eevil", 0.4, created_at=updated)
    items = [*NOTICES, weird]
    xml = atom_feed(items, "urn:mediawatch:feed:responder:7", "Open alerts", "https://app.example/f", updated)

    root = etree.fromstring(xml)  # well-formed XML despite control characters in a title
    ns = {"a": "http://www.w3.org/2005/Atom"}
    assert root.tag == "{http://www.w3.org/2005/Atom}feed"
    assert len(root.findall("a:entry", ns)) == 4
    assert b"<script>" not in xml and b"&lt;script&gt;" in xml

    feed = feedparser.parse(xml)
    assert feed.version == "atom10" and not feed.bozo
    assert feed.feed.id == "urn:mediawatch:feed:responder:7" and feed.feed.title == "Open alerts"
    assert feed.feed.links[0]["rel"] == "self" and feed.feed.links[0]["href"] == "https://app.example/f"
    assert [e.id for e in feed.entries] == [f"https://app.example/alerts/{i}" for i in (4, 3, 2, 1)]
    by_id = {e.id: e for e in feed.entries}
    hostile = by_id["https://app.example/alerts/2"]
    assert hostile.title == "Gaza <script>alert('x')</script> & <b>more</b> Bcc: victim@evil.example"
    assert hostile.title_detail["type"] == "text/plain"  # readers show it as text, never as markup
    assert hostile.link == "https://app.example/alerts/2"
    assert {t["term"] for t in hostile.tags} == {"complaint", "agentless_casualties", "loaded_language"}
    assert "priority 0.90" in hostile.summary
    assert by_id["https://app.example/alerts/4"].title == "Bell and null title evil"

    again = feedparser.parse(
        atom_feed(items[::-1], "urn:mediawatch:feed:responder:7", "x", "https://a/f", updated)
    )
    assert [e.id for e in again.entries] == [e.id for e in feed.entries]  # ids are stable


# --- when the digest is due -----------------------------------------------------------------------


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


TORONTO = "America/Toronto"
AT = time(10, 30)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("10:30", time(10, 30)), ("7:05", time(7, 5)), (" 00:00 ", time(0, 0)), ("23:59", time(23, 59))],
)
def test_parse_digest_time(value: str, expected: time) -> None:
    assert parse_digest_time(value) == expected


@pytest.mark.parametrize("value", ["24:00", "10:60", "1030", "10h30", "", "10:30pm", "١٠:٣٠", "10:3"])
def test_parse_digest_time_rejects(value: str) -> None:
    with pytest.raises(ValueError, match="invalid digest time") as caught:
        parse_digest_time(value)
    assert repr(value) in str(caught.value)


def test_digest_due_once_a_day() -> None:
    # 5 March 2026 is standard time in Toronto (UTC-5): 10:30 local is 15:30 UTC
    assert not digest_due(utc(2026, 3, 5, 15, 29), AT, TORONTO, None)
    assert digest_due(utc(2026, 3, 5, 15, 30), AT, TORONTO, None)
    assert digest_due(utc(2026, 3, 5, 15, 31), AT, TORONTO, utc(2026, 3, 4, 15, 31))  # sent yesterday
    assert not digest_due(utc(2026, 3, 5, 22, 0), AT, TORONTO, utc(2026, 3, 5, 15, 31))  # sent today
    assert digest_due(
        utc(2026, 3, 5, 22, 0), AT, TORONTO, utc(2026, 3, 5, 15, 29)
    )  # sent just before the time
    # 02:00 UTC on 6 March is still 5 March (21:00) in Toronto: today's digest went out
    assert not digest_due(utc(2026, 3, 6, 2, 0), AT, TORONTO, utc(2026, 3, 5, 15, 31))
    # the same instant in another zone is another local day
    assert digest_due(utc(2026, 3, 6, 2, 0), time(9, 0), "Asia/Tokyo", utc(2026, 3, 5, 15, 31))


def test_digest_across_autumn_dst_change() -> None:
    # Toronto falls back on Sunday 1 November 2026: 10:30 is 14:30 UTC the day before, 15:30 UTC that day
    assert next_digest_at(utc(2026, 10, 31, 12, 0), AT, TORONTO) == utc(2026, 10, 31, 14, 30)
    assert next_digest_at(utc(2026, 10, 31, 15, 0), AT, TORONTO) == utc(2026, 11, 1, 15, 30)
    assert next_digest_at(utc(2026, 11, 1, 15, 30), AT, TORONTO) == utc(2026, 11, 2, 15, 30)
    assert next_digest_at(utc(2026, 11, 1, 15, 0), AT, TORONTO).tzinfo is UTC
    assert not digest_due(utc(2026, 11, 1, 14, 45), AT, TORONTO, utc(2026, 10, 31, 14, 31))  # 09:45 EST
    assert digest_due(utc(2026, 11, 1, 15, 30), AT, TORONTO, utc(2026, 10, 31, 14, 31))
    # 01:30 happens twice that night: the digest goes out at the first one and not again at the second
    early = time(1, 30)
    assert digest_due(utc(2026, 11, 1, 5, 30), early, TORONTO, None)  # 01:30 EDT
    assert not digest_due(utc(2026, 11, 1, 6, 40), early, TORONTO, utc(2026, 11, 1, 5, 31))  # 01:40 EST
    assert next_digest_at(utc(2026, 11, 1, 6, 0), early, TORONTO) == utc(2026, 11, 2, 6, 30)


def test_digest_across_spring_dst_change() -> None:
    # Toronto springs forward on Sunday 8 March 2026: 10:30 moves from 15:30 UTC to 14:30 UTC
    assert next_digest_at(utc(2026, 3, 7, 16, 0), AT, TORONTO) == utc(2026, 3, 8, 14, 30)
    assert digest_due(utc(2026, 3, 8, 14, 30), AT, TORONTO, utc(2026, 3, 7, 15, 30))
    # 02:30 does not exist that day: the digest goes at 03:30 daylight time (07:30 UTC)
    skipped = time(2, 30)
    assert not digest_due(utc(2026, 3, 8, 7, 29), skipped, TORONTO, None)
    assert digest_due(utc(2026, 3, 8, 7, 30), skipped, TORONTO, None)
    assert next_digest_at(utc(2026, 3, 8, 7, 0), skipped, TORONTO) == utc(2026, 3, 8, 7, 30)


def test_next_digest_is_always_ahead_and_a_day_apart() -> None:
    now = utc(2026, 10, 25, 0, 0)
    for _ in range(24 * 14):  # two weeks by hour, across the autumn change
        at = next_digest_at(now, AT, TORONTO)
        assert now < at <= now + timedelta(days=1, hours=1)
        assert at.astimezone(ZoneInfo(TORONTO)).time() == AT
        now += timedelta(hours=1)


def test_schedule_rejects_naive_times_and_unknown_zones() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        digest_due(datetime(2026, 3, 5, 15, 0), AT, TORONTO, None)
    with pytest.raises(ValueError, match="last_sent"):
        digest_due(utc(2026, 3, 5, 16, 0), AT, TORONTO, datetime(2026, 3, 5, 15, 0))
    with pytest.raises(ValueError, match="'Mars/Olympus'"):
        next_digest_at(utc(2026, 3, 5, 15, 0), AT, "Mars/Olympus")
