"""`mediawatch report`: sections with numbers, EN and FR, an empty period, escaping, totals that
reconcile with `mediawatch export`, the HTML in headless Chromium (charts visible), and the PDF."""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from fastapi.testclient import TestClient

from pipeline.cli import main
from pipeline.coverage import CHROMIUM, build, render_html
from pipeline.settings import Settings
from pipeline.store import Store
from pipeline.store.users import UserView

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "test-artifacts" / "screenshots"
DAY1 = datetime(2024, 10, 1, 12, tzinfo=UTC)
DAY2 = datetime(2024, 10, 9, 12, tzinfo=UTC)
OUTSIDE = datetime(2024, 11, 20, 12, tzinfo=UTC)
START, END = datetime(2024, 10, 1, tzinfo=UTC), datetime(2024, 11, 1, tzinfo=UTC)
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
TEXT = (
    "Five Palestinians were killed in Gaza on Tuesday. "
    "Two Israeli soldiers were killed by Hamas fighters near the border. "
    "Israeli army spokesman Daniel Hagari said the strike targeted militants."
)


def _user(store: Store, email: str, role: str) -> UserView:
    user = store.user(store.create_user(email, role, None))
    assert user is not None
    return user


@pytest.fixture
def seeded(store: Store, make_alert: Callable[..., int]) -> dict[str, Any]:
    a1 = make_alert(title="Strike in Gaza", text=TEXT, published=DAY1, severity=0.9)
    a2 = make_alert(
        title="Frappe à Gaza",
        text="Cinq Palestiniens ont été tués à Gaza. Deux Israéliens sont morts.",
        language="fr",
        outlet="courrier-du-fleuve",
        published=DAY2,
        severity=0.4,
    )
    a3 = make_alert(title=HOSTILE, text=TEXT, published=DAY2, severity=0.95)
    make_alert(title="Outside the period", published=OUTSIDE)
    ana, res = _user(store, "ana@example.org", "analyst"), _user(store, "res@example.org", "responder")
    store.approve(a1, ana.email)
    store.approve(a3, ana.email)
    assert store.claim(a1, res).ok
    assert store.claim(a3, res).ok
    store.save_letter(a1, res, "Subject", "My own words about the article.")
    store.mark_sent(a1, res)
    store.record_outcome(a1, "letter_published", res, note="Ran on Saturday")
    store.save_letter(a3, res, "Subject", "Other words about the article.")
    store.mark_sent(a3, res)
    store.record_outcome(a3, "correction", res)
    return {"alerts": [a1, a2, a3]}


def _cli(settings: Settings, *args: str) -> Result:
    env = {"MEDIAWATCH_DATABASE_URL": settings.db_url}
    return CliRunner().invoke(main, list(args), env=env)


def _report(settings: Settings, tmp_path: Path, *args: str, name: str = "r.html") -> str:
    out = tmp_path / name
    r = _cli(settings, "report", "--from", "2024-10-01", "--to", "2024-10-31", "--output", str(out), *args)
    assert r.exit_code == 0, r.output
    return out.read_text(encoding="utf-8")


def _cell(html: str, ident: str) -> str:
    m = re.search(rf'id="{ident}">([^<]*)<', html)
    assert m, ident
    return m.group(1)


def test_sections_with_numbers(seeded: dict[str, Any], settings: Settings, tmp_path: Path) -> None:
    html = _report(settings, tmp_path)
    for section in (
        "summary",
        "volume",
        "categories",
        "casualty",
        "sourcing",
        "funnel",
        "examples",
        "method",
    ):
        assert f'<section id="{section}">' in html
    assert _cell(html, "total-articles") == "3"
    assert _cell(html, "total-alerts") == "3"
    assert _cell(html, "funnel-raised") == "3"
    assert _cell(html, "funnel-opened") == "2"
    assert _cell(html, "funnel-claimed") == "2"
    assert _cell(html, "funnel-letters") == "2"
    assert 'class="outcome-letter_published">1<' in html
    assert 'class="outcome-correction">1<' in html
    assert html.count("<svg") == 5
    assert not re.search(r"(?:src|href)\s*=\s*[\"']?(?:https?:)?//|url\((?!#)", html)  # self-contained
    assert "<link" not in html and "<script" not in html.replace("&lt;script", "")
    assert "Coverage report" in html and "Who gets quoted" in html
    assert "<blockquote>Five Palestinians were killed" in html  # an evidence quote
    # categories by their names, as the web app shows them, not their ids
    assert '<th title="agentless_casualties">Deaths reported without saying who caused them</th>' in html
    assert "· Deaths reported without saying who caused them<br>" in html  # the examples


