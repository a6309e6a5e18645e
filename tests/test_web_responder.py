"""The responder workspace over a real SQLite store: claim, write in one's own words, send, outcome.

Every flow runs through the HTML forms (no JavaScript: csrf_token in the form, 303 back) and the
JSON API (X-CSRF-Token header); refused actions are explained, never a 500.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from pipeline.settings import Settings
from pipeline.store import Store
from pipeline.store.schema import Article, Outlet
from pipeline.web import create_app
from pipeline.web.auth import SESSION_COOKIE, hash_password

REWRITE = (
    "I read your Gaza report this week and it left me puzzled. It tells readers that five people "
    "died yet never says that an air strike killed them. Readers deserve to know who acted. Please "
    "add a clarification naming the army responsible, as your standards on accuracy require."
)
MINE = (
    "Quiet sentences hide loud facts: a strike is an act with an author, and my grandmother in "
    "Winnipeg taught me that naming the author of an act is the first duty of any honest newspaper."
)


@pytest.fixture
def app(settings: Settings, store: Store) -> FastAPI:
    return create_app(settings, store)


@pytest.fixture
def people(app: FastAPI, sign_in: Any) -> Iterator[Callable[..., tuple[TestClient, str]]]:
    """Factory: a signed-in TestClient for a new user, with its CSRF token taken off the default
    headers (so forms must carry csrf_token, as a browser without JavaScript does)."""
    clients: list[TestClient] = []

    def person(
        role: str = "responder", email: str | None = None, language: str = "en"
    ) -> tuple[TestClient, str]:
        c = TestClient(app, base_url="https://testserver")
        clients.append(c)
        sign_in(c, role, email, language)
        token = c.headers.pop("X-CSRF-Token")
        return c, token

    yield person
    for c in clients:
        c.close()


def form(c: TestClient, token: str, url: str, **data: Any) -> Any:
    return c.post(url, data={**data, "csrf_token": token}, follow_redirects=False)


def api(c: TestClient, token: str, method: str, url: str, body: Any = None) -> Any:
    return c.request(method, url, json=body, headers={"X-CSRF-Token": token})


def opened(store: Store, make_alert: Callable[..., int], **kw: Any) -> int:
    alert_id = make_alert(**kw)
    store.approve(alert_id, "ana@example.org")
    return alert_id


def draft_of(store: Store, alert_id: int) -> Any:
    detail = store.alert_detail(alert_id)
    assert detail is not None
    return next(x for x in detail.letters if x.user_id is None)


# ---------------------------------------------------------------------- whole flows


def test_claim_write_check_send_and_outcome_through_plain_forms(
    store: Store, make_alert: Callable[..., int], people: Any
) -> None:
    alert_id = opened(store, make_alert)
    c, token = people(email="rosa@example.org")
    panel = c.get(f"/alerts/{alert_id}").text
    assert "0 of 3 letters taken" in panel and "Claim this alert" in panel

    claimed = form(c, token, f"/alerts/{alert_id}/claim")
    assert (claimed.status_code, claimed.headers["location"]) == (303, f"/alerts/{alert_id}/letter")
    panel = c.get(f"/alerts/{alert_id}").text
    assert "1 of 3 letters taken" in panel and "rosa" in panel and "Write your letter" in panel

    editor = c.get(f"/alerts/{alert_id}/letter").text
    draft = draft_of(store, alert_id)
    assert "Still too close" in editor  # the suggested draft is the starting text
    assert "Talking points" in editor and "Source:" in editor and 'href="https://' in editor
    assert "150</span> words" in editor
    assert "Exclusive: send this letter to The Maple Ledger only" in editor
    assert "your full name, your address, your phone number" in editor
    assert "never sends mail to the outlet" in editor
    assert "mailto:" not in editor  # only once the letter is saved

    saved = form(c, token, f"/alerts/{alert_id}/letter", subject="Who killed them?", body=REWRITE)
    assert (saved.status_code, saved.headers["location"]) == (303, f"/alerts/{alert_id}/letter?saved=1#send")
    editor = c.get(saved.headers["location"]).text
    assert "Your letter is saved." in editor
    assert "Still too close" not in editor and "Your wording is your own." in editor
    href = f"mailto:letters%40mapleledger.example?subject={quote('Who killed them?')}&amp;body="
    assert href in editor and quote(REWRITE[:60]) in editor
    assert 'data-copy="saved-letter"' in editor and 'data-copy="saved-subject"' in editor
    assert draft.body not in editor

    sent = form(c, token, f"/alerts/{alert_id}/sent")
    assert sent.status_code == 303
    view = store.list_alerts()[0]
    assert (view.status, view.letters_sent) == ("sent", 1)
    panel = c.get(f"/alerts/{alert_id}").text
    assert "1 sent" in panel and "If the outlet does not answer" in panel
    assert "letters to the editor: sent, an answer is due by" in panel
    assert "The Maple Ledger public editor" in panel

    mine = c.get("/my").text
    assert f'id="alert-{alert_id}"' in mine and "Letter published" in mine and "No response" in mine
    waited = form(c, token, f"/alerts/{alert_id}/outcome", kind="no_response", next="/my")
    assert (waited.status_code, waited.headers["location"]) == (303, "/my")
    assert store.list_alerts()[0].status == "sent"  # no response keeps the clock running
    published = form(c, token, f"/alerts/{alert_id}/outcome", kind="letter_published", note="Saturday")
    assert published.status_code == 303
    assert [o["kind"] for o in store.alert_outcomes(alert_id)] == ["no_response", "letter_published"]
    assert store.list_alerts()[0].status == "closed"
    assert "Letter published" in c.get(f"/alerts/{alert_id}/letter").text


def test_the_same_flow_through_the_json_api(
    store: Store, make_alert: Callable[..., int], people: Any
) -> None:
    alert_id = opened(store, make_alert)
    c, token = people()
    assert api(c, token, "PUT", f"/api/alerts/{alert_id}/letter", {"body": REWRITE}).status_code == 409
    claim = api(c, token, "POST", f"/api/alerts/{alert_id}/claim")
    assert (
        claim.status_code == 200 and claim.json()["reason"] == "claimed" and claim.json()["slots_left"] == 2
    )
    assert api(c, token, "POST", f"/api/alerts/{alert_id}/claim").json()["reason"] == "already yours"

    start = c.get(f"/api/alerts/{alert_id}/letter").json()
    assert start["letter"] is None and start["mailto"] is None
    assert start["rules"]["word_limit"] == 150 and start["rules"]["exclusive"] is True
    body = start["suggested"]["body"]
    unchanged = api(c, token, "PUT", f"/api/alerts/{alert_id}/letter", {"subject": "S", "body": body})
    assert unchanged.status_code == 200 and unchanged.json()["check"]["too_close"] is True
    saved = api(c, token, "PUT", f"/api/alerts/{alert_id}/letter", {"subject": "Who acted?", "body": REWRITE})
    out = saved.json()
    assert out["check"]["too_close"] is False and out["letter"]["body"] == REWRITE
    assert out["mailto"].startswith("mailto:letters%40mapleledger.example?subject=Who%20acted%3F&body=")

    assert api(c, token, "POST", f"/api/alerts/{alert_id}/outcome", {"kind": "correction"}).status_code == 403
    sent = api(c, token, "POST", f"/api/alerts/{alert_id}/sent")
    assert sent.json() == {"alert_id": alert_id, "status": "sent", "letters_sent": 1}
    again = api(c, token, "POST", f"/api/alerts/{alert_id}/sent")
    assert again.status_code == 409 and "no active claim" in again.json()["detail"]
    late = api(c, token, "PUT", f"/api/alerts/{alert_id}/letter", {"body": "x"})
    assert late.status_code == 409 and "already sent" in late.json()["detail"]

    clock = c.get(f"/api/alerts/{alert_id}/escalation").json()
    assert clock["state"] == "waiting" and clock["next"]["body"] == "The Maple Ledger public editor"
    assert clock["current"]["reply_by"] and "answer is due" in clock["message"]
    claims = c.get("/api/my/claims").json()
    assert [(x["alert"]["id"], x["claim"]["status"]) for x in claims] == [(alert_id, "sent")]
    assert claims[0]["escalation"]["state"] == "waiting"

    bad = api(c, token, "POST", f"/api/alerts/{alert_id}/outcome", {"kind": "won"})
    assert bad.status_code == 422 and isinstance(bad.json()["detail"], list)
    done = api(c, token, "POST", f"/api/alerts/{alert_id}/outcome", {"kind": "reply_received", "note": "ok"})
    assert done.status_code == 201 and done.json()["status"] == "closed"
    assert c.get(f"/api/alerts/{alert_id}/escalation").json()["state"] == "answered"

    other, other_token = people()
    outsider = api(other, other_token, "POST", f"/api/alerts/{alert_id}/outcome", {"kind": "correction"})
    assert outsider.status_code == 403 and "sent a letter" in outsider.json()["detail"]
    assert api(other, other_token, "POST", f"/api/alerts/{alert_id}/release").status_code == 409
    assert api(other, other_token, "POST", "/api/alerts/999999/claim").status_code == 404
    assert api(other, other_token, "POST", f"/api/alerts/{2**70}/claim").status_code == 422


def test_release_frees_the_slot(store: Store, make_alert: Callable[..., int], people: Any) -> None:
    alert_id = opened(store, make_alert, cap=1)
    c, token = people()
    form(c, token, f"/alerts/{alert_id}/claim")
    released = form(c, token, f"/alerts/{alert_id}/release", next="/my")
    assert (released.status_code, released.headers["location"]) == (303, "/my")
    assert store.list_alerts()[0].claims_taken == 0
    refused = form(c, token, f"/alerts/{alert_id}/release")
    assert refused.status_code == 409 and "no active claim" in refused.text and "<html" in refused.text
    api_claim = api(c, token, "POST", f"/api/alerts/{alert_id}/claim")
    assert api_claim.json()["slots_left"] == 0
    assert api(c, token, "POST", f"/api/alerts/{alert_id}/release").json()["slots_left"] == 1


# ---------------------------------------------------------------------- the cap


def test_a_full_cap_is_a_friendly_message_in_every_form(
    store: Store, make_alert: Callable[..., int], people: Any
) -> None:
    alert_id = opened(store, make_alert, cap=1)
    first, first_token = people(email="first@example.org")
    assert form(first, first_token, f"/alerts/{alert_id}/claim").status_code == 303
    late, token = people(email="late@example.org")

    page = late.get(f"/alerts/{alert_id}").text
    assert "1 of 1 letters taken" in page and "Cap reached" in page and "Claim this alert" not in page
    plain = form(late, token, f"/alerts/{alert_id}/claim")
    assert plain.status_code == 409 and "<html" in plain.text
    assert "All 1 letter slots for this alert are taken" in plain.text
    swapped = late.post(
        f"/alerts/{alert_id}/claim", data={"csrf_token": token}, headers={"HX-Request": "true"}
    )
    assert swapped.status_code == 200 and 'id="responder-panel"' in swapped.text
    assert "<html" not in swapped.text and "letter slots for this alert are taken" in swapped.text
    by_api = api(late, token, "POST", f"/api/alerts/{alert_id}/claim")
    assert by_api.status_code == 409 and by_api.json()["detail"].startswith("cap reached")
    assert "Claim this alert to write a letter" in late.get(f"/alerts/{alert_id}/letter").text


def test_concurrent_claims_hold_the_cap_without_errors(
    store: Store, make_alert: Callable[..., int], people: Any
) -> None:
    alert_id = opened(store, make_alert, cap=3)
    clients = [people() for _ in range(12)]

    def claim(who: tuple[TestClient, str]) -> int:
        return int(api(who[0], who[1], "POST", f"/api/alerts/{alert_id}/claim").status_code)

    with ThreadPoolExecutor(max_workers=12) as pool:
        codes = list(pool.map(claim, clients))
    assert sorted(codes) == [200] * 3 + [409] * 9
    view = store.list_alerts()[0]
    assert (view.claims_taken, view.letter_cap) == (3, 3)


# ---------------------------------------------------------------------- privacy of drafts


def test_unshared_drafts_stay_private_until_shared(
    store: Store, make_alert: Callable[..., int], people: Any
) -> None:
    alert_id = opened(store, make_alert)
    a, a_token = people(email="ada@example.org")
    b, b_token = people(email="bea@example.org")
    for c, t in ((a, a_token), (b, b_token)):
        form(c, t, f"/alerts/{alert_id}/claim")
    form(a, a_token, f"/alerts/{alert_id}/letter", subject="Mine", body=MINE)

    assert MINE not in b.get(f"/alerts/{alert_id}/letter").text
    assert MINE not in b.get(f"/alerts/{alert_id}").text
    assert b.get(f"/api/alerts/{alert_id}/letter").json()["others"] == []
    assert MINE not in b.get(f"/api/alerts/{alert_id}").text
    assert MINE in a.get(f"/alerts/{alert_id}/letter").text  # one's own draft, of course

    form(a, a_token, f"/alerts/{alert_id}/letter", subject="Mine", body=MINE, shared="true")
    page = b.get(f"/alerts/{alert_id}/letter").text
    assert "Letters other responders shared" in page and MINE in page and "ada" in page
    others = b.get(f"/api/alerts/{alert_id}/letter").json()["others"]
    assert [(x["author"], x["body"], x["shared"]) for x in others] == [("ada", MINE, True)]


def test_another_responders_unshared_letter_gives_a_score_but_no_passage(
    store: Store, make_alert: Callable[..., int], people: Any
) -> None:
    alert_id = opened(store, make_alert)
    a, a_token = people(email="ada@example.org")
    b, b_token = people(email="bea@example.org")
    for c, t in ((a, a_token), (b, b_token)):
        form(c, t, f"/alerts/{alert_id}/claim")
    form(a, a_token, f"/alerts/{alert_id}/letter", subject="Mine", body=MINE)
    copied = "Dear editor. " + MINE

    html = b.post(
        f"/alerts/{alert_id}/letter/check",
        data={"body": copied, "csrf_token": b_token},
        headers={"HX-Request": "true"},
    ).text
    assert "<html" not in html and "Still too close" in html
    assert "another responder’s letter (not shared)" in html and "ada" not in html
    assert "grandmother" not in html and "Quiet sentences" not in html
    found = api(b, b_token, "POST", f"/api/alerts/{alert_id}/letter/check", {"body": copied}).json()
    [theirs] = [x for x in found["closeness"] if x["other"] != "draft"]
    assert theirs["score"] >= 0.9 and theirs["too_close"] is True
    assert (theirs["readable"], theirs["passages"], theirs["author"]) == (False, [], None)

    form(a, a_token, f"/alerts/{alert_id}/letter", subject="Mine", body=MINE, shared="true")
    found = api(b, b_token, "POST", f"/api/alerts/{alert_id}/letter/check", {"body": copied}).json()
    [theirs] = [x for x in found["closeness"] if x["other"] != "draft"]
    assert theirs["readable"] is True and theirs["author"] == "ada"
    assert any("grandmother" in p for p in theirs["passages"])


# ---------------------------------------------------------------------- the live check


def test_closeness_warning_appears_for_the_draft_and_goes_after_a_rewrite(
    store: Store, make_alert: Callable[..., int], people: Any
) -> None:
    alert_id = opened(store, make_alert)
    c, token = people()
    form(c, token, f"/alerts/{alert_id}/claim")
    draft = draft_of(store, alert_id)

    def check(body: str) -> str:
        r = c.post(
            f"/alerts/{alert_id}/letter/check",
            data={"body": body, "csrf_token": token},
            headers={"HX-Request": "true"},
        )
        assert r.status_code == 200
        return str(r.text)

    unchanged = check(draft.body)
    assert "Still too close" in unchanged and "the suggested draft" in unchanged and "100%" in unchanged
    assert "<q>" in unchanged  # the draft is readable: its passages are shown
    rewritten = check(REWRITE)
    assert "Still too close" not in rewritten and "Your wording is your own." in rewritten
    # the evidence quote can be cited by everyone: it does not count as copying
    quoted = check(f'You wrote "Five Palestinians died in Gaza" and {REWRITE}')
    assert "Still too close" not in quoted


def test_word_count_over_the_outlets_limit_is_flagged(
    store: Store, make_alert: Callable[..., int], people: Any
) -> None:
    alert_id = opened(store, make_alert)
    c, token = people()
    long = " ".join(f"word{i}" for i in range(160))
    html = c.post(f"/alerts/{alert_id}/letter/check", data={"body": long, "csrf_token": token}).text
    assert 'class="lc-words lc-over"' in html and ">160</span> / <span" in html
    assert "10 words over the limit" in html
    found = api(c, token, "POST", f"/api/alerts/{alert_id}/letter/check", {"body": long}).json()
    assert (found["words"], found["limit"], found["over"]) == (160, 150, True)
    short = api(c, token, "POST", f"/api/alerts/{alert_id}/letter/check", {"body": REWRITE}).json()
    assert short["over"] is False and short["words"] < 150


# ---------------------------------------------------------------------- escalation clock


def test_the_panel_reminds_before_the_next_routes_deadline(
    store: Store, make_alert: Callable[..., int], people: Any
) -> None:
    alert_id = opened(store, make_alert)
    with store.sessions.begin() as s:  # an outlet whose first complaint route has a deadline
        outlet = s.get_one(Outlet, "maple-ledger")
        config = dict(outlet.config)
        config["complaint_routes"] = [
            {
                "body": "National NewsMedia Council",
                "contact": "https://council.example/complain",
                "deadline_days": 30,
                "rules": "Contact the outlet first.",
            }
        ]
        outlet.config = config
        article_id = store.list_alerts()[0].article_id
        s.get_one(Article, article_id).published_at = datetime.now(UTC) - timedelta(days=28)
    c, token = people()
    form(c, token, f"/alerts/{alert_id}/claim")
    form(c, token, f"/alerts/{alert_id}/letter", subject="s", body=REWRITE)
    form(c, token, f"/alerts/{alert_id}/sent")
    panel = c.get(f"/alerts/{alert_id}").text
    assert "rp-remind" in panel and "Reminder:" in panel and "2 days left" in panel
    assert "National NewsMedia Council" in panel
    assert 'href="https://council.example/complain"' in panel
    clock = c.get(f"/api/alerts/{alert_id}/escalation").json()
    assert clock["remind"] is True and clock["days_left"] == 2
    assert clock["next"]["deadline"] == (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    assert "rp-remind" in c.get("/my").text


# ---------------------------------------------------------------------- language, access, safety


def test_french_ui_for_a_french_speaking_responder(
    store: Store, make_alert: Callable[..., int], people: Any
) -> None:
    alert_id = opened(store, make_alert)
    c, token = people(language="fr")
    assert "Prendre cette alerte" in c.get(f"/alerts/{alert_id}").text
    assert "0 lettres prises sur 3" in c.get(f"/alerts/{alert_id}").text
    form(c, token, f"/alerts/{alert_id}/claim")
    editor = c.get(f"/alerts/{alert_id}/letter").text
    assert "Votre lettre" in editor and "Enregistrer ma lettre" in editor and "Arguments" in editor
    assert "Encore trop proche" in editor and "mots" in editor
    assert "Partager mon brouillon avec les autres répondants" in editor
    assert "Exclusivité" in editor and "votre numéro de téléphone" in editor
    assert "anglais" in editor  # the letter stays in the outlet's language
    assert 'lang="en"' in editor and "To the editor," in editor  # and so does the draft
    assert "Mes alertes" in c.get("/my").text
    assert "Réponse reçue" not in c.get("/my").text  # nothing sent yet: no outcome buttons
    form(c, token, f"/alerts/{alert_id}/letter", subject="s", body=REWRITE)
    form(c, token, f"/alerts/{alert_id}/sent")
    assert "Réponse reçue" in c.get("/my").text
    assert "réponse attendue d'ici le" in c.get(f"/api/alerts/{alert_id}/escalation").json()["message"]
    full = form(c, token, f"/alerts/{alert_id}/sent")
    assert full.status_code == 409 and "Cela n’a pas fonctionné" in full.text


def test_csrf_token_is_required_on_every_post(
    store: Store, make_alert: Callable[..., int], people: Any
) -> None:
    alert_id = opened(store, make_alert)
    c, token = people()
    assert c.post(f"/alerts/{alert_id}/claim", follow_redirects=False).status_code == 403
    wrong = c.post(f"/alerts/{alert_id}/claim", data={"csrf_token": "forged"}, follow_redirects=False)
    assert wrong.status_code == 403
    assert c.post(f"/api/alerts/{alert_id}/claim").status_code == 403
    assert c.put(f"/api/alerts/{alert_id}/letter", json={"body": "x"}).status_code == 403
    assert store.list_alerts()[0].claims_taken == 0
    assert form(c, token, f"/alerts/{alert_id}/claim").status_code == 303


def test_anonymous_visitors_are_sent_to_sign_in(
    app: FastAPI, store: Store, make_alert: Callable[..., int]
) -> None:
    alert_id = opened(store, make_alert)
    with TestClient(app, base_url="https://testserver") as c:
        for url in ("/my", f"/alerts/{alert_id}/letter"):
            r = c.get(url, follow_redirects=False)
            assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
        for url in ("/api/my/claims", f"/api/alerts/{alert_id}/letter", f"/api/alerts/{alert_id}/escalation"):
            assert c.get(url).status_code == 401


def test_responders_cannot_reach_alerts_not_opened_to_them(
    store: Store, make_alert: Callable[..., int], people: Any
) -> None:
    alert_id = make_alert()  # still new: only analysts see it
    c, token = people()
    assert c.get(f"/alerts/{alert_id}/letter").status_code == 404
    assert api(c, token, "POST", f"/api/alerts/{alert_id}/claim").status_code == 404
    assert form(c, token, f"/alerts/{alert_id}/claim").status_code == 404
    assert store.list_alerts()[0].claims_taken == 0
    analyst, _ = people("analyst")
    assert "not open to responders yet" in analyst.get(f"/alerts/{alert_id}").text


def test_hostile_article_and_names_are_escaped(
    app: FastAPI, store: Store, make_alert: Callable[..., int], people: Any
) -> None:
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    alert_id = opened(
        store,
        make_alert,
        title=f"Headline {evil}",
        text=f"{evil} Five Palestinians died in Gaza on Tuesday. The figures could not be verified.",
    )
    uid = store.create_user("eve@example.org", "responder", hash_password("correct horse battery"), name=evil)
    token, csrf = store.create_session(uid, timedelta(hours=1))
    eve = TestClient(app, base_url="https://testserver")
    eve.cookies.set(SESSION_COOKIE, token)
    form(eve, csrf, f"/alerts/{alert_id}/claim")
    form(eve, csrf, f"/alerts/{alert_id}/letter", subject=evil, body=f"</textarea>{evil} {REWRITE}")
    c, _ = people()
    pages = [
        eve.get(f"/alerts/{alert_id}/letter").text,
        eve.get(f"/alerts/{alert_id}").text,
        eve.get("/my").text,
        c.get(f"/alerts/{alert_id}").text,
        eve.post(
            f"/alerts/{alert_id}/letter/check",
            data={"body": evil * 3, "csrf_token": csrf},
            headers={"HX-Request": "true"},
        ).text,
    ]
    for page in pages:
        assert "<script>alert" not in page and "<img src=x" not in page
        assert "</textarea><" not in page
    assert "&lt;script&gt;" in pages[0] and "&lt;script&gt;" in pages[3]  # the name in the panel
    eve.close()


def test_the_api_is_described_in_openapi(people: Any) -> None:
    c, _token = people()
    paths = c.get("/api/openapi.json").json()["paths"]
    for path, method in [
        ("/api/alerts/{alert_id}/claim", "post"),
        ("/api/alerts/{alert_id}/release", "post"),
        ("/api/alerts/{alert_id}/letter", "get"),
        ("/api/alerts/{alert_id}/letter", "put"),
        ("/api/alerts/{alert_id}/letter/check", "post"),
        ("/api/alerts/{alert_id}/sent", "post"),
        ("/api/alerts/{alert_id}/outcome", "post"),
        ("/api/my/claims", "get"),
        ("/api/alerts/{alert_id}/escalation", "get"),
    ]:
        assert paths[path][method]["description"], (path, method)
    assert not any(p.startswith(("/my", "/alerts/{alert_id}/letter")) for p in paths)
