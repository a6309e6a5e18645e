"""Article pages in a cycle: the canonical link, and pages that are not articles
(pipeline/orchestrate.py process_entries)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from pipeline.demo.server import LocalSite, Override
from pipeline.orchestrate import Pipeline, build, poll_sources, process_entries
from pipeline.settings import Settings
from pipeline.store import Store
from pipeline.store.schema import Article, Entry

BODY = " ".join(["The city council met on Tuesday to debate the new transit budget for the region."] * 12)


def page(title: str, canonical: str | None) -> bytes:
    link = f'<link rel="canonical" href="{canonical}">' if canonical else ""
    return (
        f"<html><head><title>{title}</title>{link}</head><body><article><h1>{title}</h1>"
        f"<p>{BODY}</p><p>{BODY}</p></article></body></html>"
    ).encode()


@pytest.fixture
def cycle(settings: Settings, local_site: LocalSite, tmp_path: Path) -> Iterator[tuple[Pipeline, LocalSite]]:
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(
        "outlets:\n  - id: city-paper\n    name: City Paper\n    language: en\n"
        f"    sources:\n      - url: {local_site.base_url}/feed.xml\n"
    )
    store = Store.open(settings.db_url)
    yield build(settings, store, feeds), local_site
    store.close()


def feed(site: LocalSite, links: list[str]) -> None:
    items = "".join(
        f"<item><guid>{i}</guid><link>{site.base_url}{link}</link><title>Transit budget {i}</title></item>"
        for i, link in enumerate(links)
    )
    (site.root / "feed.xml").write_text(
        f"<rss version='2.0'><channel><title>T</title>{items}</channel></rss>"
    )


def run(p: Pipeline) -> dict[str, tuple[str, str | None]]:
    poll_sources(p, datetime.now(UTC))
    process_entries(p)
    with p.store.session() as s:
        rows = s.execute(
            select(Entry.url, Entry.status, Article.url).outerjoin(Article, Article.id == Entry.article_id)
        )
        return {urlsplit(url).path: (status, article) for url, status, article in rows}


def test_canonical_link_on_the_same_site_names_the_article(cycle: tuple[Pipeline, LocalSite]) -> None:
    p, site = cycle
    canonical = f"{site.base_url}/news/transit-budget.html"
    site.overrides["/amp/transit-budget.html"] = Override(200, page("Transit budget", canonical))
    site.overrides["/news/transit-budget.html"] = Override(200, page("Transit budget", canonical))
    site.overrides["/elsewhere.html"] = Override(
        200, page("Other story", "https://other-paper.example/claimed")
    )
    feed(site, ["/amp/transit-budget.html", "/news/transit-budget.html", "/elsewhere.html"])
    rows = run(p)
    # both copies are one article, stored under its canonical URL (whichever page arrived first)
    copies = [rows["/amp/transit-budget.html"], rows["/news/transit-budget.html"]]
    assert sorted(copies) == [("duplicate", canonical), ("processed", canonical)]
    assert rows["/elsewhere.html"] == ("processed", f"{site.base_url}/elsewhere.html")  # no cross-site claim


@pytest.mark.parametrize(
    ("override", "status", "error"),
    [
        (Override(200, b"%PDF-1.7 binary", {"Content-Type": "application/pdf"}), "failed", "binary content"),
        (Override(200, b"", {"Content-Type": "text/html"}), "processed", None),
        (Override(404, b"gone"), "failed", "HTTP 404"),
    ],
    ids=["pdf", "empty-page", "404"],
)
def test_pages_that_are_not_articles_get_a_clear_status(
    cycle: tuple[Pipeline, LocalSite], override: Override, status: str, error: str | None
) -> None:
    p, site = cycle
    site.overrides["/story.html"] = override
    feed(site, ["/story.html"])
    run(p)
    with p.store.session() as s:
        entry = s.scalars(select(Entry)).one()
    assert entry.status == status, entry.error
    assert (entry.error or "").startswith(error or "") if error else entry.error is None
