"""The escalation clock: when an outlet has not answered, which route comes next and by when.

The chain of steps is the outlet's letters desk (when ``letters`` has an email or URL) followed by
its ``complaint_routes`` in feeds.yaml order. Rules, from the feeds.yaml header:

- ``deadline_days`` counts calendar days from publication; a step without it (or an article without
  a publication date) has no known deadline and stays available. The deadline day itself is open.
- ``reply_days`` is how long the outlet or body has to answer before the next step opens; when the
  route's ``rules`` say "business days" / "jours ouvrables", it counts Monday to Friday (public
  holidays are ignored, so the date can be a day or two early around a holiday). A step without
  ``reply_days`` (the letters desk always) waits ``DEFAULT_REPLY_DAYS`` calendar days, even if its
  rules mention business days (Radio-Canada's ombudsman rules quote the CBC's 20 business days as
  unconfirmed).
- A route whose ``rules`` say its deadline counts from the reply (the CBSC: a Ruling Request within
  14 days of the broadcaster's reply) has no publication deadline; once its own reply time has run
  out, the follow-up at the same body is offered with a deadline counted from that reply date.
- The first letter is assumed to have gone to the first step still open on the day it was sent;
  a passed deadline skips to the next route whose deadline has not passed.

Dates are UTC calendar dates (naive datetimes are taken as UTC).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from .language import MONTHS

DEFAULT_REPLY_DAYS = 7  # calendar days the letters desk (or a route without reply_days) has to answer
REMIND_DAYS = 3
LANGUAGES = ("en", "fr")

_BUSINESS = re.compile(r"business\s+days|jours\s+ouvrables", re.IGNORECASE)
_FROM_REPLY = re.compile(
    r"not\s+from\s+(?:the\s+)?publication|counts\s+from\s+(?:that|the)\s+reply|à\s+partir\s+de\s+la\s+réponse",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Step:
    """One step of the chain; *index* is its position (0 = the first place to write)."""

    index: int
    body: str
    contact: str | None
    rules: str | None
    deadline: date | None  # last day to take this step (None: no known deadline)
    reply_by: date | None  # when the answer is due (only for the step already taken)
    verified: bool


@dataclass(frozen=True, slots=True)
class Clock:
    """Where an alert's letters stand and what responders should do next."""

    state: str  # "not_sent" | "waiting" | "escalate" | "answered" | "closed"
    current: Step | None  # where the letter went / is waiting
    next: Step | None  # the next route to take, with its deadline
    remind: bool  # next deadline within remind_days and not passed
    days_left: int | None  # to next.deadline
    message: str  # one plain sentence for responders


@dataclass(frozen=True, slots=True)
class _Route:
    index: int
    body: str
    contact: str | None
    rules: str | None
    deadline_days: int | None
    reply_days: int
    business: bool  # reply_days counts business days
    from_reply: bool  # deadline_days counts from the reply, not from publication
    verified: bool


def _day(moment: datetime) -> date:
    if moment.tzinfo is None:
        return moment.date()
    return moment.astimezone(UTC).date()


def add_business_days(start: date, days: int) -> date:
    """*start* plus *days* working days (Monday to Friday; public holidays are not known)."""
    current = start
    while days > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            days -= 1
    return current


def _letters_desk(outlet: Mapping[str, Any], language: str) -> _Route | None:
    letters = outlet.get("letters") or {}
    contacts = [c for c in (letters.get("email"), letters.get("url")) if c]
    if not contacts:
        return None
    name = outlet.get("name") or outlet.get("id") or "?"
    body = f"{name}, courrier des lecteurs" if language == "fr" else f"{name}, letters to the editor"
    return _Route(
        index=0,
        body=body,
        contact="; ".join(contacts),
        rules=letters.get("rules") or None,
        deadline_days=None,
        reply_days=DEFAULT_REPLY_DAYS,
        business=False,
        from_reply=False,
        verified=bool(letters.get("verified")),
    )


