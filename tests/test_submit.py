"""URLs submitted by a person take the feed items' path (mediawatch submit, pipeline/submit.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from pipeline.cli import main
from pipeline.config import load_feeds
from pipeline.demo import DEMO_FEEDS
from pipeline.demo.server import LocalSite
from pipeline.settings import Settings
from pipeline.store import Store
from pipeline.store.schema import AuditEntry, Entry, Source

ROOT = Path(__file__).resolve().parents[1]
STORY = "maple-ledger/2026/11/khan-younis-family-killed-airstrike.html"


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """The CLI on the test's database (a file under tmp_path/var, or PostgreSQL: see conftest)."""
    monkeypatch.setenv("MEDIAWATCH_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("MEDIAWATCH_DATABASE_URL", settings.db_url)
    return CliRunner()


def demo_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, site: LocalSite) -> Path:
    """The demo feeds file with the site's address, and local fetching allowed."""
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(DEMO_FEEDS.read_text().replace("{base}", site.base_url))
    monkeypatch.setenv("MEDIAWATCH_FEEDS_FILE", str(feeds))
    monkeypatch.setenv("MEDIAWATCH_ALLOW_PRIVATE_NETWORKS", "true")
    monkeypatch.setenv("MEDIAWATCH_PER_HOST_DELAY", "0")
    return feeds


def entries(settings: Settings) -> list[Entry]:
    store = Store.open(settings.db_url)
    with store.session() as s:
        rows = list(s.scalars(select(Entry)))
    store.close()
    return rows


def test_submit_queues_the_url_for_the_outlet_matched_on_its_host(cli: CliRunner, settings: Settings) -> None:
    url = "https://www.theglobeandmail.com/world/article-example-story/?utm_source=twitter"
    result = cli.invoke(main, ["submit", url, "--by", "analyst@example.org"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == (
        "queued entry 1 for globe-and-mail: https://www.theglobeandmail.com/world/article-example-story/"
    )
    again = cli.invoke(main, ["submit", url])
    assert again.output.startswith("already known as entry 1 for globe-and-mail")
    [row] = entries(settings)
    assert (row.status, row.submitted_by) == ("new", "analyst@example.org")
    store = Store.open(settings.db_url)
    with store.session() as s:
        audit = s.scalars(select(AuditEntry).where(AuditEntry.action == "url_submitted")).one()
        manual = s.scalars(select(Source).where(Source.kind == "manual")).one()
    store.close()
    assert audit.actor == "analyst@example.org" and audit.object_id == str(row.id)
    assert manual.outlet_id == "globe-and-mail"
    assert manual.listed_url == "manual:globe-and-mail"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ftp://example.org/a"], "URL 'ftp://example.org/a': must be an http:// or https:// address"),
        (
            ["https://unknown-paper.example/story"],
            "no outlet in feeds.yaml has the host unknown-paper.example",
        ),
        (["https://www.theglobeandmail.com/a", "--outlet", "nope"], "unknown outlet 'nope'"),
    ],
)
def test_bad_submissions_are_one_line_errors(
    cli: CliRunner, settings: Settings, args: list[str], message: str
) -> None:
    result = cli.invoke(main, ["submit", *args])
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1
    assert message in result.output
    assert entries(settings) == []


def test_shared_host_needs_the_outlet_unless_the_path_tells(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, demo_site: LocalSite
) -> None:
    demo_env(monkeypatch, tmp_path, demo_site)
    by_path = cli.invoke(main, ["submit", f"{demo_site.base_url}/{STORY}"])
    assert "for maple-ledger" in by_path.output, by_path.output
    ambiguous = cli.invoke(main, ["submit", f"{demo_site.base_url}/elsewhere/story.html"])
    assert ambiguous.exit_code == 2 and "belongs to several outlets" in ambiguous.output


def test_submit_now_fetches_scores_and_alerts(
    cli: CliRunner, tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch, demo_site: LocalSite
) -> None:
    demo_env(monkeypatch, tmp_path, demo_site)
    result = cli.invoke(
        main, ["submit", f"{demo_site.base_url}/{STORY}", "--outlet", "maple-ledger", "--now"]
    )
    assert result.exit_code == 0, result.output
    assert "processed: processed (article 1)" in result.output
    requested = [path for path, _h in demo_site.requests]
    assert requested == ["/robots.txt", f"/{STORY}"]  # only that page: no feed was polled
    store = Store.open(settings.db_url)
    [alert] = store.list_alerts()
    store.close()
    assert alert.kind == "praise"


def test_outlets_for_url_matches_domains_and_subdomains() -> None:
    feeds = load_feeds(ROOT / "feeds.yaml")
    assert [o.id for o in feeds.outlets_for_url("https://www.thestar.com/news/x.html")] == ["toronto-star"]
    assert [o.id for o in feeds.outlets_for_url("https://montreal.ctvnews.ca/x")] == ["ctv-news"]
    assert feeds.outlets_for_url("https://notthestar.com/x") == []