def test_numbers_per_outlet(seeded: dict[str, Any], store: Store) -> None:
    data = build(store, START, END)
    by = {o.outlet: o for o in data.outlets}
    assert by["maple-ledger"].articles == 2 and by["courrier-du-fleuve"].articles == 1
    assert by["maple-ledger"].relevant == 2
    assert by["maple-ledger"].categories["agentless_casualties"] == 2
    assert by["maple-ledger"].pal_sentences >= 2
    assert by["maple-ledger"].isr_sentences >= 2
    assert sum(by["maple-ledger"].weeks.values()) == 2
    assert [e.severity for e in data.examples] == [0.95, 0.9, 0.4]


def test_weeks_are_utc_weeks_and_categories_count_relevant_articles_only(store: Store) -> None:
    """Sunday 23:30 UTC belongs to the week before Monday 00:30 UTC, whatever the zone a time was
    stored from; a category the model gives an irrelevant article is not counted."""
    from datetime import date, timedelta, timezone

    from pipeline.config import load_feeds
    from pipeline.demo import DEMO_FEEDS
    from pipeline.records import Extracted, Score

    store.sync_outlets(load_feeds(DEMO_FEEDS, "http://127.0.0.1:1"))
    sunday = datetime(2024, 10, 13, 23, 30, tzinfo=UTC)
    toronto = timezone(timedelta(hours=-4))
    cases = [  # published, relevant
        (sunday, True),
        (datetime(2024, 10, 13, 20, 40, tzinfo=toronto), True),  # Monday 00:40 UTC
        (sunday - timedelta(days=1), False),
    ]
    for i, (published, relevant) in enumerate(cases):
        url = f"http://127.0.0.1:1/w{i}"
        doc = Extracted(url, f"Story {i}", "Some text.", language="en")
        aid = store.save_article("maple-ledger", url, doc, "", published, None)
        cats = {"loaded_language": 0.8}
        store.save_score(aid, Score(str(aid), relevant, 0.9 if relevant else 0.1, cats, False, None, 0.0))
    data = build(store, datetime(2024, 10, 1, tzinfo=UTC), datetime(2024, 11, 1, tzinfo=UTC))
    (o,) = data.outlets
    assert o.articles == 3 and o.relevant == 2
    assert dict(o.weeks) == {date(2024, 10, 7): 2, date(2024, 10, 14): 1}
    assert o.categories["loaded_language"] == 2


def test_stored_facts_are_summed_and_older_scores_counted_at_report_time(store: Store) -> None:
    """Scores keep the casualty and quote counts; the report adds them up in SQL. A score made
    before they were kept (facts None) is counted from its text, as the scorer would have."""
    from pipeline.config import load_feeds
    from pipeline.demo import DEMO_FEEDS
    from pipeline.facts import KEYS, article_facts
    from pipeline.records import Extracted, Score

    store.sync_outlets(load_feeds(DEMO_FEEDS, "http://127.0.0.1:1"))
    stored = dict.fromkeys(KEYS, 0) | {"pal_sentences": 7, "pal_agentless": 5, "quotes_israeli": 3}
    for i, facts in enumerate([stored, None]):
        url = f"http://127.0.0.1:1/f{i}"
        aid = store.save_article("maple-ledger", url, Extracted(url, "Gaza", TEXT), "", DAY1, None)
        store.save_score(aid, Score(str(aid), True, 0.9, {}, False, None, 0.0, facts=facts))
    (o,) = build(store, START, END).outlets
    fresh = article_facts("Gaza", TEXT, "en")
    assert fresh["pal_sentences"] >= 1 and fresh["isr_sentences"] >= 1  # the text has some
    assert o.pal_sentences == 7 + fresh["pal_sentences"]
    assert o.pal_agentless == 5 + fresh["pal_agentless"]
    assert o.isr_sentences == fresh["isr_sentences"]
    assert o.quotes["israeli"] == 3 + fresh["quotes_israeli"]


