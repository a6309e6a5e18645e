"""Sign-in, sessions, rate limits, security headers, the account page and the private Atom feed."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import feedparser
import pytest
from fastapi.testclient import TestClient

from pipeline.settings import Settings
from pipeline.store import Store
from pipeline.web import create_app
from pipeline.web.auth import PRE_CSRF_COOKIE, SESSION_COOKIE, hash_password

PASSWORD = "correct horse battery"


@pytest.fixture
def web(settings: Settings, store: Store) -> Iterator[TestClient]:
    store.create_user("ana@example.org", "analyst", hash_password(PASSWORD), name="Ana")
    with TestClient(create_app(settings, store), base_url="https://testserver") as c:
        yield c


def _form_token(c: TestClient, path: str = "/login") -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', c.get(path).text)
    assert found is not None
    return found[1]


def _login(c: TestClient, email: str, password: str, next_url: str = "/alerts") -> Any:
    data = {"email": email, "password": password, "csrf_token": _form_token(c), "next": next_url}
    return c.post("/login", data=data, follow_redirects=False)


def test_sign_in_sets_a_secure_httponly_lax_cookie_and_sign_out_ends_the_session(
    web: TestClient, store: Store
) -> None:
    assert web.get("/alerts", follow_redirects=False).headers["location"] == "/login?next=/alerts"
    done = _login(web, "Ana@Example.org", PASSWORD)
    assert done.status_code == 303 and done.headers["location"] == "/alerts"
    cookie = next(h for h in done.headers.get_list("set-cookie") if h.startswith(f"{SESSION_COOKIE}="))
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=lax" in cookie
    assert web.get("/alerts").status_code == 200
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', web.get("/account").text)
    assert csrf is not None
    token = web.cookies[SESSION_COOKIE]
    assert store.session_user(token) is not None
    web.post("/logout", data={"csrf_token": csrf[1]}, follow_redirects=False)
    assert store.session_user(token) is None  # gone from the database, not only the browser
    web.cookies.set(SESSION_COOKIE, token)  # a stolen cookie no longer works
    assert web.get("/api/me").status_code == 401


def test_wrong_passwords_are_refused_then_paused(web: TestClient, store: Store) -> None:
    for _ in range(5):
        refused = _login(web, "ana@example.org", "wrong password!")
        assert refused.status_code == 401 and "Wrong email or password" in refused.text
    paused = _login(web, "ana@example.org", PASSWORD)  # even the right one, for a while
    assert paused.status_code == 429 and "Too many failed sign-ins" in paused.text
    assert _login(web, "nobody@example.org", PASSWORD).status_code == 401  # same answer: no hint
    assert store.login_failures("ip:testclient", __import__("datetime").timedelta(minutes=15)) == 6


def test_sign_in_needs_the_forms_csrf_token_and_never_redirects_off_site(web: TestClient) -> None:
    web.get("/login")
    bare = web.post("/login", data={"email": "ana@example.org", "password": PASSWORD}, follow_redirects=False)
    assert bare.status_code == 403
    forged = web.post(
        "/login",
        data={"email": "ana@example.org", "password": PASSWORD, "csrf_token": "guess"},
        follow_redirects=False,
    )
    assert forged.status_code == 403 and web.cookies.get(PRE_CSRF_COOKIE)
    for target in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)"):
        web.cookies.delete(SESSION_COOKIE)
        assert _login(web, "ana@example.org", PASSWORD, target).headers["location"] == "/alerts"


def test_cross_site_posts_are_refused_even_with_a_token(web: TestClient, sign_in: Any) -> None:
    sign_in(web, "analyst")
    refused = web.post("/account/feed", headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403 and "cross-site" in refused.text


def test_pages_carry_a_strict_content_security_policy(web: TestClient, sign_in: Any) -> None:
    sign_in(web, "analyst")
    page = web.get("/alerts")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert page.headers["x-frame-options"] == "DENY" and page.headers["cache-control"] == "no-store"
    assert "unsafe-inline" in web.get("/docs").headers["content-security-policy"]  # Swagger UI only
    assert web.get("/api/openapi.json").json()["info"]["title"] == "MediaWatch"
    web.cookies.clear()
    health = web.get("/healthz").json()  # open to all, and says nothing about the data
    assert web.get("/api/openapi.json").status_code == 401 and set(health) == {
        "status",
        "problems",
        "schema",
        "database",
        "scheduler",
    }
    assert health["schema"] == web.app.state.store.schema_revision()  # type: ignore[attr-defined]


def test_account_preferences_and_the_private_atom_feed(
    web: TestClient, store: Store, sign_in: Any, make_alert: Callable[..., int]
) -> None:
    user = sign_in(web, "responder", language="en")
    opened, hidden = make_alert(title="Opened <b>alert</b>"), make_alert(title="Still new")
    store.approve(opened, "ana@example.org")
    saved = web.post("/account", data={"name": "Rae", "language": "fr", "notify_digest": "true"})
    assert saved.status_code == 200 and "Enregistré" in saved.text  # French from now on
    after = store.user(user.id)
    assert after is not None and (
        after.name,
        after.language,
        after.notify_digest,
        after.notify_immediate,
    ) == (
        "Rae",
        "fr",
        True,
        False,
    )
    page = web.post("/account/feed").text
    url = re.search(r'<code id="feed-url">([^<]+)</code>', page)
    assert url is not None and "/feeds/" in url[1]
    path = url[1].split("testserver", 1)[1]
    web.cookies.clear()  # feed readers have no session: the token is the key
    feed = web.get(path)
    assert feed.headers["content-type"].startswith("application/atom+xml")
    parsed = feedparser.parse(feed.content)
    assert [e.title for e in parsed.entries] == ["Opened <b>alert</b>"]
    assert parsed.entries[0].link.endswith(f"/alerts/{opened}") and f"/alerts/{hidden}" not in feed.text
    assert web.get(path.replace(".atom", "x.atom")).status_code == 404
