"""Analyst triage and user management over HTTP: every transition by form and by API with its
audit entry, roles on every route, invitations end to end, the last-admin guard, CSRF, XSS."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pipeline.settings import Settings
from pipeline.store import Store
from pipeline.store.base import utcnow
from pipeline.store.schema import Outcome
from pipeline.web import create_app
from pipeline.web.auth import PRE_CSRF_COOKIE
from pipeline.web.triage import PAGE_SIZE

Clients = Callable[..., TestClient]


@pytest.fixture
def clients(settings: Settings, store: Store) -> Iterator[Clients]:
    """Factory: a new TestClient (its own cookies) on one app; signed in when given a role."""
    app = create_app(settings, store)
    opened: list[TestClient] = []

    def make(role: str | None = None, sign_in: Any = None, email: str | None = None) -> TestClient:
        c = TestClient(app, base_url="https://testserver")
        c.__enter__()
        opened.append(c)
        if role is not None:
            sign_in(c, role, email=email)
        return c

    yield make
    for c in opened:
        c.__exit__(None, None, None)


@pytest.fixture
def analyst(clients: Clients, sign_in: Any) -> TestClient:
    return clients("analyst", sign_in, "ana@example.org")


def last(store: Store, alert_id: int) -> dict[str, Any]:
    return store.alert_history(alert_id)[-1]


def status_of(store: Store, alert_id: int) -> str:
    detail = store.alert_detail(alert_id)
    assert detail is not None
    return detail.alert.status


def post_form(c: TestClient, path: str, data: dict[str, Any] | None = None) -> Any:
    return c.post(path, data=data or {}, follow_redirects=False)


def candidate_outcome(store: Store, alert_id: int) -> int:
    """An unconfirmed outcome, as revisiting an amended article records it."""
    with store.sessions.begin() as s:
        o = Outcome(alert_id=alert_id, kind="correction", note="text changed", confirmed=False)
        o.created_at = utcnow()
        s.add(o)
        s.flush()
        return o.id


# ---------------------------------------------------------------- transitions by form
def test_every_form_transition_redirects_back_and_is_audited_with_the_analyst(
    analyst: TestClient, store: Store, make_alert: Callable[..., int]
) -> None:
    a, b, c, d = make_alert(), make_alert(), make_alert(), make_alert()
    email = "ana@example.org"

    r = post_form(analyst, f"/alerts/{a}/approve", {"explanation": "Name who fired.", "letter_cap": "4"})
    assert r.status_code == 303 and r.headers["location"] == f"/alerts/{a}#triage"
    view = store.list_alerts(status="open")[0]
    assert (view.id, view.explanation, view.letter_cap, view.triaged_by) == (a, "Name who fired.", 4, email)
    assert (last(store, a)["actor"], last(store, a)["action"]) == (email, "alert_approved")

    r = post_form(
        analyst,
        f"/alerts/{a}/edit",
        {"explanation": "Say who.\r\nThen ask.", "subject": "New subject", "body": "Line one\r\nLine two"},
    )
    assert r.status_code == 303
    detail = store.alert_detail(a)
    assert detail is not None
    draft = next(x for x in detail.letters if x.user_id is None)
    assert (detail.alert.explanation, draft.subject, draft.body) == (
        "Say who.\nThen ask.",
        "New subject",
        "Line one\nLine two",
    )
    entry = last(store, a)
    assert (entry["actor"], entry["action"]) == (email, "alert_edited")
    assert entry["detail"]["draft"] is True and "letter_cap" not in entry["detail"]  # only what changed

    n = len(store.alert_history(a))  # a form sends every field: nothing changed, nothing recorded
    assert post_form(analyst, f"/alerts/{a}/edit", {"explanation": "Say who.\nThen ask.", "letter_cap": "4"})
    assert len(store.alert_history(a)) == n

    r = post_form(analyst, f"/alerts/{a}/close", {"note": "enough letters"})
    assert r.status_code == 303 and status_of(store, a) == "closed"
    assert (last(store, a)["actor"], last(store, a)["action"]) == (email, "alert_closed")

    r = post_form(analyst, f"/alerts/{b}/merge", {"into": str(c), "next": f"/alerts/{c}"})
    assert r.status_code == 303 and r.headers["location"] == f"/alerts/{c}"
    assert status_of(store, b) == "merged"
    assert (last(store, b)["actor"], last(store, b)["action"]) == (email, "alert_merged")
    assert (last(store, c)["actor"], last(store, c)["action"]) == (email, "alert_absorbed")

    r = post_form(analyst, f"/alerts/{c}/dismiss", {"reason": "Not about the conflict"})
    assert r.status_code == 303 and status_of(store, c) == "dismissed"
    assert last(store, c)["detail"] == {"reason": "Not about the conflict"}
    assert last(store, c)["actor"] == email

    r = post_form(
        analyst, f"/alerts/{d}/verdict", {"verdict": "wrong_category", "categories": ["missing_context"]}
    )
    assert r.status_code == 303
    assert (last(store, d)["actor"], last(store, d)["action"]) == (email, "verdict")
    assert last(store, d)["detail"]["categories"] == ["missing_context"]

    outcome = candidate_outcome(store, d)
    r = post_form(analyst, f"/outcomes/{outcome}/confirm", {"next": f"/alerts/{d}#outcomes"})
    assert r.status_code == 303 and r.headers["location"] == f"/alerts/{d}#outcomes"
    assert store.alert_outcomes(d)[0]["confirmed"] is True
    assert (last(store, d)["actor"], last(store, d)["action"]) == (email, "outcome_confirmed")


def test_forms_refuse_bad_input_with_a_page_naming_the_problem(
    analyst: TestClient, store: Store, make_alert: Callable[..., int]
) -> None:
    a = make_alert()
    r = post_form(analyst, f"/alerts/{a}/dismiss", {"reason": "   "})
    assert r.status_code == 422 and "reason: say why" in r.text and status_of(store, a) == "new"
    r = post_form(analyst, f"/alerts/{a}/approve", {"letter_cap": "lots"})
    assert r.status_code == 422 and "letter_cap" in r.text
    r = post_form(analyst, f"/alerts/{a}/approve", {"letter_cap": "99"})
    assert r.status_code == 422 and "letter_cap" in r.text
    assert post_form(analyst, f"/alerts/{a}/merge", {"into": str(a)}).status_code == 422
    assert post_form(analyst, f"/alerts/{a}/merge", {}).status_code == 422
    assert post_form(analyst, f"/alerts/{a}/merge", {"into": "999999"}).status_code == 404
    r = post_form(analyst, f"/alerts/{a}/close")
    assert r.status_code == 409 and "only a live alert" in r.text
    assert post_form(analyst, "/alerts/999999/approve").status_code == 404
    assert post_form(analyst, "/alerts/999999/edit", {"explanation": "x"}).status_code == 404
    assert post_form(analyst, "/outcomes/999999/confirm").status_code == 404
    assert post_form(analyst, f"/alerts/{a}/verdict", {"verdict": "maybe"}).status_code == 422
    r = post_form(analyst, f"/alerts/{a}/verdict", {"verdict": "wrong_category"})
    assert r.status_code == 422 and "category" in r.text
    r = post_form(analyst, f"/alerts/{a}/approve", {"next": "https://evil.example/"})
    assert r.status_code == 303 and r.headers["location"] == "/alerts"  # never sent off-site
    assert post_form(analyst, f"/alerts/{a}/approve").status_code == 409  # already open


# ---------------------------------------------------------------- transitions by API
def test_every_api_transition_is_audited_with_the_analyst(
    analyst: TestClient, store: Store, make_alert: Callable[..., int]
) -> None:
    a, b, c, d = make_alert(), make_alert(), make_alert(), make_alert()
    email = "ana@example.org"

    r = analyst.post(f"/api/alerts/{a}/approve", json={"explanation": "Why it matters", "letter_cap": 5})
    assert r.status_code == 200
    assert (r.json()["status"], r.json()["letters"]["cap"], r.json()["triaged_by"]) == ("open", 5, email)

    r = analyst.post(f"/api/alerts/{a}/edit", json={"body": "A better draft.", "letter_cap": 2})
    assert r.status_code == 200 and r.json()["letters"]["cap"] == 2
    assert last(store, a)["detail"] == {"letter_cap": 2, "draft": True}

    r = analyst.post(f"/api/alerts/{a}/close", json={"note": "done"})
    assert r.status_code == 200 and r.json()["status"] == "closed"

    r = analyst.post(f"/api/alerts/{b}/merge", json={"into": c})
    assert r.status_code == 200 and (r.json()["status"], r.json()["merged_into"]) == ("merged", c)

    r = analyst.post(f"/api/alerts/{c}/dismiss", json={"reason": "duplicate of an older story"})
    assert r.status_code == 200 and r.json()["dismiss_reason"] == "duplicate of an older story"

    outcome = candidate_outcome(store, d)
    r = analyst.post(f"/api/outcomes/{outcome}/confirm")
    assert r.status_code == 200 and r.json() == {"id": outcome, "confirmed": True}

    r = analyst.post(f"/api/alerts/{d}/verdict", json={"verdict": "valid"})
    assert r.status_code == 201

    history = analyst.get(f"/api/alerts/{a}/history").json()
    assert [h["action"] for h in history] == [
        "alert_raised",
        "alert_approved",
        "alert_edited",
        "alert_closed",
    ]
    assert all(h["actor"] == email for h in history[1:]) and all(h["at"] for h in history)
    for alert_id, action in ((b, "alert_merged"), (c, "alert_dismissed"), (d, "verdict")):
        assert analyst.get(f"/api/alerts/{alert_id}/history").json()[-1]["actor"] == email
        assert any(h["action"] == action for h in store.alert_history(alert_id))
    assert any(h["action"] == "outcome_confirmed" and h["actor"] == email for h in store.alert_history(d))

    paths = analyst.get("/api/openapi.json").json()["paths"]
    for action in ("approve", "edit", "merge", "dismiss", "close"):
        assert paths[f"/api/alerts/{{alert_id}}/{action}"]["post"]["description"]
    assert {"/api/outcomes/{outcome_id}/confirm", "/api/alerts/{alert_id}/history"} <= set(paths)
    assert {"/api/users", "/api/users/{user_id}", "/api/invitations"} <= set(paths)


def test_api_answers_4xx_naming_the_field_never_500(
    analyst: TestClient, store: Store, make_alert: Callable[..., int]
) -> None:
    a, b = make_alert(), make_alert()

    def detail(r: Any) -> str:
        return str(r.json()["detail"])

    cases: list[tuple[str, Any, int, str]] = [
        (f"/api/alerts/{a}/approve", {"letter_cap": 0}, 422, "letter_cap"),
        (f"/api/alerts/{a}/approve", {"letter_cap": "many"}, 422, "letter_cap"),
        (f"/api/alerts/{a}/approve", {"surprise": 1}, 422, "surprise"),
        (f"/api/alerts/{a}/edit", {}, 422, "explanation, subject, body or letter_cap"),
        (f"/api/alerts/{a}/edit", {"subject": ""}, 422, "subject"),
        (f"/api/alerts/{a}/merge", {"into": a}, 422, "into"),
        (f"/api/alerts/{a}/merge", {"into": 999999}, 404, "999999"),
        (f"/api/alerts/{a}/merge", {}, 422, "into"),
        (f"/api/alerts/{a}/dismiss", {"reason": "  "}, 422, "reason"),
        (f"/api/alerts/{a}/dismiss", {}, 422, "reason"),
        (f"/api/alerts/{a}/close", {}, 409, "only a live alert"),
        ("/api/alerts/999999/approve", {}, 404, "999999"),
        ("/api/alerts/999999/edit", {"explanation": "x"}, 404, "999999"),
        ("/api/outcomes/999999/confirm", None, 404, "999999"),
    ]
    for path, body, status, words in cases:
        r = analyst.post(path, json=body)
        assert (path, r.status_code) == (path, status), r.text
        assert words in detail(r), (path, r.text)
    r = analyst.post(
        f"/api/alerts/{a}/approve", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 422
    assert analyst.get("/api/alerts/999999/history").status_code == 404

    analyst.post(f"/api/alerts/{b}/approve", json={})
    r = analyst.post(f"/api/alerts/{b}/approve", json={})
    assert r.status_code == 409 and "only a new alert" in detail(r)
    store.claim(b, store.user(store.create_user("r@example.org", "responder", None)))  # type: ignore[arg-type]
    r = analyst.post(f"/api/alerts/{b}/edit", json={"letter_cap": 1})
    assert r.status_code == 200
    r = analyst.post(f"/api/alerts/{b}/dismiss", json={"reason": "late"})
    assert r.status_code == 409 and "claim" in detail(r)


# ---------------------------------------------------------------- the triage queue
def test_triage_queue_lists_new_alerts_by_priority_with_filters(
    analyst: TestClient, store: Store, make_alert: Callable[..., int]
) -> None:
    low, high = make_alert(severity=0.3), make_alert(severity=0.95)
    fr = make_alert(
        title="Cinq morts à Gaza", text="Cinq Palestiniens sont morts à Gaza mardi.", language="fr"
    )
    opened = make_alert()
    store.approve(opened, "someone@example.org")
    page = analyst.get("/triage")
    assert page.status_code == 200 and 'name="viewport"' in page.text and "/static/triage.css" in page.text
    ids = [int(x) for x in re.findall(r'id="triage-(\d+)"', page.text)]
    assert ids == [a.id for a in store.list_alerts(status="new")] and opened not in ids
    assert ids.index(high) < ids.index(low)
    only_fr = analyst.get("/triage", params={"language": "fr"}).text
    assert f'id="triage-{fr}"' in only_fr and f'id="triage-{high}"' not in only_fr
    partial = analyst.get("/triage", params={"kind": "complaint"}, headers={"HX-Request": "true"})
    assert "<html" not in partial.text and f'id="triage-{high}"' in partial.text
    assert analyst.get("/triage", params={"offset": "-1"}).status_code == 422


def test_triage_rows_approve_and_dismiss_by_htmx_and_without_javascript(
    analyst: TestClient, store: Store, make_alert: Callable[..., int]
) -> None:
    a, b, c = make_alert(), make_alert(), make_alert()
    hx = {"HX-Request": "true"}
    row = analyst.post(f"/alerts/{a}/approve", data={"next": "/triage"}, headers=hx)
    assert row.status_code == 200 and "<html" not in row.text
    assert f'id="triage-{a}"' in row.text and "Approved" in row.text and status_of(store, a) == "open"
    again = analyst.post(f"/alerts/{a}/approve", data={}, headers=hx)  # refused: said in the row
    assert again.status_code == 200 and "only a new alert can be approved" in again.text
    row = analyst.post(f"/alerts/{b}/dismiss", data={"reason": ""}, headers=hx)
    assert "say why" in row.text and status_of(store, b) == "new"
    row = analyst.post(f"/alerts/{b}/dismiss", data={"reason": "off topic"}, headers=hx)
    assert "Dismissed" in row.text and status_of(store, b) == "dismissed"
    plain = post_form(analyst, f"/alerts/{c}/dismiss", {"reason": "old", "next": "/triage?language=en"})
    assert plain.status_code == 303 and plain.headers["location"] == "/triage?language=en"
    assert last(store, c)["actor"] == "ana@example.org"


def test_triage_queue_pages_by_fifty(analyst: TestClient, make_alert: Callable[..., int]) -> None:
    made = {make_alert() for _ in range(PAGE_SIZE + 1)}
    first = analyst.get("/triage").text
    on_first = set(map(int, re.findall(r'id="triage-(\d+)"', first)))
    assert len(on_first) == PAGE_SIZE and 'href="/triage?offset=50"' in first and 'rel="prev"' not in first
    second = analyst.get("/triage", params={"offset": PAGE_SIZE}).text
    on_second = set(map(int, re.findall(r'id="triage-(\d+)"', second)))
    assert on_first | on_second == made and len(on_second) == 1
    assert 'rel="prev"' in second and 'rel="next"' not in second


# ---------------------------------------------------------------- the panel on the alert page
def test_alert_page_panel_offers_only_what_the_status_allows(
    analyst: TestClient, store: Store, make_alert: Callable[..., int], clients: Clients, sign_in: Any
) -> None:
    a = make_alert()
    page = analyst.get(f"/alerts/{a}").text
    for action in ("approve", "edit", "merge", "dismiss", "verdict"):
        assert f'action="/alerts/{a}/{action}"' in page
    assert f'action="/alerts/{a}/close"' not in page and 'id="triage"' in page

    store.approve(a, "ana@example.org")
    page = analyst.get(f"/alerts/{a}").text
    assert f'action="/alerts/{a}/approve"' not in page
    assert all(f'action="/alerts/{a}/{x}"' in page for x in ("edit", "close", "dismiss", "merge"))
    assert "ana@example.org" in page and "alert approved" in page  # the history: who and what

    res = store.user(store.create_user("res@example.org", "responder", None))
    assert res is not None
    store.claim(a, res)
    page = analyst.get(f"/alerts/{a}").text  # claimed: it can no longer be dismissed or merged
    assert f'action="/alerts/{a}/dismiss"' not in page and f'action="/alerts/{a}/merge"' not in page
    assert f'action="/alerts/{a}/close"' in page

    outcome = candidate_outcome(store, a)
    page = analyst.get(f"/alerts/{a}").text
    assert f'action="/outcomes/{outcome}/confirm"' in page

    store.close_alert(a, "ana@example.org")
    page = analyst.get(f"/alerts/{a}").text
    assert not any(f'action="/alerts/{a}/{x}"' in page for x in ("approve", "edit", "close", "dismiss"))

    b = make_alert()
    store.dismiss(b, "ana@example.org", "wrong outlet")
    page = analyst.get(f"/alerts/{b}").text
    assert "wrong outlet" in page and f'action="/alerts/{b}/edit"' not in page

    responder = clients("responder", sign_in)
    c = make_alert()
    store.approve(c, "ana@example.org")
    seen = responder.get(f"/alerts/{c}").text
    assert 'id="triage"' not in seen and f"/alerts/{c}/approve" not in seen


def test_hostile_explanation_and_draft_are_escaped(
    analyst: TestClient, make_alert: Callable[..., int]
) -> None:
    a = make_alert()
    hostile = '<script>alert("x")</script>'
    r = analyst.post(
        f"/api/alerts/{a}/edit",
        json={
            "explanation": hostile,
            "subject": hostile,
            "body": f"Dear editor {hostile} <img src=x onerror=alert(1)>",
        },
    )
    assert r.status_code == 200
    page = analyst.get(f"/alerts/{a}").text
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert analyst.get("/triage").text.count("<script>alert") == 0


# ---------------------------------------------------------------- roles and sign-in
def test_a_responder_gets_403_on_every_triage_and_admin_route(
    clients: Clients, sign_in: Any, store: Store, make_alert: Callable[..., int]
) -> None:
    a = make_alert()
    outcome = candidate_outcome(store, a)
    responder = clients("responder", sign_in)
    me = responder.get("/api/me").json()["id"]
    html: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/triage", {}),
        ("GET", "/users", {}),
        ("POST", f"/alerts/{a}/approve", {}),
        ("POST", f"/alerts/{a}/edit", {"explanation": "x"}),
        ("POST", f"/alerts/{a}/merge", {"into": "1"}),
        ("POST", f"/alerts/{a}/dismiss", {"reason": "x"}),
        ("POST", f"/alerts/{a}/close", {}),
        ("POST", f"/alerts/{a}/verdict", {"verdict": "valid"}),
        ("POST", f"/outcomes/{outcome}/confirm", {}),
        ("POST", f"/users/{me}", {"role": "admin"}),
        ("POST", "/users/invite", {"email": "x@example.org", "role": "admin"}),
    ]
    for method, path, data in html:
        r = responder.request(method, path, data=data or None, follow_redirects=False)
        assert (method, path, r.status_code) == (method, path, 403)
    api: list[tuple[str, str, Any]] = [
        ("POST", f"/api/alerts/{a}/approve", {}),
        ("POST", f"/api/alerts/{a}/edit", {"explanation": "x"}),
        ("POST", f"/api/alerts/{a}/merge", {"into": 1}),
        ("POST", f"/api/alerts/{a}/dismiss", {"reason": "x"}),
        ("POST", f"/api/alerts/{a}/close", {}),
        ("POST", f"/api/outcomes/{outcome}/confirm", None),
        ("GET", f"/api/alerts/{a}/history", None),
        ("GET", "/api/users", None),
        ("PATCH", f"/api/users/{me}", {"role": "admin"}),
        ("GET", "/api/invitations", None),
        ("POST", "/api/invitations", {"email": "x@example.org", "role": "admin"}),
    ]
    for method, path, body in api:
        r = responder.request(method, path, json=body)
        assert (method, path, r.status_code) == (method, path, 403)
        assert "analyst" in r.json()["detail"] or "admin" in r.json()["detail"]
    assert status_of(store, a) == "new" and store.user(me).role == "responder"  # type: ignore[union-attr]
    assert store.invitations() == [] and store.alert_outcomes(a)[0]["confirmed"] is False


def test_an_analyst_gets_403_on_user_management(analyst: TestClient, store: Store) -> None:
    me = analyst.get("/api/me").json()["id"]
    assert analyst.get("/users").status_code == 403
    assert post_form(analyst, f"/users/{me}", {"role": "admin"}).status_code == 403
    assert post_form(analyst, "/users/invite", {"email": "x@example.org"}).status_code == 403
    assert analyst.get("/api/users").status_code == 403
    assert analyst.patch(f"/api/users/{me}", json={"role": "admin"}).status_code == 403
    assert analyst.post("/api/invitations", json={"email": "x@example.org"}).status_code == 403
    assert store.user(me).role == "analyst"  # type: ignore[union-attr]


def test_anonymous_users_are_sent_to_sign_in_or_get_401(
    clients: Clients, store: Store, make_alert: Callable[..., int]
) -> None:
    a = make_alert()
    anon = clients()
    for path in ("/triage", "/users"):
        r = anon.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == f"/login?next={path}"
    for path in (f"/api/alerts/{a}/history", "/api/users", "/api/invitations"):
        assert anon.get(path).status_code == 401
    # Without a CSRF token a POST stops at the CSRF check; with the pre-sign-in one, at sign-in.
    assert anon.post(f"/api/alerts/{a}/approve", json={}).status_code == 403
    anon.cookies.set(PRE_CSRF_COOKIE, "tok")
    for path, body in ((f"/api/alerts/{a}/approve", {}), ("/api/invitations", {"email": "x@example.org"})):
        r = anon.post(path, json=body, headers={"X-CSRF-Token": "tok"})
        assert r.status_code == 401
    r = anon.post(f"/alerts/{a}/approve", data={"csrf_token": "tok"}, follow_redirects=False)
    assert r.status_code == 401 and status_of(store, a) == "new"


def test_a_triage_post_without_the_csrf_token_is_refused(
    analyst: TestClient, store: Store, make_alert: Callable[..., int]
) -> None:
    a = make_alert()
    token = analyst.headers.pop("X-CSRF-Token")
    assert post_form(analyst, f"/alerts/{a}/approve").status_code == 403
    assert post_form(analyst, f"/alerts/{a}/approve", {"csrf_token": "forged"}).status_code == 403
    assert analyst.post(f"/api/alerts/{a}/dismiss", json={"reason": "x"}).status_code == 403
    assert status_of(store, a) == "new"
    assert post_form(analyst, f"/alerts/{a}/approve", {"csrf_token": token}).status_code == 303
    assert status_of(store, a) == "open"


# ---------------------------------------------------------------- users and invitations
def test_invitation_by_link_end_to_end(clients: Clients, sign_in: Any, store: Store) -> None:
    admin = clients("admin", sign_in, "boss@example.org")
    page = post_form(admin, "/users/invite", {"email": "New.Analyst@Example.org", "role": "analyst"})
    assert (
        page.status_code == 200 and 'data-copy="invite-link"' in page.text and "/static/copy.js" in page.text
    )
    found = re.search(r'id="invite-link">(https://testserver/invite/([\w-]+))<', page.text)
    assert found, page.text
    link, token = found.groups()
    assert "new.analyst@example.org" in admin.get("/users").text  # listed as open...
    assert token not in admin.get("/users").text  # ...but the link is never shown again

    guest = clients()
    form = guest.get(link.removeprefix("https://testserver"))
    assert form.status_code == 200 and "analyst" in form.text
    csrf = guest.cookies.get(PRE_CSRF_COOKIE)
    assert csrf
    r = guest.post(
        f"/invite/{token}",
        data={"password": "a long enough password", "name": "Nadia", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/alerts"
    me = guest.get("/api/me").json()
    assert (me["email"], me["role"]) == ("new.analyst@example.org", "analyst")
    assert guest.get("/triage").status_code == 200

    late = clients()
    assert late.get(f"/invite/{token}").status_code == 410  # used once, never again
    r = late.post(
        f"/invite/{token}",
        data={"password": "another long password", "csrf_token": late.cookies.get(PRE_CSRF_COOKIE)},
        follow_redirects=False,
    )
    assert r.status_code == 410 and len([u for u in store.users() if u.email.startswith("new.")]) == 1
    assert "new.analyst@example.org" not in admin.get("/users").text.split("Open invitations")[1]

    r = admin.post("/api/invitations", json={"email": "resp@example.org"})
    assert r.status_code == 201 and r.json()["role"] == "responder"
    assert r.json()["link"].startswith("https://testserver/invite/")
    assert [i["email"] for i in admin.get("/api/invitations").json()] == ["resp@example.org"]
    r = admin.post("/api/invitations", json={"email": "new.analyst@example.org", "role": "admin"})
    assert r.status_code == 422 and "email" in r.json()["detail"]
    r = admin.post("/api/invitations", json={"email": "x@example.org", "role": "owner"})
    assert r.status_code == 422
    r = post_form(admin, "/users/invite", {"email": "not-an-address"})
    assert r.status_code == 422 and "email" in r.text


def test_invitation_links_use_the_configured_app_url(settings: Settings, store: Store, sign_in: Any) -> None:
    app = create_app(settings.model_copy(update={"app_url": "https://mw.example.org/"}), store)
    with TestClient(app, base_url="https://testserver") as admin:
        sign_in(admin, "admin")
        r = admin.post("/api/invitations", json={"email": "x@example.org"})
        assert r.json()["link"].startswith("https://mw.example.org/invite/")


def test_admin_changes_roles_and_access_but_never_locks_admins_out(
    clients: Clients, sign_in: Any, store: Store
) -> None:
    admin = clients("admin", sign_in, "boss@example.org")
    boss = admin.get("/api/me").json()["id"]
    other = store.create_user("res@example.org", "responder", None)

    r = post_form(admin, f"/users/{other}", {"role": "analyst"})
    assert r.status_code == 303 and store.user(other).role == "analyst"  # type: ignore[union-attr]
    r = post_form(admin, f"/users/{other}", {"active": "false"})
    assert r.status_code == 303 and store.user(other).active is False  # type: ignore[union-attr]
    page = admin.get("/users").text
    assert "res@example.org" in page and "Reactivate" in page and "Last sign-in" in page
    r = admin.patch(f"/api/users/{other}", json={"active": True})
    assert r.status_code == 200 and r.json()["active"] is True

    # The only active admin cannot demote or deactivate themself.
    r = admin.patch(f"/api/users/{boss}", json={"role": "analyst"})
    assert r.status_code == 409 and "last active admin" in r.json()["detail"]
    assert r.json()["detail"].startswith("role:")
    r = admin.patch(f"/api/users/{boss}", json={"active": False})
    assert r.status_code == 409 and "your own account" in r.json()["detail"]
    r = post_form(admin, f"/users/{boss}", {"role": "responder"})
    assert r.status_code == 409 and "last active admin" in r.text and "<h1>Users</h1>" in r.text
    assert store.user(boss).role == "admin"  # type: ignore[union-attr]
    assert 'name="active"' not in admin.get("/users").text.split("boss@example.org")[1].split("</li>")[0]

    r = admin.patch(f"/api/users/{other}", json={"role": "admin"})
    assert r.status_code == 200
    assert admin.get("/api/users").json()[0]["role"] == "admin"
    r = admin.patch(f"/api/users/{boss}", json={"role": "analyst"})  # now someone else is admin
    assert r.status_code == 200 and r.json()["role"] == "analyst"
    assert admin.get("/users").status_code == 403

    for bad in ({}, {"role": "owner"}, {"active": "perhaps"}, {"name": "x"}):
        assert clients("admin", sign_in).patch(f"/api/users/{other}", json=bad).status_code == 422
    assert clients("admin", sign_in).patch("/api/users/999999", json={"active": False}).status_code == 404


def test_user_changes_are_audited_with_the_admins_email(clients: Clients, sign_in: Any, store: Store) -> None:
    from sqlalchemy import select

    from pipeline.store.schema import AuditEntry

    admin = clients("admin", sign_in, "boss@example.org")
    other = store.create_user("res@example.org", "responder", None)
    admin.patch(f"/api/users/{other}", json={"role": "analyst", "active": False})
    with store.session() as s:
        entry = s.scalars(
            select(AuditEntry).where(AuditEntry.object_type == "user", AuditEntry.action == "user_changed")
        ).one()
    assert entry.actor == "boss@example.org" and entry.detail["after"] == {"role": "analyst", "active": False}


def test_french_analysts_see_the_triage_in_french(
    clients: Clients, sign_in: Any, store: Store, make_alert: Callable[..., int]
) -> None:
    a = make_alert()
    c = clients()
    sign_in(c, "analyst", email="fr@example.org", language="fr")
    assert "File de tri" in c.get("/triage").text
    assert "Approuver" in c.get(f"/alerts/{a}").text


def test_the_panel_offers_the_alert_on_another_copy_of_the_wire_story(
    analyst: TestClient, store: Store, make_alert: Callable[..., int]
) -> None:
    a, b = make_alert(), make_alert()
    articles = [store.alert_detail(x).alert.article_id for x in (a, b)]  # type: ignore[union-attr]
    store.join_cluster(articles[1], articles[0])
    page = analyst.get(f"/alerts/{b}").text
    assert f'name="into" value="{a}"' in page
    r = post_form(analyst, f"/alerts/{b}/merge", {"into": str(a), "next": f"/alerts/{a}"})
    assert r.status_code == 303 and status_of(store, b) == "merged"
