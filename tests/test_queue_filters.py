"""The queue's filters (outlet, language, category, status, kind, priority) walk indexes led by
them (alerts' copies of outlet and language, the alert_categories table): the results must be
the ones a plain join with the same filters gives, in the same order, on every combination."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import inspect, select, update

from pipeline.config import load_feeds
from pipeline.demo import DEMO_FEEDS
from pipeline.records import CATEGORIES, AlertDraft, Evidence, Extracted, LetterDraft, Score
from pipeline.settings import Settings
from pipeline.store import Store, alerts
from pipeline.store.schema import Alert, AlertCategory, Article
from pipeline.store.workspace import VISIBLE_TO_RESPONDERS

OUTLETS = ("maple-ledger", "lakeshore-daily", "courrier-du-fleuve", "prairie-broadcast")
STATUSES = ("new", "open", "claimed", "sent", "closed", "dismissed", "merged")
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def seed(store: Store, n: int, rng: random.Random) -> list[int]:
    """*n* alerts over the demo outlets, languages (one in ten none, some French at English
    outlets), 1-3 categories (duplicates too, rare ones rarely), coarse priorities (ties), all
    statuses and both kinds."""
    store.sync_outlets(load_feeds(DEMO_FEEDS, "http://127.0.0.1:1"))
    weights = [1 if c in ("islamophobia", "factual_error") else 6 for c in CATEGORIES]
    ids = []
    for i in range(n):
        outlet = rng.choice(OUTLETS)
        usual = "fr" if outlet == "courrier-du-fleuve" else "en"
        language = rng.choices([usual, "fr" if usual == "en" else "en", None], [85, 5, 10])[0]
        url = f"http://127.0.0.1:1/story-{i}"
        doc = Extracted(url, f"Story {i}", "Five died on Tuesday. Nobody said who.", language=language)
        aid = store.save_article(outlet, url, doc, "", NOW - timedelta(hours=i), None)
        cats = rng.choices(CATEGORIES, weights, k=rng.randint(1, 3))
        ev = [Evidence(c, "Five died", 0, 9, "rule:x") for c in cats]
        kind = "praise" if rng.random() < 0.1 else "complaint"
        score = Score(str(aid), True, 0.9, dict.fromkeys(cats, 0.9), True, kind, 0.8, ev)
        sid = store.save_score(aid, score)
        letter = LetterDraft(language or "en", kind, "About it", "Dear editor", 2, None, None)
        draft = AlertDraft(kind, 0.8, rng.randint(0, 20) / 20, cats, "summary", ev, letter)
        alert_id = store.create_alert(aid, sid, draft)
        assert alert_id is not None
        ids.append(alert_id)
    with store.sessions.begin() as s:  # statuses straight in the table: they touch no copy
        for alert_id in ids:
            status = rng.choices(STATUSES, [20, 40, 15, 10, 6, 5, 4])[0]
            s.execute(update(Alert).where(Alert.id == alert_id).values(status=status))
    return ids


def reference(store: Store, **f: Any) -> list[int]:
    """The plain join: every filter on the alert and its article, ORDER BY, then the page."""
    q = select(Alert.id, Alert.categories).join(Article, Article.id == Alert.article_id)
    status = f.get("status")
    if status:
        q = q.where(Alert.status.in_([status] if isinstance(status, str) else list(status)))
    if f.get("outlet"):
        q = q.where(Article.outlet_id == f["outlet"])
    if f.get("language"):
        q = q.where(Article.language == f["language"])
    if f.get("kind"):
        q = q.where(Alert.kind == f["kind"])
    if f.get("min_priority") is not None:
        q = q.where(Alert.priority >= f["min_priority"])
    q = q.order_by(Alert.priority.desc(), Alert.id.desc())
    with store.session() as s:
        rows = [a for a, cats in s.execute(q) if not f.get("category") or f["category"] in cats]
    offset = f.get("offset", 0)
    return rows[offset : offset + f.get("limit", 200)]


def combinations(
    categories: tuple[str | None, ...] = (None, *CATEGORIES, "no_such_category"),
    outlets: tuple[str | None, ...] = (None, *OUTLETS, "nowhere"),
    languages: tuple[str | None, ...] = (None, "en", "fr"),
    statuses: tuple[Any, ...] = (None, "new", "closed", "merged", VISIBLE_TO_RESPONDERS, ("open", "claimed")),
) -> Iterator[dict[str, Any]]:
    for category in categories:
        for outlet in outlets:
            for language in languages:
                for status in statuses:
                    yield {"category": category, "outlet": outlet, "language": language, "status": status}


def check(store: Store, f: dict[str, Any]) -> int:
    got = store.list_alerts(**f)
    assert [a.id for a in got] == reference(store, **f), f
    for a in got:
        assert (not f.get("outlet") or a.outlet_id == f["outlet"]) and (
            not f.get("language") or a.language == f["language"]
        ), f
    return len(got)


def category_rows(store: Store) -> set[tuple[Any, ...]]:
    with store.session() as s:
        return {tuple(r) for r in s.execute(select(*AlertCategory.__table__.columns))}


def expected_category_rows(store: Store) -> set[tuple[Any, ...]]:
    q = select(Alert.id, Alert.categories, Alert.priority, Article.outlet_id, Article.language).join(
        Article, Article.id == Alert.article_id
    )
    with store.session() as s:
        return {(a, c, p, o, lang) for a, cats, p, o, lang in s.execute(q) for c in cats}


@pytest.fixture
def seeded(store: Store) -> Store:
    seed(store, 300, random.Random(8))
    return store


@pytest.mark.parametrize("few", [0, 5000], ids=["category-walk", "status-walk"])
def test_every_filter_combination_matches_the_plain_join(
    seeded: Store, few: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a category and one status, both walks (alert_categories; the status's alerts)."""
    monkeypatch.setattr(alerts, "FEW_IN_STATUS", few)
    found = 0
    for f in combinations():
        found += check(seeded, {**f, "limit": 6})
        check(seeded, {**f, "limit": 6, "offset": 6})
    assert found > 2000  # the combinations do find alerts, not only empty pages
    for f in combinations(statuses=(None, VISIBLE_TO_RESPONDERS, "open")):
        check(seeded, {**f, "kind": "praise", "limit": 5})
        check(seeded, {**f, "min_priority": 0.5, "limit": 5, "offset": 2})
    for f in combinations(outlets=(None, "maple-ledger"), statuses=(None, VISIBLE_TO_RESPONDERS)):
        check(seeded, f)  # whole lists (limit 200), ties in priority included


