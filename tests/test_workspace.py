"""The alert lifecycle in the store: every transition, its audit entry, and caps under load."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from pipeline.errors import InputError
from pipeline.settings import Settings
from pipeline.store import Store
from pipeline.store.users import UserView
from pipeline.store.workspace import NotFoundError, TransitionError


def _user(store: Store, email: str, role: str = "responder") -> UserView:
    user = store.user(store.create_user(email, role, "x", name=email.split("@")[0]))
    assert user is not None
    return user


def test_the_whole_lifecycle_is_audited_with_who_and_when(
    store: Store, make_alert: Callable[..., int]
) -> None:
    alert_id = make_alert()
    ana, res = _user(store, "ana@example.org", "analyst"), _user(store, "res@example.org")
    assert store.claim(alert_id, res).reason == "not open"  # new alerts are not open to responders
    store.approve(alert_id, ana.email, explanation="Say who killed them.")
    result = store.claim(alert_id, res)
    assert result.ok and result.reason == "claimed" and result.slots_left == 2
    assert store.claim(alert_id, res).reason == "already yours"  # idempotent, no second slot
    store.save_letter(alert_id, res, "On your Gaza story", "My own words about the article.", shared=False)
    store.mark_sent(alert_id, res)
    store.record_outcome(alert_id, "letter_published", res, note="Ran on Saturday")
    view = store.list_alerts()[0]
    assert (view.status, view.letters_sent, view.claims_taken, view.explanation) == (
        "closed",
        1,
        1,
        "Say who killed them.",
    )
    history = store.alert_history(alert_id)
    assert [h["action"] for h in history] == [
        "alert_raised",
        "alert_approved",
        "alert_claimed",
        "letter_sent",
        "outcome_recorded",
    ]
    assert [h["actor"] for h in history[1:]] == [ana.email, res.email, res.email, res.email]
    assert all(h["at"] is not None for h in history)


def test_transitions_that_do_not_apply_are_refused_with_the_state(
    store: Store, make_alert: Callable[..., int]
) -> None:
    a, b = make_alert(), make_alert()
    res = _user(store, "res@example.org")
    with pytest.raises(InputError, match="say why"):
        store.dismiss(a, "ana", "  ")
    store.dismiss(a, "ana", "Not about the topic")
    with pytest.raises(TransitionError, match=r"alert .* is dismissed"):
        store.approve(a, "ana")
    with pytest.raises(TransitionError, match="merge into a live alert"):
        store.merge(b, a, "ana")
    with pytest.raises(NotFoundError):
        store.approve(999_999, "ana")
    store.approve(b, "ana")
    with pytest.raises(TransitionError, match="claim it before writing"):
        store.save_letter(b, res, "s", "body")
    store.claim(b, res)
    with pytest.raises(TransitionError, match="save your letter"):
        store.mark_sent(b, res)
    with pytest.raises(TransitionError, match="once a letter has been sent"):
        store.record_outcome(b, "correction", res)
    with pytest.raises(InputError, match="kind"):
        store.record_outcome(b, "won", res)
    with pytest.raises(TransitionError, match="claim"):  # claimed alerts cannot be dismissed
        store.dismiss(b, "ana", "duplicate")


def test_release_gives_the_slot_back_and_reopens(store: Store, make_alert: Callable[..., int]) -> None:
    alert_id = make_alert(cap=1)
    store.approve(alert_id, "ana")
    r1, r2 = _user(store, "r1@example.org"), _user(store, "r2@example.org")
    assert store.claim(alert_id, r1).ok
    assert store.claim(alert_id, r2).reason == "cap reached"
    store.release(alert_id, r1)
    assert store.list_alerts()[0].status == "open"
    assert store.claim(alert_id, r2).ok
    assert store.claim(alert_id, r1).reason == "cap reached"
    with pytest.raises(TransitionError):
        store.release(alert_id, r1)


def test_merge_folds_a_duplicate_into_the_live_alert(store: Store, make_alert: Callable[..., int]) -> None:
    keep, dup = make_alert(), make_alert(title="Same story, wire copy")
    store.merge(dup, keep, "ana")
    views = {v.id: v for v in store.list_alerts()}
    assert views[dup].status == "merged" and views[dup].merged_into == keep
    assert store.alert_history(keep)[-1]["action"] == "alert_absorbed"


def test_responders_do_not_see_each_others_unshared_drafts(
    store: Store, make_alert: Callable[..., int]
) -> None:
    alert_id = make_alert()
    store.approve(alert_id, "ana")
    r1, r2 = _user(store, "r1@example.org"), _user(store, "r2@example.org")
    ana = _user(store, "ana@example.org", "analyst")
    for r in (r1, r2):
        store.claim(alert_id, r)
    store.save_letter(alert_id, r1, "s", "private words of r1")
    store.save_letter(alert_id, r2, "s", "shared words of r2", shared=True)

    def bodies(viewer: UserView) -> set[str]:
        detail = store.alert_detail(alert_id, viewer)
        assert detail is not None
        return {x.body for x in detail.letters if x.user_id is not None}

    assert bodies(r1) == {"private words of r1", "shared words of r2"}
    assert bodies(r2) == {"shared words of r2"}
    assert bodies(ana) == {"private words of r1", "shared words of r2"}
    readable = dict(store.other_letters(alert_id, r2.id).values())
    assert readable == {"private words of r1": False}


def test_fifty_concurrent_claims_never_break_the_cap(
    settings: Settings, store: Store, make_alert: Callable[..., int]
) -> None:
    alert_id = make_alert(cap=3)
    store.approve(alert_id, "ana")
    users = [_user(store, f"r{i}@example.org") for i in range(50)]
    stores = [Store.open(settings.db_url, upgrade=False) for _ in range(8)]  # separate connections
    try:
        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(lambda iu: stores[iu[0] % 8].claim(alert_id, iu[1]), enumerate(users)))
    finally:
        for s in stores:
            s.close()
    assert sum(r.ok for r in results) == 3
    assert {r.reason for r in results if not r.ok} == {"cap reached"}
    claims = store.claims(alert_id)
    assert len(claims) == 3 and store.list_alerts()[0].claims_taken == 3


def test_cap_edits_cannot_go_below_what_is_taken(store: Store, make_alert: Callable[..., int]) -> None:
    alert_id = make_alert(cap=3)
    store.approve(alert_id, "ana")
    for i in range(2):
        store.claim(alert_id, _user(store, f"r{i}@example.org"))
    with pytest.raises(InputError, match="below the 2 letters"):
        store.edit_alert(alert_id, "ana", letter_cap=1)
    store.edit_alert(alert_id, "ana", letter_cap=2, body="A new suggested draft.")
    detail = store.alert_detail(alert_id)
    assert detail is not None and detail.alert.letter_cap == 2
    assert detail.letters[0].body == "A new suggested draft."


def test_sessions_invitations_and_feed_tokens(store: Store) -> None:
    ana = _user(store, "ana@example.org", "analyst")
    token, csrf = store.create_session(ana.id, timedelta(hours=1))
    found = store.session_user(token)
    assert found is not None and found[0].id == ana.id and found[1] == csrf
    assert store.session_user(token + "x") is None
    store.update_user(ana.id, "admin", active=False)  # deactivation signs out everywhere
    assert store.session_user(token) is None

    invite = store.create_invitation("New@Example.org", "responder", None, timedelta(days=7))
    assert store.invitation(invite) is not None
    uid = store.accept_invitation(invite, "hash", name="New")
    assert store.user(uid) is not None and store.user(uid).email == "new@example.org"  # type: ignore[union-attr]
    with pytest.raises(InputError, match="already used"):
        store.accept_invitation(invite, "hash")
    with pytest.raises(InputError, match="already exists"):
        store.create_invitation("new@example.org", "responder", None, timedelta(days=7))
    with pytest.raises(InputError, match="role"):
        store.create_invitation("x@example.org", "boss", None, timedelta(days=7))

    feed = store.new_feed_token(uid)
    assert store.feed_user(feed) is not None
    store.new_feed_token(uid)
    assert store.feed_user(feed) is None  # the old token stops working


def test_notices_are_sent_once(store: Store) -> None:
    assert store.notify_once("digest:2026-11-21:1", "email")
    assert not store.notify_once("digest:2026-11-21:1", "email")
    store.forget_notice("digest:2026-11-21:1")
    assert store.notify_once("digest:2026-11-21:1", "email")


def test_priority_follows_recency_as_alerts_age(store: Store, make_alert: Callable[..., int]) -> None:
    from datetime import UTC, datetime

    from pipeline.alert import priority

    now = datetime.now(UTC)
    old = make_alert(severity=0.9, published=now - timedelta(days=6))
    fresh = make_alert(severity=0.8, published=now)
    store.reprioritise(priority, now)
    assert [a.id for a in store.list_alerts()] == [fresh, old]  # a week-old story yields to today's
    assert store.reprioritise(priority, now) == 0  # nothing changed, nothing written
    before = {a.id: a.priority for a in store.list_alerts()}
    assert store.reprioritise(priority, now + timedelta(days=2)) == 2
    after = {a.id: a.priority for a in store.list_alerts()}
    assert after[old] < before[old] and after[fresh] < before[fresh]
    store.dismiss(old, "ana", "not relevant")
    assert store.reprioritise(priority, now + timedelta(days=3)) == 1  # only live alerts move


def test_the_last_active_admin_cannot_be_demoted_or_deactivated(store: Store) -> None:
    from pipeline.store.users import LastAdminError

    boss = _user(store, "boss@example.org", "admin")
    with pytest.raises(LastAdminError, match=r"role: boss@example\.org is the last active admin"):
        store.update_user(boss.id, "boss", role="analyst")
    with pytest.raises(LastAdminError, match="active:"):
        store.update_user(boss.id, "boss", active=False)
    other = _user(store, "other@example.org", "admin")
    store.update_user(boss.id, "other", role="analyst")  # another admin exists: allowed
    with pytest.raises(LastAdminError):
        store.update_user(other.id, "other", role="responder")
