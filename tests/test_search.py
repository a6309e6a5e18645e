"""Full-text search over stored articles: EN and FR (accents both ways), phrases, prefixes,
hostile queries, filters, the index kept in step with article updates, the CLI and the web app."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from pipeline.cli import main
from pipeline.errors import InputError
from pipeline.settings import Settings
from pipeline.store import Store
from pipeline.store.search import fts5_query, parse_query
from pipeline.web import create_app

FR_TEXT = "Des milliers de Palestiniens déplacés ont fui Khan Younès mardi."


def ids(hits: list[Any]) -> set[int]:
    return {h.alert_id for h in hits}


@pytest.fixture
def corpus(make_alert: Any) -> dict[str, int]:
    return {
        "en": make_alert(title="Strike on Gaza school", text="Five Palestinians died in Gaza on Tuesday."),
        "fr": make_alert(title="Gaza : l'exode", text=FR_TEXT, language="fr", outlet="maple-ledger"),
        "other": make_alert(
            title="Budget vote",
            text="Parliament voted the budget; strikers protested outside.",
            published=datetime(2026, 10, 5, 12, tzinfo=UTC),
        ),
    }


def test_english_words_and_phrase(store: Store, corpus: dict[str, int]) -> None:
    assert ids(store.search_articles("gaza")) == {corpus["en"], corpus["fr"]}
    assert ids(store.search_articles('"five palestinians"')) == {corpus["en"]}
    assert ids(store.search_articles('"palestinians five"')) == set()
    assert ids(store.search_articles("gaza tuesday")) == {corpus["en"]}  # all words must match
    assert ids(store.search_articles("budget OR school")) == {corpus["en"], corpus["other"]}


def test_french_accents_match_both_ways(store: Store, corpus: dict[str, int]) -> None:
    assert ids(store.search_articles("déplacés")) == {corpus["fr"]}
    assert ids(store.search_articles("deplaces")) == {corpus["fr"]}
    assert ids(store.search_articles("KHAN YOUNES")) == {corpus["fr"]}
    assert ids(store.search_articles("l'exode")) == {corpus["fr"]}


def test_prefix(store: Store, corpus: dict[str, int]) -> None:
    assert ids(store.search_articles("strike*")) == {corpus["en"], corpus["other"]}
    assert ids(store.search_articles("dépla*")) == {corpus["fr"]}
    assert ids(store.search_articles("strike")) == {corpus["en"]}


@pytest.mark.parametrize(
    "query",
    [
        '"',
        '""',
        "*",
        "gaza*  *",
        'gaza"',
        "NEAR(gaza",
        "NEAR(gaza five, 2)",
        "-gaza",
        "title:gaza",
        "gaza:",
        "AND",
        "OR gaza OR",
        "NOT gaza",
        "(gaza",
        "gaza)",
        "^gaza",
        "{title}: gaza",
        "'",
        "\\",
        "\x00",
        "g" * 400,
    ],
)
def test_hostile_queries_never_raise(store: Store, corpus: dict[str, int], query: str) -> None:
    store.search_articles(query)


def test_query_quoting() -> None:
    assert fts5_query(parse_query('a OR "b c" d*')) == '("a" OR "b c") AND ("d"*)'
    with pytest.raises(InputError, match="query"):
        parse_query("   ")
    with pytest.raises(InputError, match="query"):
        parse_query("x" * 501)


def test_empty_query_names_query(store: Store) -> None:
    with pytest.raises(InputError, match=r"^query"):
        store.search_articles("  \n")


def test_filters(store: Store, corpus: dict[str, int]) -> None:
    assert ids(store.search_articles("gaza", language="fr")) == {corpus["fr"]}
    assert ids(store.search_articles("gaza", outlets=["nobody"])) == set()
    assert ids(store.search_articles("gaza OR budget", outlets=["maple-ledger"])) == set(corpus.values())
    dated = store.search_articles("budget OR gaza", date_from=date(2026, 10, 5), date_to=date(2026, 10, 5))
    assert ids(dated) == {corpus["other"]}
    assert ids(store.search_articles("budget", date_to=date(2026, 10, 4))) == set()
    assert ids(store.search_articles("gaza", categories=["agentless_casualties"])) == {
        corpus["en"],
        corpus["fr"],
    }
    assert ids(store.search_articles("gaza", categories=["islamophobia"])) == set()
    assert ids(store.search_articles("gaza", min_score=0.5)) == {corpus["en"], corpus["fr"]}
    assert ids(store.search_articles("gaza", min_score=0.95)) == set()
    assert ids(store.search_articles("gaza", alert_status="new")) == {corpus["en"], corpus["fr"]}
    assert ids(store.search_articles("gaza", alert_status="sent")) == set()
    assert len(store.search_articles("gaza OR budget", limit=1)) == 1
    assert len(store.search_articles("gaza OR budget", limit=2, offset=2)) == 1


def test_index_follows_article_updates(store: Store, corpus: dict[str, int]) -> None:
    (hit,) = store.search_articles("budget")
    store.record_revisit(
        hit.article_id, [0.0, 1.0, 2.0], ("Budget vote amended", "Ceasefire talks resumed.", None, False)
    )
    assert store.search_articles("parliament") == []
    assert [h.article_id for h in store.search_articles("ceasefire")] == [hit.article_id]
    assert [h.article_id for h in store.search_articles("amended")] == [hit.article_id]


def test_snippet_marks_matches(store: Store, corpus: dict[str, int]) -> None:
    (hit,) = store.search_articles('"five palestinians"')
    assert "<mark>Five Palestinians</mark> died" in hit.snippet_html
    assert hit.snippet_text.startswith("Five Palestinians died")


def test_words_inside_markup_addresses_and_paths_are_plain_words(store: Store, make_alert: Any) -> None:
    """FTS5 reads every run of letters and digits as a word; PostgreSQL's parser would see a tag,
    an e-mail, a URL or a signed number instead (migration 0012 makes it read words too)."""
    aid = make_alert(
        title="Report",
        text="See www.example.com/gaza-report or write to press@maple.example; <b>Rafah</b> -12.5 km.",
    )
    for query in ("example", "gaza report", '"gaza report"', "press", "maple", "rafah", "b", "12", "5"):
        assert ids(store.search_articles(query)) == {aid}, query
    (hit,) = store.search_articles("rafah")
    assert "&lt;b&gt;<mark>Rafah</mark>&lt;/b&gt;" in hit.snippet_html


def test_better_matches_rank_first(store: Store, make_alert: Any) -> None:
    once = make_alert(title="Budget", text="The council met. Gaza was mentioned once among other things.")
    often = make_alert(title="Gaza", text="Gaza: strikes on Gaza overnight; Gaza hospitals full.")
    hits = store.search_articles("gaza")
    assert [h.alert_id for h in hits] == [often, once]
    assert hits[0].rank > hits[1].rank


def test_snippet_is_cut_around_the_matches(store: Store, make_alert: Any) -> None:
    filler = " ".join(f"word{i}" for i in range(80))
    make_alert(title="Long", text=f"{filler} Des Palestiniens déplacés à Rafah. {filler}")
    (hit,) = store.search_articles("deplaces rafah")
    text = hit.snippet_text
    assert text.startswith("…") and text.endswith("…") and len(text.split()) <= 40
    assert "<mark>déplacés</mark> à <mark>Rafah</mark>" in hit.snippet_html


@pytest.mark.postgres_only("the GIN expression index is PostgreSQL's")
def test_postgresql_search_walks_the_gin_index(store: Store, corpus: dict[str, int]) -> None:
    from sqlalchemy import select, text

    from pipeline.store.exports import fts_match
    from pipeline.store.schema import Article

    with store.engine.connect() as conn:
        query = select(Article.id).where(fts_match('"khan younes" OR gaza', "postgresql"))
        sql = str(query.compile(conn, compile_kwargs={"literal_binds": True}))
        conn.exec_driver_sql("SET enable_seqscan = off")  # a handful of rows: make the choice visible
        plan = "\n".join(row[0] for row in conn.execute(text("EXPLAIN " + sql)))
        assert len(conn.execute(text(sql)).all()) == 2  # the English and the French article
    assert "ix_articles_fts" in plan


def test_cli_search(settings: Settings, corpus: dict[str, int], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDIAWATCH_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("MEDIAWATCH_DATABASE_URL", settings.db_url)
    runner = CliRunner()
    base: list[str] = []
    res = runner.invoke(main, [*base, "search", "deplaces", "--format", "json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert [r["alert_id"] for r in rows] == [corpus["fr"]]
    assert "<mark>déplacés</mark>" in rows[0]["snippet_html"]
    res = runner.invoke(main, [*base, "search", "gaza", "--language", "fr"])
    assert res.exit_code == 0 and "[déplacés]" not in res.output and "Gaza" in res.output
    res = runner.invoke(main, [*base, "search", " "])
    assert res.exit_code == 2 and "query" in res.output
    res = runner.invoke(main, [*base, "search", "gaza", "--category", "nope"])
    assert res.exit_code == 2 and "--category" in res.output


@pytest.fixture
def client(settings: Settings, store: Store) -> Iterator[TestClient]:
    with TestClient(create_app(settings, store), base_url="https://testserver") as c:
        yield c


def test_web_search_escapes_snippets(client: TestClient, sign_in: Any, make_alert: Any) -> None:
    make_alert(title="<b>Gaza</b>", text="Gaza <script>alert(1)</script> Five Palestinians died.")
    sign_in(client, "analyst")
    page = client.get("/search", params={"q": "script gaza"})
    assert page.status_code == 200
    assert "<script>alert(1)" not in page.text
    assert "&lt;<mark>script</mark>&gt;" in page.text
    assert "&lt;b&gt;Gaza&lt;/b&gt;" in page.text
    api = client.get("/api/search", params={"q": "script", "language": "en"})
    assert api.status_code == 200
    assert "&lt;<mark>script</mark>&gt;" in api.json()[0]["snippet_html"]
    assert client.get("/search", params={"q": 'NEAR("'}).status_code == 200
    assert client.get("/api/search", params={"q": " "}).status_code == 400
    assert client.get("/search").status_code == 200


def test_web_search_is_for_analysts(client: TestClient, sign_in: Any) -> None:
    sign_in(client, "responder")
    assert client.get("/search", params={"q": "gaza"}).status_code == 403
    assert client.get("/api/search", params={"q": "gaza"}).status_code == 403
