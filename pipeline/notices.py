"""What is due to be announced, sent once: urgent alerts at once, the daily digest at its hour,
and escalation reminders before a complaint deadline passes.

Each notice has a key in the notifications table (``immediate:12:user:3``, ``digest:2026-11-21:
user:3``, ``remind:12:1:user:3``, ``...:webhook:0``); a key is taken before sending and given back
if sending fails, so a notice goes out once however often this runs, and a failed one is retried.
Mail goes only to people who opted in (account page); nothing is ever mailed to an outlet.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from markupsafe import escape

from .escalation import escalation_clock
from .notify import (
    Mail,
    Notice,
    NotifyError,
    compose_digest,
    compose_immediate,
    digest_due,
    one_line,
    parse_digest_time,
    post_webhook,
    slack_payload,
)
from .notify import send_mail as smtp_send
from .settings import Settings
from .store import Store
from .store.users import UserView
from .store.views import AlertView

log = logging.getLogger(__name__)
HEADINGS = {"en": "MediaWatch: {n} alert(s) to answer", "fr": "MediaWatch : {n} alerte(s) à traiter"}
REMINDERS = {"en": "Reminder: {message}", "fr": "Rappel : {message}"}


def notice(a: AlertView, base: str) -> Notice:
    """An alert as notifications show it, linking to its page under *base*."""
    return Notice(
        alert_id=a.id,
        title=a.title,
        outlet_name=a.outlet_name,
        kind=a.kind,
        categories=tuple(a.categories),
        priority=a.priority,
        summary=a.explanation or a.summary,
        language=a.language or "en",
        published_at=a.published_at,
        created_at=a.created_at,
        url=f"{base}/alerts/{a.id}",
    )


class Notifier:
    """Sends through SMTP and webhooks from settings; ``send_mail`` can be replaced in tests."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store, self.settings = store, settings
        self.base = settings.app_url.rstrip("/") or f"http://{settings.web_host}:{settings.web_port}"
        self.sender = settings.mail_from or settings.contact
        self.stats: Counter[str] = Counter()
        self.send_mail: Callable[[str, Mail], None] = self._smtp

    def _smtp(self, to: str, mail: Mail) -> None:
        smtp_send(
            self.settings.smtp_url, self.settings.smtp_password.get_secret_value(), self.sender, [to], mail
        )

    def _once(self, key: str, channel: str, send: Callable[[], None]) -> None:
        if not self.store.notify_once(key, channel):
            return
        try:
            send()
            self.stats[f"{channel}_sent"] += 1
        except NotifyError as exc:
            self.store.forget_notice(key)  # try again next time
            self.stats[f"{channel}_failed"] += 1
            log.warning("notice not sent key=%s error=%s", key, exc)

    def _mail(self, user: UserView, key: str, mail: Mail) -> None:
        if not self.settings.smtp_url:
            self.stats["mail_not_configured"] += 1
            return
        self._once(f"{key}:user:{user.id}", "email", lambda: self.send_mail(user.email, mail))

    def _hooks(self, key: str, notices: Sequence[Notice], heading: str) -> None:
        for i, url in enumerate(self.settings.webhook_urls):
            payload = slack_payload(notices, heading, tz=self.settings.timezone)
            self._once(
                f"{key}:webhook:{i}",
                "webhook",
                lambda url=url, payload=payload: post_webhook(url, payload, self.settings.user_agent),  # type: ignore[misc]
            )

    # ---------------------------------------------------------------- the three kinds
    def immediate(self) -> None:
        """Urgent alerts: to analysts when raised (to triage), to everyone once opened."""
        urgent = self.settings.immediate_priority
        fresh = self.store.list_alerts(status="new", min_priority=urgent, limit=50)
        opened = self.store.list_alerts(status=("open", "claimed"), min_priority=urgent, limit=50)
        people = self.store.recipients(immediate=True)
        for alert, stage in [(a, "new") for a in fresh] + [(a, "open") for a in opened]:
            note = notice(alert, self.base)
            for user in people:
                if stage == "new" and not user.can("analyst"):
                    continue
                self._mail(user, f"immediate:{stage}:{alert.id}", compose_immediate(note, user.language))
            if stage == "open":
                self._hooks(f"immediate:{alert.id}", [note], note.title)

    def digest(self, now: datetime) -> None:
        """Once a day at the digest time: the open alerts that still need letters."""
        at = parse_digest_time(self.settings.digest_time)
        last = self.store.last_notice("digest:")
        if not digest_due(now, at, self.settings.timezone, last):
            return
        day = now.astimezone(ZoneInfo(self.settings.timezone)).date()
        alerts = self.store.alerts_opened_since(None, limit=50)
        notices = [notice(a, self.base) for a in alerts]
        self.store.notify_once(f"digest:{day}:run", "digest", alerts=len(alerts))  # marks the day done
        if not notices:
            return
        for user in self.store.recipients(digest=True):
            mail = compose_digest(notices, user.language, self.base, day, tz=self.settings.timezone)
            if mail is not None:
                self._mail(user, f"digest:{day}", mail)
        self._hooks(f"digest:{day}", notices, HEADINGS["en"].format(n=len(notices)))

    def reminders(self, now: datetime) -> None:
        """Before an escalation deadline passes, remind the responders who wrote."""
        for alert in self.store.list_alerts(status="sent", limit=500):
            detail = self.store.alert_detail(alert.id)
            if detail is None:
                continue
            outcomes = self.store.alert_outcomes(alert.id)
            answered = any(o["kind"] != "no_response" and o["confirmed"] for o in outcomes)
            claims = [c for c, _name in self.store.claims(alert.id) if c.status == "sent"]
            for claim in claims:
                user = self.store.user(claim.user_id)
                if user is None or not user.active:
                    continue
                clock = escalation_clock(
                    detail.outlet_config,
                    alert.published_at,
                    alert.first_sent_at,
                    answered,
                    now,
                    user.language,
                )
                if not clock.remind or clock.next is None:
                    continue
                note = notice(alert, self.base)
                mail = compose_immediate(note, user.language)
                reminder = REMINDERS.get(user.language, REMINDERS["en"]).format(message=clock.message)
                banner = f"<p><strong>{escape(reminder)}</strong></p>"
                html = re.sub(r"(<body[^>]*>)", lambda m, b=banner: m[1] + b, mail.html, count=1)  # type: ignore[misc]
                mail = Mail(one_line(reminder, 150), f"{reminder}\n\n{mail.text}", html)
                self._mail(user, f"remind:{alert.id}:{clock.next.index}", mail)


def send_due_notices(store: Store, settings: Settings, now: datetime) -> dict[str, int]:
    notifier = Notifier(store, settings)
    notifier.immediate()
    notifier.digest(now)
    notifier.reminders(now)
    return dict(notifier.stats)