def test_french_report(seeded: dict[str, Any], settings: Settings, tmp_path: Path) -> None:
    html = _report(settings, tmp_path, "--language", "fr")
    assert '<html lang="fr">' in html
    assert "Rapport de couverture" in html and "Qui est cité" in html and "Méthode" in html
    assert "Lettre publiée" in html
    assert _cell(html, "total-articles") == "3"
    assert ">Des morts rapportées sans dire qui les a causées</th>" in html


def test_empty_period_is_a_clear_valid_report(
    seeded: dict[str, Any], settings: Settings, tmp_path: Path
) -> None:
    out = tmp_path / "empty.html"
    r = _cli(settings, "report", "--from", "2023-01-01", "--to", "2023-01-31", "-o", str(out))
    assert r.exit_code == 0, r.output
    html = out.read_text(encoding="utf-8")
    assert "No articles in this period." in html
    assert _cell(html, "total-articles") == "0" and _cell(html, "funnel-raised") == "0"
    assert html.rstrip().endswith("</html>")


def test_hostile_title_is_escaped(seeded: dict[str, Any], store: Store) -> None:
    html = render_html(build(store, START, END))
    assert HOSTILE not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "<img" not in html


def test_bad_options_are_one_line_errors(settings: Settings, tmp_path: Path) -> None:
    out = str(tmp_path / "x.html")
    for args, option in [
        (["--from", "2024-13-01", "--to", "2024-10-31"], "--from"),
        (["--from", "2024-10-01", "--to", "2024-10-31", "--format", "docx"], "--format"),
        (["--from", "2024-10-01", "--to", "2024-10-31", "--language", "de"], "--language"),
        (["--from", "2024-10-01", "--to", "2024-10-31", "--outlet", "nope"], "--outlet"),
    ]:
        r = _cli(settings, "report", *args, "-o", out)
        assert r.exit_code == 2, r.output
        assert option in r.output and len(r.output.strip().splitlines()) == 1


def test_totals_reconcile_with_the_export(
    seeded: dict[str, Any], settings: Settings, store: Store, tmp_path: Path
) -> None:
    for outlets in ([], ["maple-ledger"], ["maple-ledger", "courrier-du-fleuve"]):
        flags = [x for o in outlets for x in ("--outlet", o)]
        period = ["--from", "2024-10-01", "--to", "2024-10-31", *flags]
        rows: dict[str, list[dict[str, str]]] = {}
        for dataset in ("articles", "alerts", "letters", "outcomes"):
            out = tmp_path / f"{dataset}.csv"
            r = _cli(settings, "export", "--dataset", dataset, "--format", "csv", "-o", str(out), *period)
            assert r.exit_code == 0, r.output
            with out.open(newline="", encoding="utf-8") as fh:
                rows[dataset] = list(csv.DictReader(fh))
        data = build(store, START, END, outlets)
        assert {o.outlet: o.articles for o in data.outlets} == dict(
            Counter(r["outlet"] for r in rows["articles"])
        )
        assert {o.outlet: o.alerts for o in data.outlets if o.alerts} == dict(
            Counter(r["outlet"] for r in rows["alerts"])
        )
        assert data.articles == len(rows["articles"]) and data.alerts == len(rows["alerts"])
        assert data.letters == len(rows["letters"])
        assert data.outcomes == Counter(r["kind"] for r in rows["outcomes"])
        html = _report(settings, tmp_path, *flags)
        assert _cell(html, "total-articles") == str(len(rows["articles"]))
        assert _cell(html, "total-alerts") == str(len(rows["alerts"]))


