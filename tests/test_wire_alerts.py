"""Wire copy in a cycle: two outlets run one agency story (one trimmed and retitled); both copies
score as alerts, but the organisation gets one alert, aimed at the agency, that lists the
republishers (orchestrate.raise_alerts, store/alerts.py raise_alerts, the alert page)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from pipeline.demo import DEMO_FEEDS
from pipeline.demo.server import SITE, LocalSite, Override
from pipeline.orchestrate import build, run_cycle
from pipeline.settings import Settings
from pipeline.store import Store
from pipeline.store.schema import Alert, Article, AuditEntry, Cluster
from pipeline.web import create_app

ORIGINAL = "/maple-ledger/2026/11/gaza-death-toll-israeli-soldiers-killed.html"
COPY = "/prairie-broadcast/2026/11/un-vote-gaza-aid-canada-support.html"
HTML = {"Content-Type": "text/html; charset=utf-8"}


@dataclass
class WireCycle:
    store: Store
    stats: dict[str, int]
    settings: Settings


def wire_pages(site: LocalSite) -> tuple[str, str]:
    """The Maple Ledger runs an AP story in full; Prairie Broadcast runs it trimmed to its first
    paragraphs, under its own headline, with a paragraph of its own at the end."""
    html = (SITE / ORIGINAL.lstrip("/")).read_text().replace("{base}", site.base_url)
    html = html.replace("JERUSALEM —", "JERUSALEM (AP) —").replace(
        '<a href="/maple-ledger/authors/gregor-vashti/" rel="author">Gregor Vashti</a>',
        "The Associated Press",
    )
    original = html
    head, body = html.split('<div class="ml-story__body">', 1)
    paragraphs = body.split("</p>")
    trimmed = "</p>".join(paragraphs[:7]) + (
        "</p><p>Members of the Winnipeg congregation gathered on Sunday evening to pray for "
        "everyone caught up in the fighting, organisers said.</p></div></article></body></html>"
    )
    copy = (head + '<div class="ml-story__body">' + trimmed).replace(ORIGINAL, COPY)
    copy = copy.replace("The Maple Ledger", "Prairie Broadcast").replace(
        "Gaza death toll rises as two Israeli soldiers killed in Hamas ambush",
        "Two Israeli soldiers killed as Gaza toll climbs",
    )
    return original, copy


@pytest.fixture
def wire(settings: Settings, demo_site: LocalSite) -> Iterator[WireCycle]:
    original, copy = wire_pages(demo_site)
    demo_site.overrides[ORIGINAL] = Override(200, original.encode(), HTML)
    demo_site.overrides[COPY] = Override(200, copy.encode(), HTML)
    store = Store.open(settings.db_url)
    stats = run_cycle(build(settings, store, DEMO_FEEDS, base_url=demo_site.base_url))
    yield WireCycle(store, stats, settings)
    store.close()


def _rows(store: Store) -> dict[str, tuple[Article, Alert | None]]:
    with store.session() as s:
        rows = s.execute(select(Article, Alert).outerjoin(Alert, Alert.article_id == Article.id))
        return {a.url.split("/", 3)[3]: (a, al) for a, al in rows}


def test_both_copies_form_one_cluster_with_agency_and_original(wire: WireCycle) -> None:
    rows = _rows(wire.store)
    original, copy = rows[ORIGINAL.lstrip("/")][0], rows[COPY.lstrip("/")][0]
    assert original.cluster_id is not None and original.cluster_id == copy.cluster_id
    with wire.store.session() as s:
        cluster = s.get_one(Cluster, original.cluster_id)
    assert cluster.originator == "Associated Press"
    assert cluster.origin_article_id in (original.id, copy.id)


def test_one_alert_per_wire_story_listing_the_republisher(wire: WireCycle) -> None:
    rows = _rows(wire.store)
    alerts = [al for key, (_a, al) in rows.items() if key in (ORIGINAL[1:], COPY[1:]) and al is not None]
    assert len(alerts) == 1, "two copies of one wire story must raise one alert"
    assert wire.stats["wire_copies_joined"] == 1
    alert = alerts[0]
    detail = wire.store.alert_detail(alert.id)
    assert detail is not None and detail.wire is not None
    assert detail.wire.agency == "Associated Press"
    other = [m.outlet_id for m in detail.republishers]
    assert len(other) == 1 and other[0] != detail.alert.outlet_id
    assert "wire copy from Associated Press: write to the agency too" in detail.alert.summary
    with wire.store.session() as s:
        joined = s.scalars(select(AuditEntry).where(AuditEntry.action == "wire_copy_joined")).all()
    copies = {rows[ORIGINAL[1:]][0].id, rows[COPY[1:]][0].id}
    assert len(joined) == 1 and str(joined[0].object_id) == str(alert.id)
    assert joined[0].detail["article"] == (copies - {alert.article_id}).pop()


def test_alert_page_and_api_show_the_agency_and_republishers(wire: WireCycle, sign_in: Any) -> None:
    rows = _rows(wire.store)
    alert = next(al for key, (_a, al) in rows.items() if key in (ORIGINAL[1:], COPY[1:]) and al is not None)
    client = TestClient(create_app(wire.settings, wire.store), base_url="https://testserver")
    sign_in(client, "analyst")
    page = client.get(f"/alerts/{alert.id}").text
    assert "Wire story" in page and "Associated Press" in page and "Also published by" in page
    data = client.get(f"/api/alerts/{alert.id}").json()
    assert data["wire"]["agency"] == "Associated Press"
    assert len(data["republished_by"]) == 1