def test_merge_and_reprioritise_keep_the_category_rows(seeded: Store) -> None:
    assert category_rows(seeded) == expected_category_rows(seeded)
    with seeded.session() as s:
        live = list(s.execute(select(Alert.id, Alert.status).order_by(Alert.id)))
    sources = [a for a, st in live if st in ("new", "open")]
    targets = [a for a, st in live if st in ("open", "claimed", "sent")]
    for alert_id, into in zip(sources[:30], reversed(targets[-30:]), strict=True):
        if alert_id != into:
            seeded.merge(alert_id, into, by="analyst")
    assert category_rows(seeded) == expected_category_rows(seeded)
    rng = random.Random(3)
    assert seeded.reprioritise(lambda *_args: rng.randint(0, 20) / 20, now=NOW) > 0
    assert category_rows(seeded) == expected_category_rows(seeded)
    for f in combinations(outlets=(None, "maple-ledger", "courrier-du-fleuve")):
        check(seeded, {**f, "limit": 8})


def test_migration_0008_fills_in_existing_alerts(settings: Settings) -> None:
    from alembic import command

    from pipeline.store import migrate

    store = Store.open(settings.db_url)
    seed(store, 120, random.Random(5))
    before = [[a.id for a in store.list_alerts(**f)] for f in combinations()]
    expected = category_rows(store)
    with store.engine.connect() as conn:  # back to 0007: the copies and the table go
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:  # batch mode copies tables, which SQLite's foreign keys would refuse
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            conn.commit()
        with conn.begin():
            cfg = migrate.alembic_config(store.engine)
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0007")
        if sqlite:
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")
            conn.commit()
        assert "alert_categories" not in inspect(conn).get_table_names()
    store.upgrade()  # 0008 again (and every later one): filled in from the alerts and their articles
    assert store.schema_revision() == migrate.head_revision()
    assert category_rows(store) == expected
    assert [[a.id for a in store.list_alerts(**f)] for f in combinations()] == before
    store.close()