chromium = pytest.mark.skipif(not CHROMIUM.is_file(), reason=f"{CHROMIUM} missing")


@chromium
def test_html_in_headless_chromium_shows_the_charts(
    seeded: dict[str, Any], settings: Settings, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    path = tmp_path / "report.html"
    path.write_text(_report(settings, tmp_path), encoding="utf-8")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(path.as_uri())
            page.screenshot(path=str(SHOTS / "coverage_report.png"), full_page=True)
            charts = page.locator(".chart svg")
            assert charts.count() == 5
            for i in range(5):
                box = charts.nth(i).bounding_box()
                assert box is not None and box["width"] > 100 and box["height"] > 100
                assert charts.nth(i).is_visible()
            assert page.locator("#total-articles").inner_text() == "3"
            assert requests == [path.as_uri()]  # nothing fetched beyond the file itself
        finally:
            browser.close()
    assert (SHOTS / "coverage_report.png").stat().st_size > 10_000


@chromium
def test_pdf(seeded: dict[str, Any], settings: Settings, tmp_path: Path) -> None:
    out = tmp_path / "r.pdf"
    r = _cli(
        settings, "report", "--from", "2024-10-01", "--to", "2024-10-31", "--format", "pdf", "-o", str(out)
    )
    assert r.exit_code == 0, r.output
    assert out.read_bytes().startswith(b"%PDF")


def test_pdf_without_chromium_is_a_one_line_error(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("pipeline.coverage.CHROMIUM", tmp_path / "no-chromium")
    r = _cli(
        settings,
        "report",
        "--from",
        "2024-10-01",
        "--to",
        "2024-10-31",
        "--format",
        "pdf",
        "-o",
        str(tmp_path / "r.pdf"),
    )
    assert r.exit_code == 2
    assert "no-chromium" in r.output and len(r.output.strip().splitlines()) == 1


@pytest.fixture
def client(settings: Settings, store: Store) -> Iterator[TestClient]:
    from pipeline.web import create_app

    with TestClient(create_app(settings, store), base_url="https://testserver") as c:
        yield c


def test_reports_page_generates_lists_and_serves(
    seeded: dict[str, Any], client: TestClient, sign_in: Any, settings: Settings
) -> None:
    assert client.get("/reports", follow_redirects=False).status_code in (303, 401)
    sign_in(client, "responder")
    assert client.get("/reports").status_code == 403
    client.cookies.clear()
    sign_in(client, "analyst")
    page = client.get("/reports")
    assert page.status_code == 200 and 'name="csrf_token"' in page.text
    csrf = client.headers.pop("X-CSRF-Token")
    form = {"from": "2024-10-01", "to": "2024-10-31", "language": "fr", "format": "html"}
    assert client.post("/reports", data=form, follow_redirects=False).status_code == 403  # no token
    r = client.post("/reports", data={**form, "csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303, r.text
    name = "coverage-2024-10-01-2024-10-31-fr.html"
    assert (settings.data_dir / "reports" / name).is_file()
    page = client.get("/reports")
    assert name in page.text
    got = client.get(f"/reports/{name}")
    assert got.status_code == 200
    assert got.headers["content-disposition"].startswith("attachment")
    assert "Rapport de couverture" in got.text and 'id="total-articles">3<' in got.text
    bad = client.post("/reports", data={**form, "to": "nope", "csrf_token": csrf})
    assert bad.status_code == 400 and "is not a date" in bad.text
    for evil in ("..%2F..%2Fsecret.html", ".hidden.html", "x.txt", "%2Fetc%2Fpasswd"):
        assert client.get(f"/reports/{evil}").status_code == 404