def _routes(outlet: Mapping[str, Any], language: str) -> list[_Route]:
    desk = _letters_desk(outlet, language)
    chain = [desk] if desk else []
    routes: Sequence[Mapping[str, Any]] = outlet.get("complaint_routes") or []
    for route in routes:
        rules = route.get("rules") or None
        reply = route.get("reply_days")
        chain.append(
            _Route(
                index=len(chain),
                body=route["body"],
                contact=route.get("contact"),
                rules=rules,
                deadline_days=route.get("deadline_days"),
                reply_days=reply or DEFAULT_REPLY_DAYS,
                business=bool(reply and rules and _BUSINESS.search(rules)),
                from_reply=bool(rules and _FROM_REPLY.search(rules)),
                verified=bool(route.get("verified")),
            )
        )
    return chain


def _step(route: _Route, published: date | None, sent: date | None = None) -> Step:
    deadline = None
    if route.deadline_days is not None and published is not None and not route.from_reply:
        deadline = published + timedelta(days=route.deadline_days)
    reply_by = None
    if sent is not None:
        days = route.reply_days
        reply_by = add_business_days(sent, days) if route.business else sent + timedelta(days=days)
    return Step(route.index, route.body, route.contact, route.rules, deadline, reply_by, route.verified)


def _open(step: Step, today: date) -> bool:
    return step.deadline is None or today <= step.deadline


def _first_open(steps: Sequence[Step], today: date) -> Step | None:
    return next((s for s in steps if _open(s, today)), None)


def _after(routes: list[_Route], current: Step, published: date | None) -> list[Step]:
    """The steps that may follow *current*: its own follow-up if its deadline counts from the reply."""
    route = routes[current.index]
    later = [_step(r, published) for r in routes[current.index + 1 :]]
    if route.from_reply and route.deadline_days is not None and current.reply_by is not None:
        follow_up = Step(
            current.index,
            current.body,
            current.contact,
            current.rules,
            current.reply_by + timedelta(days=route.deadline_days),
            None,
            current.verified,
        )
        return [follow_up, *later]
    return later


def escalation_clock(
    outlet: Mapping[str, Any],
    published: datetime | None,
    first_sent: datetime | None,
    answered: bool,
    now: datetime,
    language: str = "en",
    remind_days: int = REMIND_DAYS,
) -> Clock:
    """The clock for one alert: *outlet* as ``Outlet.model_dump()`` gives it; *now* aware UTC.

    *language* ("en" or "fr") is the language of the message and of the letters-desk step's name.
    """
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES}, not {language!r}")
    routes = _routes(outlet, language)
    today = _day(now)
    pub = _day(published) if published is not None else None
    current = None
    if first_sent is not None:
        sent = _day(first_sent)
        taken = _first_open([_step(r, pub) for r in routes], sent)
        current = _step(routes[taken.index], pub, sent) if taken else None
    if answered:
        return _clock("answered", current, None, today, language, remind_days, bool(routes))
    if current is None or current.reply_by is None:
        nxt = _first_open([_step(r, pub) for r in routes], today) if first_sent is None else None
        state = "not_sent" if nxt else "closed"
        return _clock(state, None if nxt else current, nxt, today, language, remind_days, bool(routes))
    nxt = _first_open(_after(routes, current, pub), today)
    state = "waiting" if today <= current.reply_by else "escalate" if nxt else "closed"
    return _clock(state, current, nxt, today, language, remind_days, bool(routes))


def _clock(
    state: str,
    current: Step | None,
    nxt: Step | None,
    today: date,
    language: str,
    remind_days: int,
    has_routes: bool,
) -> Clock:
    days_left = (nxt.deadline - today).days if nxt and nxt.deadline else None
    remind = days_left is not None and 0 <= days_left <= remind_days
    text = _message(state, current, nxt, days_left, language, has_routes)
    if remind:
        text = TEXT[language]["remind"] + text
    return Clock(state, current, nxt, remind, days_left, text)


