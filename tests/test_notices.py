"""Notices go out once, to the people who asked for them, over a real SMTP server and webhook."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import update

from pipeline.notices import send_due_notices
from pipeline.settings import Settings
from pipeline.store import Store
from pipeline.store.schema import Outlet
from pipeline.store.users import UserView


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if m["To"] == address]


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    with socket.socket() as probe:  # a free port (aiosmtpd's own check cannot use port 0)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
def hook() -> Iterator[tuple[list[dict[str, Any]], str]]:
    posts: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            posts.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield posts, f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()


def _people(store: Store) -> tuple[UserView, UserView, UserView]:
    ids = [
        store.create_user("ana@example.org", "analyst", "x"),
        store.create_user("res@example.org", "responder", "x", language="fr"),
        store.create_user("quiet@example.org", "responder", "x"),
    ]
    store.update_user(ids[2], "test", notify_digest=False, notify_immediate=False)
    users = [store.user(i) for i in ids]
    assert all(users)
    return users[0], users[1], users[2]  # type: ignore[return-value]


def _settings(settings: Settings, port: int, **extra: Any) -> Settings:
    return settings.model_copy(
        update={"smtp_url": f"smtp://127.0.0.1:{port}", "app_url": "https://mw.example.org", **extra}
    )


def test_urgent_alerts_reach_analysts_when_raised_and_everyone_once_opened(
    settings: Settings, store: Store, make_alert: Callable[..., int], smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    ana, res, quiet = _people(store)
    s = _settings(settings, port, immediate_priority=0.3, digest_time="23:59", timezone="Pacific/Kiritimati")
    urgent, calm = make_alert(severity=0.95), make_alert(severity=0.05)
    now = datetime.now(UTC)
    send_due_notices(store, s, now)
    assert [m["To"] for m in inbox.messages] == [ana.email]  # only analysts triage new alerts
    assert f"https://mw.example.org/alerts/{urgent}" in inbox.messages[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    store.approve(urgent, ana.email)
    store.approve(calm, ana.email)
    send_due_notices(store, s, now)
    send_due_notices(store, s, now)  # nothing twice
    assert sorted(m["To"] for m in inbox.messages) == sorted([ana.email, ana.email, res.email])
    assert not inbox.to(quiet.email)


def test_the_digest_goes_out_once_a_day_at_its_hour_in_each_language(
    settings: Settings,
    store: Store,
    make_alert: Callable[..., int],
    smtp: tuple[Inbox, int],
    hook: tuple[list[dict[str, Any]], str],
) -> None:
    inbox, port = smtp
    posts, url = hook
    ana, res, quiet = _people(store)
    s = _settings(
        settings, port, immediate_priority=5.0, digest_time="10:30", timezone="UTC", webhook_urls=[url]
    )
    for _ in range(2):
        store.approve(make_alert(), ana.email)
    # the days the test plays out come after the clock the store writes its records with (when a
    # digest went out): a fixed day stopped the next day's digest once that day's 10:30 had passed
    day = datetime.now(UTC).date() + timedelta(days=1)
    before = datetime(day.year, day.month, day.day, 10, 0, tzinfo=UTC)
    send_due_notices(store, s, before)
    assert inbox.messages == [] and posts == []
    at = before + timedelta(minutes=31)
    send_due_notices(store, s, at)
    send_due_notices(store, s, at + timedelta(hours=2))
    assert len(inbox.to(ana.email)) == len(inbox.to(res.email)) == 1 and not inbox.to(quiet.email)
    french = inbox.to(res.email)[0]
    assert "alerte" in str(french["Subject"]).lower()
    assert len(posts) == 1 and "blocks" in posts[0]
    send_due_notices(store, s, at + timedelta(days=1))  # the next day: again
    assert len(inbox.to(ana.email)) == 2


def test_a_failed_send_is_retried_next_run(
    settings: Settings, store: Store, make_alert: Callable[..., int], smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    ana, _res, _quiet = _people(store)
    make_alert(severity=0.95)
    down = _settings(settings, 1, immediate_priority=0.3, digest_time="23:59", timezone="Pacific/Kiritimati")
    stats = send_due_notices(store, down, datetime.now(UTC))
    assert stats.get("email_failed") == 1 and inbox.messages == []
    send_due_notices(
        store,
        _settings(settings, port, immediate_priority=0.3, digest_time="23:59", timezone="Pacific/Kiritimati"),
        datetime.now(UTC),
    )
    assert [m["To"] for m in inbox.messages] == [ana.email]


def test_responders_are_reminded_before_the_next_deadline_passes(
    settings: Settings, store: Store, make_alert: Callable[..., int], smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    ana, res, _quiet = _people(store)
    now = datetime.now(UTC)
    alert = make_alert(severity=0.2, published=now - timedelta(days=20))
    with store.sessions.begin() as s:  # the outlet's letters desk, then a council within 30 days
        config = {
            "name": "The Maple Ledger",
            "letters": {"email": "letters@mapleledger.example"},
            "complaint_routes": [{"body": "National NewsMedia Council", "deadline_days": 30}],
        }
        s.execute(update(Outlet).where(Outlet.id == "maple-ledger").values(config=config))
    store.approve(alert, ana.email)
    store.claim(alert, res)
    store.save_letter(alert, res, "Objet", "Mes propres mots sur cet article.")
    store.mark_sent(alert, res)
    s = _settings(settings, port, immediate_priority=5.0, digest_time="23:59", timezone="Pacific/Kiritimati")
    send_due_notices(store, s, now + timedelta(days=1))  # letters desk still has time: no reminder
    assert inbox.to(res.email) == []
    later = now + timedelta(days=8)  # no answer after a week; the council's deadline is 2 days away
    send_due_notices(store, s, later)
    send_due_notices(store, s, later)
    [reminder] = inbox.to(res.email)
    assert "Rappel" in str(reminder["Subject"]) and "National NewsMedia Council" in str(reminder["Subject"])
