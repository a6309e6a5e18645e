"""The web app over a real SQLite store filled by a real cycle; hostile content stays inert."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pipeline.alert import ArticleInfo, draft_alert
from pipeline.demo import DEMO_FEEDS
from pipeline.demo.server import LocalSite
from pipeline.letters import LetterTemplates, load_talking_points
from pipeline.orchestrate import build, run_cycle
from pipeline.records import Evidence, Extracted, Score
from pipeline.settings import Settings
from pipeline.store import Store
from pipeline.store.schema import Source
from pipeline.store.views import PollRecord
from pipeline.web import create_app


@pytest.fixture
def client(
    settings: Settings, store: Store, demo_site: LocalSite, sign_in: Any
) -> Iterator[tuple[TestClient, Store]]:
    run_cycle(build(settings, store, DEMO_FEEDS, base_url=demo_site.base_url))
    with TestClient(create_app(settings, store), base_url="https://testserver") as c:
        sign_in(c, "analyst")
        yield c, store


def test_queue_lists_alerts_by_priority(client: tuple[TestClient, Store]) -> None:
    c, store = client
    page = c.get("/alerts")
    assert page.status_code == 200
    alerts = store.list_alerts()
    assert alerts
    positions = [page.text.index(f'href="/alerts/{a.id}"') for a in alerts]
    assert positions == sorted(positions)
    assert 'name="viewport"' in page.text


def test_queue_filters_by_language_and_category(client: tuple[TestClient, Store]) -> None:
    c, store = client
    fr = c.get("/alerts", params={"language": "fr"}).text
    for a in store.list_alerts():
        assert (f'href="/alerts/{a.id}"' in fr) == (a.language == "fr")
    partial = c.get("/alerts", params={"category": "protest_smear"}, headers={"HX-Request": "true"})
    assert "<html" not in partial.text
    ids = {a.id for a in store.list_alerts(category="protest_smear")}
    assert ids and all(f'href="/alerts/{i}"' in partial.text for i in ids)


def test_alert_page_shows_evidence_scores_and_letter(client: tuple[TestClient, Store]) -> None:
    c, store = client
    alert = store.list_alerts(kind="complaint")[0]
    page = c.get(f"/alerts/{alert.id}").text
    assert '<mark class="ev"' in page
    # the draft is shown, but sending starts from a claim and the responder's own letter
    assert "Suggested letter" in page and "mailto:" not in page and "Claim the alert" in page
    assert "own words" in page


def test_api_returns_alerts_and_404s(client: tuple[TestClient, Store]) -> None:
    c, store = client
    listed = c.get("/api/alerts").json()
    assert [a["id"] for a in listed] == [a.id for a in store.list_alerts()]
    detail = c.get(f"/api/alerts/{listed[0]['id']}").json()
    assert detail["letters"] and detail["evidence"]
    assert c.get("/api/alerts/999999").status_code == 404
    assert c.get("/alerts/999999").status_code == 404
    assert c.get("/healthz").json()["database"] == "ok"  # (503: no scheduler runs in this test)
    assert "/api/alerts" in c.get("/api/openapi.json").json()["paths"]


def test_hostile_article_content_is_escaped(settings: Settings, store: Store, sign_in: Any) -> None:
    from pipeline.config import load_feeds

    store.sync_outlets(load_feeds(DEMO_FEEDS, "http://127.0.0.1:1"))
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    text = f"Five Palestinians died in Gaza. {evil} The figures could not be verified."
    doc = Extracted("u", f"Headline {evil}", text, language="en")
    aid = store.save_article("maple-ledger", "http://127.0.0.1:1/evil", doc, "", None, None)
    start = text.index("Five")
    ev = Evidence("agentless_casualties", text[start : start + 30], start, start + 30, "rule:x")
    score = Score(str(aid), True, 0.9, {"agentless_casualties": 0.9}, True, "complaint", 0.9, [ev])
    sid = store.save_score(aid, score)
    outlet = {"letters": {"word_limit": 150}, "reach": 3, "name": "The Maple Ledger"}
    draft = draft_alert(
        score,
        ArticleInfo(doc.title, text, "http://127.0.0.1:1/evil", None, "en"),
        outlet,
        LetterTemplates(settings.alerts_dir / "templates"),
        load_talking_points(settings.alerts_dir / "talking_points.yaml"),
    )
    assert draft is not None
    alert_id = store.create_alert(aid, sid, draft)
    with TestClient(create_app(settings, store), base_url="https://testserver") as c:
        sign_in(c, "analyst")
        for url in ("/alerts", f"/alerts/{alert_id}"):
            page = c.get(url).text
            assert "<script>alert" not in page and "<img src=x" not in page
            assert "&lt;script&gt;" in page


def test_sources_page_puts_failing_sources_first_with_the_reason(client: tuple[TestClient, Store]) -> None:
    c, store = client
    [first, *_] = store.due_sources(datetime.now(UTC) + timedelta(days=2))
    store.record_poll(first.id, PollRecord(500, error="HTTP 500", next_check=datetime.now(UTC)))
    with store.sessions.begin() as s:  # it has been failing for two days
        s.execute(
            Source.__table__.update()
            .where(Source.id == first.id)
            .values(failing_since=datetime.now(UTC) - timedelta(days=2))
        )
    page = c.get("/sources")
    assert page.status_code == 200
    assert "1 need attention" in page.text
    assert page.text.index(first.url) < min(
        page.text.index(r.url)
        for r in store.due_sources(datetime.now(UTC) + timedelta(days=2))
        if r.id != first.id
    )
    assert "failing for 48 h (1 errors in a row): HTTP 500" in page.text
    api = {r["id"]: r for r in c.get("/api/sources").json()}
    assert api[first.id]["warning"].startswith("failing for 48 h")
    assert sum(1 for r in api.values() if r["warning"]) == 1
    # outlets are shown by name (the id beside it), as editors know them
    name = api[first.id]["outlet_name"]
    assert name and name != api[first.id]["outlet"]
    assert f"<strong>{name}</strong>" in page.text


def test_queue_filters_by_priority_and_status_pages_and_hides_new_alerts_from_responders(
    settings: Settings, store: Store, make_alert: Any, sign_in: Any
) -> None:
    high = [make_alert(severity=0.95) for _ in range(3)]
    low = [make_alert(severity=0.1) for _ in range(27)]
    for a in [*high, *low[:2]]:
        store.approve(a, "ana@example.org")
    with TestClient(create_app(settings, store), base_url="https://testserver") as c:
        sign_in(c, "analyst")
        first = c.get("/alerts").text
        assert first.count('class="alert-card') == 25 and "page=2" in first
        second = c.get("/alerts?page=2").text
        assert second.count('class="alert-card') == 5 and "page=3" not in second
        urgent = c.get("/alerts?priority=0.5").text
        assert urgent.count('class="alert-card') == 3
        assert c.get("/alerts?status=new").text.count('class="alert-card') == 25  # the first 25 of 25
        c.cookies.clear()
        sign_in(c, "responder")
        mine = c.get("/alerts").text  # responders see opened alerts only
        assert mine.count('class="alert-card') == 5 and "page=2" not in mine
        assert c.get("/alerts?status=new").text.count('class="alert-card') == 0
        assert c.get(f"/alerts/{low[-1]}").status_code == 404
        api = c.get("/api/alerts").json()
        assert sorted(a["id"] for a in api) == sorted([*high, *low[:2]])