TEXT = {
    "en": {
        "not_sent": "Nothing has been sent yet; first step: {next}{when}.",
        "waiting": "{current}: sent, an answer is due by {reply_by}; if none, next step: {next}{when}.",
        "waiting_first": (
            "{current}: sent, an answer is due by {reply_by}, but the deadline for the next step, {next}, "
            "comes first: {deadline}{left}."
        ),
        "waiting_last": "{current}: sent, an answer is due by {reply_by}; no further route is known.",
        "escalate": "No answer by {reply_by}; next step: {next}{when}.",
        "answered": "{current}: answer received, no escalation is needed.",
        "answered_unsent": "The outlet answered: no escalation is needed.",
        "closed": "Every deadline for this article has passed; no route is left.",
        "closed_after": "No answer by {reply_by}, and no further route is open for this article.",
        "no_routes": "No letters desk or complaint route is known for this outlet.",
        "again": "{body} again",
        "by": ", by {deadline}{left}",
        "no_deadline": " (no known deadline)",
        "left": " ({n} days left)",
        "left_1": " (1 day left)",
        "left_0": " (today is the last day)",
        "remind": "Reminder: ",
    },
    "fr": {
        "not_sent": "Rien n'a encore été envoyé ; première étape : {next}{when}.",
        "waiting": (
            "{current} : envoyé, réponse attendue d'ici le {reply_by} ; sinon, étape suivante : {next}{when}."
        ),
        "waiting_first": (
            "{current} : envoyé, réponse attendue d'ici le {reply_by}, mais le délai de l'étape suivante, "
            "{next}, arrive avant : {deadline}{left}."
        ),
        "waiting_last": (
            "{current} : envoyé, réponse attendue d'ici le {reply_by} ; aucun autre recours n'est connu."
        ),
        "escalate": "Pas de réponse au {reply_by} ; étape suivante : {next}{when}.",
        "answered": "{current} : réponse reçue, pas besoin d'aller plus loin.",
        "answered_unsent": "Le média a répondu : pas besoin d'aller plus loin.",
        "closed": "Tous les délais pour cet article sont passés ; il ne reste aucun recours.",
        "closed_after": "Pas de réponse au {reply_by}, et aucun autre recours n'est ouvert pour cet article.",
        "no_routes": "Aucune adresse de courrier ni aucun recours n'est connu pour ce média.",
        "again": "{body}, de nouveau",
        "by": ", d'ici le {deadline}{left}",
        "no_deadline": " (aucun délai connu)",
        "left": " (il reste {n} jours)",
        "left_1": " (il reste 1 jour)",
        "left_0": " (c'est le dernier jour)",
        "remind": "Rappel : ",
    },
}


def format_date(day: date, language: str = "en") -> str:
    """'4 December 2026' / '1er décembre 2026'."""
    number = "1er" if language == "fr" and day.day == 1 else str(day.day)
    return f"{number} {MONTHS[language][day.month - 1]} {day.year}"


def _next_name(current: Step | None, nxt: Step | None, language: str) -> str:
    if nxt is None:
        return ""
    if current is not None and nxt.index == current.index:  # a follow-up at the same body
        return TEXT[language]["again"].format(body=nxt.body)
    return nxt.body


def _message(
    state: str,
    current: Step | None,
    nxt: Step | None,
    days_left: int | None,
    language: str,
    has_routes: bool,
) -> str:
    text = TEXT[language]
    key = state
    if state == "closed" and not has_routes:
        key = "no_routes"
    elif state == "closed" and current is not None:
        key = "closed_after"
    elif state == "answered" and current is None:
        key = "answered_unsent"
    elif state == "waiting" and nxt is None:
        key = "waiting_last"
    elif state == "waiting" and current and current.reply_by and nxt and nxt.deadline:
        key = "waiting_first" if nxt.deadline < current.reply_by else key
    left = ""
    if days_left is not None:
        left = text[f"left_{days_left}"] if days_left in (0, 1) else text["left"].format(n=days_left)
    deadline = format_date(nxt.deadline, language) if nxt and nxt.deadline else ""
    when = text["by"].format(deadline=deadline, left=left) if deadline else text["no_deadline"]
    reply_by = current.reply_by if current else None
    return text[key].format(
        current=current.body if current else "",
        next=_next_name(current, nxt, language),
        reply_by=format_date(reply_by, language) if reply_by else "",
        deadline=deadline,
        left=left,
        when=when,
    )
