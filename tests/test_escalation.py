"""The escalation clock on the real outlets of feeds.yaml and on small hand-made outlets."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from pipeline.config import Outlet, load_feeds
from pipeline.escalation import DEFAULT_REPLY_DAYS, add_business_days, escalation_clock, format_date

PUBLISHED = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)  # a Monday
SENT = datetime(2026, 11, 6, 18, 30, tzinfo=UTC)  # the Friday after


@pytest.fixture(scope="module")
def feeds() -> dict[str, dict[str, Any]]:
    return {o.id: o.model_dump() for o in load_feeds(Path("feeds.yaml")).outlets}


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(hour=12, tzinfo=UTC)


def outlet(letters: dict[str, Any] | None = None, *routes: dict[str, Any]) -> dict[str, Any]:
    """A hand-made outlet, shaped exactly as Outlet.model_dump() gives it."""
    return Outlet.model_validate(
        {
            "id": "example",
            "name": "Example Daily",
            "language": "en",
            "letters": letters or {},
            "complaint_routes": list(routes),
        }
    ).model_dump()


DESK = {"email": "letters@example.com"}
COUNCIL = {"body": "Press Council", "contact": "council@example.org", "deadline_days": 30, "reply_days": 10}
LATE = {"body": "Late Board", "deadline_days": 60}


# ---------------------------------------------------------------- real outlets from feeds.yaml


def test_cbc_goes_to_the_ombudsperson_within_a_year_and_waits_20_business_days(
    feeds: dict[str, dict[str, Any]],
) -> None:
    cbc = feeds["cbc-news"]
    clock = escalation_clock(cbc, PUBLISHED, None, False, at("2026-11-03"))
    assert clock.state == "not_sent"
    assert clock.current is None
    assert clock.next is not None and clock.next.body == "CBC Ombudsperson (English services)"
    assert clock.next.deadline == date(2027, 11, 2) and clock.days_left == 364
    assert clock.next.contact is not None and "ombudsman@cbc.ca" in clock.next.contact
    assert not clock.remind

    # sent on a Friday: 20 business days later is Friday 4 December (four whole weeks)
    waiting = escalation_clock(cbc, PUBLISHED, SENT, False, at("2026-12-04"))
    assert waiting.state == "waiting"
    assert waiting.current is not None and waiting.current.reply_by == date(2026, 12, 4)
    assert waiting.next is not None and waiting.next.body.endswith("(CRTC)")

    escalate = escalation_clock(cbc, PUBLISHED, SENT, False, at("2026-12-05"))
    assert escalate.state == "escalate"
    assert escalate.next is not None and escalate.next.body.endswith("(CRTC)")
    assert escalate.next.deadline is None and escalate.days_left is None and not escalate.remind
    assert escalate.message.startswith("No answer by 4 December 2026; next step: Canadian Radio-television")


def test_postmedia_title_goes_from_the_letters_desk_to_the_press_council(
    feeds: dict[str, dict[str, Any]],
) -> None:
    post = feeds["national-post"]
    first = escalation_clock(post, PUBLISHED, None, False, at("2026-11-02"))
    assert first.state == "not_sent"
    assert first.next is not None and first.next.index == 0
    assert first.next.contact == "letters@nationalpost.com" and first.next.deadline is None

    waiting = escalation_clock(post, PUBLISHED, SENT, False, at("2026-11-10"))
    assert waiting.state == "waiting"
    assert waiting.current is not None and waiting.current.contact == "letters@nationalpost.com"
    assert waiting.current.reply_by == date(2026, 11, 6) + timedelta(days=DEFAULT_REPLY_DAYS)
    assert waiting.next is not None and waiting.next.body == "National NewsMedia Council (NNC)"
    assert waiting.next.deadline == date(2026, 12, 2) and waiting.days_left == 22 and not waiting.remind

    escalate = escalation_clock(post, PUBLISHED, SENT, False, at("2026-11-14"))
    assert escalate.state == "escalate"
    assert escalate.next is not None and escalate.next.index == 1
    assert escalate.next.deadline == date(2026, 12, 2) and escalate.days_left == 18

    remind = escalation_clock(post, PUBLISHED, SENT, False, at("2026-11-29"))
    assert remind.state == "escalate" and remind.remind and remind.days_left == 3
    assert remind.message.startswith("Reminder: No answer by 13 November 2026; next step: National NewsMedia")

    over = escalation_clock(post, PUBLISHED, SENT, False, at("2026-12-03"))
    assert over.state == "closed" and over.next is None and not over.remind
    assert over.current is not None and over.current.index == 0


def test_postmedia_title_without_a_letters_address_starts_at_the_council(
    feeds: dict[str, dict[str, Any]],
) -> None:
    clock = escalation_clock(feeds["toronto-sun"], PUBLISHED, None, False, at("2026-11-30"))
    assert clock.state == "not_sent" and clock.remind and clock.days_left == 2
    assert clock.next is not None and clock.next.index == 0
    assert clock.next.body == "National NewsMedia Council (NNC)"


def test_quebec_outlets_go_to_the_conseil_de_presse(feeds: dict[str, dict[str, Any]]) -> None:
    devoir = escalation_clock(feeds["le-devoir"], PUBLISHED, None, False, at("2026-11-20"), language="fr")
    assert devoir.next is not None and devoir.next.body == "Conseil de presse du Québec (CPQ)"
    assert devoir.next.deadline == date(2026, 12, 2)
    assert devoir.message == (
        "Rien n'a encore été envoyé ; première étape : Conseil de presse du Québec (CPQ), "
        "d'ici le 2 décembre 2026 (il reste 12 jours)."
    )
    gazette = feeds["montreal-gazette"]
    clock = escalation_clock(gazette, PUBLISHED, SENT, False, at("2026-11-20"))
    assert clock.state == "escalate"
    assert clock.current is not None and clock.current.contact is not None
    assert clock.current.contact.startswith("letters@montrealgazette.com; http")
    assert clock.next is not None and clock.next.body == "Conseil de presse du Québec (CPQ)"


def test_radio_canada_unstated_reply_time_is_the_calendar_default(feeds: dict[str, dict[str, Any]]) -> None:
    # its rules quote the CBC's "20 business days" as unconfirmed; reply_days is not set
    clock = escalation_clock(feeds["radio-canada"], PUBLISHED, SENT, False, at("2026-11-10"), language="fr")
    assert clock.current is not None and clock.current.body.startswith("Ombudsman des Services français")
    assert clock.current.reply_by == date(2026, 11, 13)
    assert clock.next is not None and clock.next.body == "Conseil de presse du Québec (CPQ)"


def test_private_broadcaster_goes_to_the_cbsc_then_asks_for_a_ruling(
    feeds: dict[str, dict[str, Any]],
) -> None:
    ctv = feeds["ctv-news"]
    first = escalation_clock(ctv, PUBLISHED, None, False, at("2026-12-30"))
    # the CBSC's 14 days count from the broadcaster's reply, not from publication
    assert first.state == "not_sent"
    assert first.next is not None and first.next.body == "Canadian Broadcast Standards Council (CBSC)"
    assert first.next.deadline is None

    waiting = escalation_clock(ctv, PUBLISHED, SENT, False, at("2026-11-27"))
    assert waiting.state == "waiting"
    assert waiting.current is not None and waiting.current.reply_by == date(2026, 11, 27)  # 21 calendar days
    ruling = escalation_clock(ctv, PUBLISHED, SENT, False, at("2026-12-08"))
    assert ruling.state == "escalate" and ruling.remind and ruling.days_left == 3
    assert ruling.next is not None and ruling.next.index == 0 and ruling.next.deadline == date(2026, 12, 11)
    assert "next step: Canadian Broadcast Standards Council (CBSC) again, by 11 December" in ruling.message
    assert escalation_clock(ctv, PUBLISHED, SENT, False, at("2026-12-12")).state == "closed"


def test_outlet_without_any_route_is_closed(feeds: dict[str, dict[str, Any]]) -> None:
    clock = escalation_clock(feeds["macleans"], PUBLISHED, None, False, at("2026-11-03"))
    assert clock.state == "closed" and clock.next is None and clock.current is None
    assert clock.message == "No letters desk or complaint route is known for this outlet."


# ---------------------------------------------------------------- hand-made edge cases


def test_not_sent_waiting_escalate_boundaries() -> None:
    o = outlet(DESK, COUNCIL)
    assert escalation_clock(o, PUBLISHED, None, False, at("2026-11-02")).state == "not_sent"
    last_wait = escalation_clock(o, PUBLISHED, SENT, False, at("2026-11-13"))  # 6 Nov + 7 days
    assert last_wait.state == "waiting"
    assert last_wait.message == (
        "Example Daily, letters to the editor: sent, an answer is due by 13 November 2026; if none, next "
        "step: Press Council, by 2 December 2026 (19 days left)."
    )
    escalate = escalation_clock(o, PUBLISHED, SENT, False, at("2026-11-14"))
    assert escalate.state == "escalate"
    assert escalate.next is not None and escalate.next.body == "Press Council"
    assert escalate.next.contact == "council@example.org" and escalate.next.reply_by is None


def test_answered_stops_the_clock() -> None:
    o = outlet(DESK, COUNCIL)
    clock = escalation_clock(o, PUBLISHED, SENT, True, at("2026-11-30"))
    assert clock.state == "answered" and clock.next is None
    assert not clock.remind and clock.days_left is None
    assert clock.current is not None and clock.current.index == 0
    assert clock.message == "Example Daily, letters to the editor: answer received, no escalation is needed."
    unsent = escalation_clock(o, PUBLISHED, None, True, at("2026-11-30"), language="fr")
    assert unsent.state == "answered" and unsent.current is None
    assert unsent.message == "Le média a répondu : pas besoin d'aller plus loin."


def test_passed_deadlines_skip_to_the_next_open_route_then_close() -> None:
    o = outlet(None, COUNCIL, LATE)
    skip = escalation_clock(o, PUBLISHED, None, False, at("2026-12-10"))
    assert skip.state == "not_sent"
    assert skip.next is not None and skip.next.body == "Late Board" and skip.next.deadline == date(2027, 1, 1)
    # a first complaint sent after the council's deadline went to the next route still open
    sent_late = escalation_clock(o, PUBLISHED, at("2026-12-05"), False, at("2026-12-06"))
    assert sent_late.state == "waiting" and sent_late.next is None
    assert sent_late.current is not None and sent_late.current.body == "Late Board"
    closed = escalation_clock(o, PUBLISHED, None, False, at("2027-01-02"))
    assert closed.state == "closed" and closed.next is None
    assert closed.message == "Every deadline for this article has passed; no route is left."
    assert escalation_clock(outlet(None, COUNCIL), PUBLISHED, SENT, False, at("2026-12-03")).state == "closed"


def test_route_without_deadline_or_publication_date_stays_available() -> None:
    o = outlet(None, {"body": "Public Editor"}, COUNCIL)
    clock = escalation_clock(o, PUBLISHED, None, False, at("2030-01-01"))
    assert clock.state == "not_sent" and clock.next is not None and clock.next.body == "Public Editor"
    undated = escalation_clock(outlet(None, COUNCIL), None, None, False, at("2030-01-01"))
    assert undated.state == "not_sent" and undated.next is not None and undated.next.deadline is None


@pytest.mark.parametrize(
    ("today", "days_left", "remind"),
    [("2026-11-28", 4, False), ("2026-11-29", 3, True), ("2026-12-02", 0, True)],
)
def test_reminder_window(today: str, days_left: int, remind: bool) -> None:
    clock = escalation_clock(outlet(DESK, COUNCIL), PUBLISHED, SENT, False, at(today))
    assert clock.days_left == days_left and clock.remind is remind
    assert clock.message.startswith("Reminder: ") is remind
    assert escalation_clock(outlet(DESK, COUNCIL), PUBLISHED, SENT, False, at(today), remind_days=5).remind


def test_last_day_and_deadline_before_the_reply_is_due() -> None:
    o = outlet(DESK, COUNCIL)
    last = escalation_clock(o, PUBLISHED, SENT, False, at("2026-12-02"))
    assert last.message.endswith("by 2 December 2026 (today is the last day).")
    late_letter = escalation_clock(o, PUBLISHED, at("2026-11-28"), False, at("2026-11-29"))
    assert late_letter.state == "waiting" and late_letter.remind
    assert "but the deadline for the next step, Press Council, comes first: 2 December 2026" in (
        late_letter.message
    )


@pytest.mark.parametrize("rules", ["Answers within 2 BUSINESS days.", "Réponse sous 2 jours ouvrables."])
def test_business_days_skip_the_weekend(rules: str) -> None:
    o = outlet(None, {"body": "Ombudsman", "reply_days": 2, "rules": rules}, {"body": "Regulator"})
    friday = datetime(2026, 11, 6, 9, tzinfo=UTC)
    monday = escalation_clock(o, None, friday, False, at("2026-11-09"))
    assert monday.state == "waiting"
    assert monday.current is not None and monday.current.reply_by == date(2026, 11, 10)  # Tuesday
    assert escalation_clock(o, None, friday, False, at("2026-11-10")).state == "waiting"
    assert escalation_clock(o, None, friday, False, at("2026-11-11")).state == "escalate"
    calendar = outlet(None, {"body": "Ombudsman", "reply_days": 2}, {"body": "Regulator"})
    sunday = escalation_clock(calendar, None, friday, False, at("2026-11-09"))
    assert sunday.current is not None and sunday.current.reply_by == date(2026, 11, 8)
    assert sunday.state == "escalate"


def test_add_business_days() -> None:
    friday = date(2026, 11, 6)
    assert add_business_days(friday, 0) == friday
    assert add_business_days(friday, 1) == date(2026, 11, 9)
    assert add_business_days(date(2026, 11, 7), 1) == date(2026, 11, 9)  # from a Saturday
    assert add_business_days(friday, 5) == date(2026, 11, 13)


def test_french_messages() -> None:
    o = outlet(DESK, COUNCIL)
    clock = escalation_clock(o, PUBLISHED, SENT, False, at("2026-11-30"), language="fr")
    assert clock.message == (
        "Rappel : Pas de réponse au 13 novembre 2026 ; étape suivante : Press Council, "
        "d'ici le 2 décembre 2026 (il reste 2 jours)."
    )
    waiting = escalation_clock(o, PUBLISHED, SENT, False, at("2026-11-10"), language="fr")
    assert waiting.message.startswith(
        "Example Daily, courrier des lecteurs : envoyé, réponse attendue d'ici le 13 novembre 2026 ; sinon"
    )
    desk = escalation_clock(o, PUBLISHED, None, False, at("2026-11-10"), language="fr")
    assert desk.next is not None and desk.next.body == "Example Daily, courrier des lecteurs"
    assert format_date(date(2026, 12, 1), "fr") == "1er décembre 2026"
    with pytest.raises(ValueError, match="language"):
        escalation_clock(o, PUBLISHED, None, False, at("2026-11-10"), language="de")


def test_dates_are_utc_days() -> None:
    toronto = timezone(timedelta(hours=-5))
    # 21:00 in Toronto on 1 November is 2 November in UTC
    late_evening = datetime(2026, 11, 1, 21, 0, tzinfo=toronto)
    clock = escalation_clock(outlet(None, COUNCIL), late_evening, None, False, at("2026-11-03"))
    assert clock.next is not None and clock.next.deadline == date(2026, 12, 2)
