"""Revision tracking against a local server whose page changes between fetches: versions, word
diffs, correction notes, the revisit schedule and candidate outcomes (pipeline/revisit.py,
orchestrate.revisit_articles, store/articles.py, `mediawatch article history`, the alert page)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select

from pipeline.cli import main
from pipeline.demo import DEMO_FEEDS
from pipeline.demo.server import SITE, LocalSite, Override
from pipeline.orchestrate import Pipeline, build, revisit_articles, run_cycle
from pipeline.revisit import compare
from pipeline.settings import Settings
from pipeline.store import Store
from pipeline.store.schema import Alert, Article, AuditEntry, Letter, Outcome
from pipeline.web import create_app

SLUG = "gaza-death-toll-israeli-soldiers-killed"
CORRECTION = (
    "<p>Correction: An earlier version of this article did not say who carried out the strikes. "
    "It has been updated.</p>"
)


@dataclass
class Watched:
    p: Pipeline
    store: Store
    site: LocalSite
    article: Article
    alert: Alert
    path: str


@pytest.fixture
def watched(settings: Settings, demo_site: LocalSite) -> Iterator[Watched]:
    settings.revisit_sample = 0.0
    store = Store.open(settings.db_url)
    p = build(settings, store, DEMO_FEEDS, base_url=demo_site.base_url)
    run_cycle(p)
    with store.session() as s:
        article, alert = s.execute(
            select(Article, Alert)
            .join(Alert, Alert.article_id == Article.id)
            .where(Article.url.contains(SLUG))
        ).one()
    path = "/" + article.url.split("/", 3)[3]
    yield Watched(p, store, demo_site, article, alert, path)
    store.close()


def edit_page(w: Watched, old: str, new: str, note: str = "") -> None:
    """Serve a changed copy of the demo page (the outlet edits its article)."""
    html = (SITE / w.path.lstrip("/")).read_text().replace("{base}", w.site.base_url)
    assert old in html
    html = html.replace(old, new).replace("</article>", f"{note}</article>")
    w.site.overrides[w.path] = Override(200, html.encode(), {"Content-Type": "text/html; charset=utf-8"})


def letter_sent(w: Watched, when: datetime) -> None:
    """What a responder reports from the letter editor (issue 6): the letter went out."""
    with w.store.sessions.begin() as s:
        s.execute(Letter.__table__.update().where(Letter.alert_id == w.alert.id).values(sent_at=when))


def step(w: Watched) -> tuple[int, datetime | None]:
    with w.store.session() as s:
        row = s.get_one(Article, w.article.id)
        return row.revisit_step, row.next_revisit_at


def test_alerted_articles_are_watched_on_the_schedule(watched: Watched) -> None:
    assert step(watched) == (0, watched.article.first_seen_at + timedelta(hours=1))
    with watched.store.session() as s:
        unwatched = s.scalars(
            select(Article).outerjoin(Alert, Alert.article_id == Article.id).where(Alert.id.is_(None))
        ).all()
    assert unwatched and all(a.next_revisit_at is None for a in unwatched)  # sample set to 0


def test_correction_after_a_letter_becomes_a_candidate_outcome(watched: Watched) -> None:
    w = watched
    first_seen = w.article.first_seen_at
    revisit_articles(w.p, first_seen + timedelta(minutes=59))
    assert step(w) == (0, first_seen + timedelta(hours=1))  # not due yet: nothing fetched

    revisit_articles(w.p, first_seen + timedelta(hours=1, minutes=1))  # unchanged page
    assert step(w) == (1, first_seen + timedelta(hours=6))
    assert len(w.store.versions(w.article.id)) == 1

    letter_sent(w, datetime.now(UTC) - timedelta(minutes=5))
    edit_page(w, "Israeli", "Israeli military", CORRECTION)
    revisit_articles(w.p, first_seen + timedelta(hours=6, minutes=1))
    assert step(w) == (2, first_seen + timedelta(hours=24))

    versions = w.store.versions(w.article.id)
    assert len(versions) == 2
    assert versions[1]["correction_note"] is True
    assert "{+military+}" in versions[1]["diff"] and "{+Correction: An earlier version" in versions[1]["diff"]
    with w.store.session() as s:
        outcome = s.scalars(select(Outcome)).one()
        audit = s.scalars(select(AuditEntry).where(AuditEntry.action == "candidate_outcome")).one()
    assert (outcome.alert_id, outcome.kind, outcome.confirmed) == (w.alert.id, "article_amended", False)
    assert outcome.version_id == versions[1]["id"]
    assert "a correction or editor's note was added" in outcome.note
    assert audit.object_id == str(w.alert.id) and audit.detail == {
        "version": versions[1]["id"],
        "outcome": outcome.id,
    }


def test_a_change_before_any_letter_is_a_version_but_no_outcome(watched: Watched) -> None:
    edit_page(watched, "Israeli", "Israeli military")
    revisit_articles(watched.p, watched.article.first_seen_at + timedelta(hours=2))
    assert len(watched.store.versions(watched.article.id)) == 2
    assert watched.store.alert_outcomes(watched.alert.id) == []


def test_schedule_ends_and_failed_fetches_move_it_on(watched: Watched) -> None:
    watched.site.overrides[watched.path] = Override(500, b"down")
    later = watched.article.first_seen_at + timedelta(days=31)
    for _ in range(6):
        revisit_articles(watched.p, later)
    assert step(watched) == (6, None)  # 1 h, 6 h, 1 d, 3 d, 7 d, 30 d: done
    assert len(watched.store.versions(watched.article.id)) == 1  # nothing lost, nothing invented


def test_history_command_and_alert_page_show_versions_and_diffs(
    watched: Watched, settings: Settings, monkeypatch: pytest.MonkeyPatch, sign_in: Any
) -> None:
    letter_sent(watched, datetime.now(UTC) - timedelta(minutes=5))
    edit_page(watched, "Israeli", "Israeli military", CORRECTION)
    revisit_articles(watched.p, watched.article.first_seen_at + timedelta(hours=2))

    monkeypatch.setenv("MEDIAWATCH_DATABASE_URL", settings.db_url)
    out = CliRunner().invoke(main, ["article", "history", str(watched.article.id)]).output
    assert out.startswith("version 1  ")
    assert "version 2  " in out and "[correction or editor's note added]" in out
    assert "{+military+}" in out
    missing = CliRunner().invoke(main, ["article", "history", "999"])
    assert missing.exit_code == 2 and "article 999: no such article" in missing.output

    with TestClient(create_app(settings, watched.store), base_url="https://testserver") as c:
        sign_in(c, "analyst")
        page = c.get(f"/alerts/{watched.alert.id}").text
    assert "<h2>Versions</h2>" in page and "<ins>military</ins>" in page
    assert 'article amended</strong> <span class="tag">to confirm</span>' in page


@pytest.mark.parametrize(
    ("old", "new", "note"),
    [
        (
            "Police said the march was calm.",
            "Police said the march was calm. Correction: it was Sunday.",
            True,
        ),
        ("La police a parlé.", "La police a parlé. Rectificatif : la marche a eu lieu dimanche.", True),
        ("Text.", "Text. Editor's note: this story has been updated.", True),
        ("Text.", "Text with one more fact.", False),
        ("Correction: x. Text.", "Correction: x. Text changed.", False),  # the note was already there
    ],
)
def test_correction_notes_are_recognised_in_english_and_french(old: str, new: str, note: bool) -> None:
    rev = compare("T", old, "T", new)
    assert rev.changed and rev.correction_note is note
