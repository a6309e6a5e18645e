"""A full cycle on the bundled demo site: real HTTP server, real SQLite file, real model."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from pipeline.demo import DEMO_FEEDS
from pipeline.demo.server import LocalSite
from pipeline.orchestrate import Pipeline, build, run_cycle
from pipeline.settings import Settings
from pipeline.store import Store
from pipeline.store.schema import (
    Alert,
    Article,
    ArticleVersion,
    Cluster,
    Entry,
    Letter,
    ScoreRow,
    Source,
)

IRRELEVANT = (
    "northvale-software-q3-earnings",
    "bayport-transit-budget-fare-freeze",
    "ontario-housing-starts-target-missed",
    "tempete-neige-quebec-charlevoix",
    "jets-edge-flames-overtime",
)
COMPLAINTS = {
    "gaza-death-toll-israeli-soldiers-killed": {"agentless_casualties", "casualty_doubt"},
    "harbourview-campus-encampment-second-week": {"protest_smear"},
    "eastdale-mosque-gaza-fundraiser": {"islamophobia"},
    "strike-kills-4-militants-11-others-central-gaza": {"headline_framing"},
    "cisjordanie-affrontements-colons-ramallah": {"loaded_language", "casualty_doubt"},
    "montreal-manifestation-pro-hamas-centre-ville": {"protest_smear"},
}
PRAISE = (
    "khan-younis-family-killed-airstrike",
    "west-bank-settlers-attack-olive-pickers",
    "gaza-frappe-enseignante-deux-fils",
    "regina-family-mourns-relatives-gaza",
)


@dataclass
class Cycle:
    pipeline: Pipeline
    store: Store
    site: LocalSite
    stats: dict[str, int]


@pytest.fixture
def cycle(settings: Settings, demo_site: LocalSite) -> Iterator[Cycle]:
    store = Store.open(settings.db_url)
    p = build(settings, store, DEMO_FEEDS, base_url=demo_site.base_url)
    stats = run_cycle(p)
    yield Cycle(p, store, demo_site, stats)
    store.close()


def _alerts_by_slug(store: Store) -> dict[str, Alert]:
    with store.session() as s:
        rows = s.execute(select(Alert, Article.url).join(Article, Article.id == Alert.article_id))
        return {url.rsplit("/", 1)[-1].removesuffix(".html"): a for a, url in rows}


def test_full_cycle_stores_every_demo_article_once(cycle: Cycle) -> None:
    counts = cycle.store.counts()
    assert counts["sources"] == 4
    assert counts["entries"] == 19
    assert counts["articles"] == 19
    assert counts["scores"] == 19
    with cycle.store.session() as s:
        assert s.scalar(select(func.count()).select_from(ArticleVersion)) == 19
        texts = s.scalars(select(Article.text)).all()
    assert all(len(t.split()) > 150 for t in texts), "every page yields its article text"


def test_irrelevant_articles_raise_no_alert(cycle: Cycle) -> None:
    alerts = _alerts_by_slug(cycle.store)
    assert not set(IRRELEVANT) & set(alerts)


def test_problem_articles_raise_complaints_with_their_categories(cycle: Cycle) -> None:
    alerts = _alerts_by_slug(cycle.store)
    for slug, must in COMPLAINTS.items():
        assert slug in alerts, f"no alert for {slug}"
        assert alerts[slug].kind == "complaint", slug
        missing = must - set(alerts[slug].categories)
        assert not missing, f"{slug}: missing {missing}"


def test_good_coverage_raises_praise(cycle: Cycle) -> None:
    alerts = _alerts_by_slug(cycle.store)
    for slug in PRAISE:
        assert slug in alerts and alerts[slug].kind == "praise", slug


def test_every_alert_has_evidence_quoting_the_article_and_a_letter(cycle: Cycle) -> None:
    with cycle.store.session() as s:
        rows = s.execute(select(Alert, Article).join(Article, Article.id == Alert.article_id)).all()
        letters = {x.alert_id: x for x in s.scalars(select(Letter))}
    assert rows
    for alert, article in rows:
        assert alert.evidence, article.url
        for ev in alert.evidence:
            body = article.title if ev["field"] == "title" else article.text
            assert body[ev["start"] : ev["end"]] == ev["quote"]
        letter = letters[alert.id]
        assert article.title in letter.body
        assert letter.word_limit is None or letter.word_count <= letter.word_limit, article.url


def test_french_article_gets_a_french_letter_to_the_french_desk(cycle: Cycle) -> None:
    alerts = _alerts_by_slug(cycle.store)
    detail = cycle.store.alert_detail(alerts["montreal-manifestation-pro-hamas-centre-ville"].id)
    assert detail is not None
    letter = detail.letters[0]
    assert letter.language == "fr"
    assert letter.recipient == "lettres@courrierdufleuve.example"
    assert "Madame, Monsieur" in letter.body


def test_wire_copies_form_one_cluster_with_the_agency(cycle: Cycle) -> None:
    with cycle.store.session() as s:
        rows = s.execute(select(Article.url, Article.cluster_id, Article.wire_agency)).all()
        clusters = s.scalars(select(Cluster)).all()
    wire = {u.rsplit("/", 1)[-1]: (c, a) for u, c, a in rows if a}
    assert set(wire) == {
        "un-general-assembly-gaza-aid-resolution.html",
        "un-vote-gaza-aid-canada-support.html",
    }
    assert len({c for c, _a in wire.values()}) == 1 and None not in {c for c, _ in wire.values()}
    assert [c.originator for c in clusters] == ["The Canadian Press"]


def test_second_cycle_uses_304s_and_adds_nothing(cycle: Cycle) -> None:
    before = cycle.store.counts()
    with cycle.store.sessions.begin() as s:  # make every source due again
        s.execute(Source.__table__.update().values(next_check_at=None))
    cycle.site.requests.clear()
    stats = run_cycle(cycle.pipeline)
    assert stats.get("not_modified") == 4
    assert all("If-None-Match" in h for _p, h in cycle.site.requests)
    assert cycle.store.counts() == before


def test_reprocessing_entries_never_duplicates_articles_scores_or_alerts(cycle: Cycle) -> None:
    with cycle.store.sessions.begin() as s:  # as if a crash left every entry unprocessed
        s.execute(Entry.__table__.update().values(status="new"))
    run_cycle(cycle.pipeline)
    with cycle.store.session() as s:
        assert s.scalar(select(func.count()).select_from(Alert)) == len(_alerts_by_slug(cycle.store))
        assert s.scalar(select(func.count()).select_from(ScoreRow)) == 19
        assert s.scalar(select(func.count()).select_from(Article)) == 19
