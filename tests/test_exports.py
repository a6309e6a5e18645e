"""`mediawatch export`: each format read back by its own reader and compared to the database,
formula neutralisation, filters, text modes, and no partial file on error."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from pipeline.cli import main
from pipeline.exports import DICTIONARY, dictionary_markdown, export
from pipeline.settings import Settings
from pipeline.store import Store
from pipeline.store.exports import ExportFilters
from pipeline.store.users import UserView

ROOT = Path(__file__).resolve().parent.parent
LONG = "Five Palestinians died in Gaza on Tuesday. " * 20  # > 300 characters
DAY1 = datetime(2024, 10, 1, 12, tzinfo=UTC)
DAY2 = datetime(2024, 10, 5, 12, tzinfo=UTC)
INJECTIONS = ['=HYPERLINK("http://evil.example","x")', "+1", "@SUM(A1)", "-2"]


def _user(store: Store, email: str, role: str) -> UserView:
    user = store.user(store.create_user(email, role, None))
    assert user is not None
    return user


@pytest.fixture
def seeded(store: Store, make_alert: Callable[..., int]) -> dict[str, Any]:
    """Three alerts over two outlets, languages and days; one with a sent letter and an outcome."""
    a1 = make_alert(title="Strike in Gaza", text=LONG, published=DAY1, severity=0.9)
    a2 = make_alert(
        title="Frappe à Gaza",
        text="Cinq morts à Gaza.",
        language="fr",
        outlet="courrier-du-fleuve",
        published=DAY2,
        severity=0.4,
    )
    a3 = make_alert(title="Third", published=DAY2, severity=0.6)
    ana, res = _user(store, "ana@example.org", "analyst"), _user(store, "res@example.org", "responder")
    store.approve(a1, ana.email)
    assert store.claim(a1, res).ok
    store.save_letter(a1, res, "=cmd|' /C calc'!A0", "My own words about the article.")
    store.mark_sent(a1, res)
    store.record_outcome(a1, "letter_published", res, note="Ran on Saturday")
    return {"alerts": [a1, a2, a3]}


def _run(store: Store, tmp_path: Path, dataset: str, fmt: str, f: ExportFilters | None = None) -> Path:
    f = f or ExportFilters()
    out = tmp_path / f"{dataset}.{fmt}"
    export(store.export_articles(f, dataset), out, dataset, fmt, f.text)
    return out


def _read(path: Path, fmt: str) -> list[dict[str, Any]]:
    """Rows as read by each format's own reader, values as strings ('' for empty)."""
    if fmt == "csv":
        with path.open(newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))
    if fmt == "jsonl":
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    elif fmt == "parquet":
        import pyarrow.parquet as pq

        rows = pq.read_table(path).to_pylist()
    else:
        from openpyxl import load_workbook

        ws = load_workbook(path, read_only=True).active
        assert ws is not None
        values = list(ws.iter_rows(values_only=True))
        rows = [dict(zip(values[0], r, strict=True)) for r in values[1:]]
    return [{k: _s(v) for k, v in r.items()} for r in rows]


def _s(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return str(int(v))
    if isinstance(v, datetime):
        return (v if v.tzinfo else v.replace(tzinfo=UTC)).isoformat()
    if isinstance(v, float):
        return repr(v)
    return str(v)


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet", "xlsx"])
@pytest.mark.parametrize("dataset", ["articles", "alerts", "letters", "outcomes"])
def test_each_format_reads_back_equal_to_the_database(
    store: Store, seeded: dict[str, Any], tmp_path: Path, dataset: str, fmt: str
) -> None:
    rows = _read(_run(store, tmp_path, dataset, fmt), fmt)
    want = {"articles": 3, "alerts": 3, "letters": 1, "outcomes": 1}[dataset]
    assert len(rows) == want
    assert all(list(r) == [c.name for c in DICTIONARY[dataset]] for r in rows)
    if dataset == "articles":
        detail = store.alert_detail(seeded["alerts"][0])
        assert detail is not None
        first = rows[0]
        assert first["article_id"] == str(detail.alert.article_id)
        assert first["title"] == "Strike in Gaza" and first["outlet"] == "maple-ledger"
        assert first["published"] == DAY1.isoformat()
        assert first["relevant"] == "1" and float(first["severity"]) == 0.9
        assert float(first["p_agentless_casualties"]) == 0.9
        assert first["alert_status"] == "closed"
    if dataset == "alerts":
        assert [int(r["alert_id"]) for r in rows] == seeded["alerts"]
        assert rows[1]["language"] == "fr" and rows[1]["outlet"] == "courrier-du-fleuve"
        assert json.loads(rows[0]["categories"]) and rows[0]["letters_sent"] == "1"
    if dataset == "letters":
        assert rows[0]["body"] == "My own words about the article." and rows[0]["sent_at"]
    if dataset == "outcomes":
        assert rows[0]["kind"] == "letter_published" and rows[0]["note"] == "Ran on Saturday"


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_formula_cells_are_neutralised(
    store: Store, make_alert: Callable[..., int], tmp_path: Path, fmt: str
) -> None:
    for title in INJECTIONS:
        make_alert(title=title)
    rows = _read(_run(store, tmp_path, "articles", fmt), fmt)
    assert [r["title"] for r in rows] == ["'" + t for t in INJECTIONS]
    if fmt == "xlsx":
        from openpyxl import load_workbook

        ws = load_workbook(tmp_path / "articles.xlsx").active
        assert ws is not None
        assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)


def test_jsonl_and_parquet_keep_text_as_is(
    store: Store, make_alert: Callable[..., int], tmp_path: Path
) -> None:
    make_alert(title="=1+1")
    assert _read(_run(store, tmp_path, "articles", "jsonl"), "jsonl")[0]["title"] == "=1+1"
    assert _read(_run(store, tmp_path, "articles", "parquet"), "parquet")[0]["title"] == "=1+1"


def test_letters_subject_is_neutralised_in_csv(store: Store, seeded: dict[str, Any], tmp_path: Path) -> None:
    rows = _read(_run(store, tmp_path, "letters", "csv"), "csv")
    assert rows[0]["subject"] == "'=cmd|' /C calc'!A0"


@pytest.mark.parametrize(
    ("filters", "titles"),
    [
        (ExportFilters(start=datetime(2024, 10, 2, tzinfo=UTC)), ["Frappe à Gaza", "Third"]),
        (ExportFilters(end=datetime(2024, 10, 2, tzinfo=UTC)), ["Strike in Gaza"]),
        (ExportFilters(outlets=("courrier-du-fleuve",)), ["Frappe à Gaza"]),
        (
            ExportFilters(outlets=("courrier-du-fleuve", "maple-ledger")),
            ["Strike in Gaza", "Frappe à Gaza", "Third"],
        ),
        (ExportFilters(language="fr"), ["Frappe à Gaza"]),
        (ExportFilters(categories=("agentless_casualties",)), ["Strike in Gaza", "Frappe à Gaza", "Third"]),
        (ExportFilters(categories=("loaded_language",)), []),
        (ExportFilters(min_score=0.5), ["Strike in Gaza", "Third"]),
        (ExportFilters(alert_status="closed"), ["Strike in Gaza"]),
        (ExportFilters(alert_status="new", language="en"), ["Third"]),
    ],
)
@pytest.mark.parametrize("dataset", ["articles", "alerts"])
def test_filters(
    store: Store,
    seeded: dict[str, Any],
    tmp_path: Path,
    dataset: str,
    filters: ExportFilters,
    titles: list[str],
) -> None:
    rows = _read(_run(store, tmp_path, dataset, "jsonl", filters), "jsonl")
    assert [r["title"] for r in rows] == titles


def test_filters_apply_to_letters_and_outcomes(store: Store, seeded: dict[str, Any], tmp_path: Path) -> None:
    fr = ExportFilters(language="fr")
    assert _read(_run(store, tmp_path, "letters", "jsonl", fr), "jsonl") == []
    assert _read(_run(store, tmp_path, "outcomes", "jsonl", fr), "jsonl") == []
    assert (
        len(
            _read(
                _run(store, tmp_path, "outcomes", "jsonl", ExportFilters(outlets=("maple-ledger",))), "jsonl"
            )
        )
        == 1
    )


@pytest.mark.parametrize("dataset", ["articles", "alerts"])
def test_text_none_excerpt_full(store: Store, seeded: dict[str, Any], tmp_path: Path, dataset: str) -> None:
    def text(mode: str) -> str:
        return _read(_run(store, tmp_path, dataset, "csv", ExportFilters(text=mode)), "csv")[0]["text"]

    assert text("none") == ""
    assert text("excerpt") == " ".join(LONG.split())[:300] and len(text("excerpt")) == 300
    assert text("full") == LONG


def _cli(settings: Settings, *args: str) -> Result:
    env = {"MEDIAWATCH_DATABASE_URL": settings.db_url}
    return CliRunner().invoke(main, ["export", *args], env=env)


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--from", "2024-13-45"], "--from"),
        (["--to", "yesterday"], "--to"),
        (["--format", "docx"], "--format"),
        (["--dataset", "users"], "--dataset"),
        (["--language", "de"], "--language"),
        (["--category", "nope"], "--category"),
        (["--min-score", "high"], "--min-score"),
        (["--alert-status", "lost"], "--alert-status"),
        (["--text", "some"], "--text"),
        (["--outlet", "nowhere"], "--outlet"),
    ],
)
def test_bad_input_is_one_line_naming_the_option(
    settings: Settings, seeded: dict[str, Any], tmp_path: Path, args: list[str], option: str
) -> None:
    out = tmp_path / "out" / "x.csv"
    result = _cli(settings, *args, "--output", str(out))
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"mediawatch: error: {option}:"), result.output
    assert not out.exists()


def test_unwritable_output_is_an_error_and_leaves_nothing(
    settings: Settings, seeded: dict[str, Any], tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = _cli(settings, "--output", str(blocker / "x.csv"))
    assert result.exit_code == 2 and result.output.startswith("mediawatch: error: --output:")
    result = _cli(settings, "--output", str(tmp_path))
    assert result.exit_code == 2 and result.output.startswith("mediawatch: error: --output:")


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet", "xlsx"])
def test_a_failure_midway_leaves_no_partial_file(
    store: Store, seeded: dict[str, Any], tmp_path: Path, fmt: str
) -> None:
    def rows() -> Any:
        yield from store.export_articles()
        raise RuntimeError("database went away")

    out = tmp_path / f"a.{fmt}"
    out.write_text("previous good export")
    with pytest.raises(RuntimeError):
        export(rows(), out, "articles", fmt)
    assert out.read_text() == "previous good export"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".a.")) == []


def test_cli_writes_each_dataset_and_format(
    settings: Settings, seeded: dict[str, Any], tmp_path: Path
) -> None:
    out = tmp_path / "alerts.parquet"
    result = _cli(
        settings,
        "--dataset",
        "alerts",
        "--format",
        "parquet",
        "--from",
        "2024-10-05",
        "--to",
        "2024-10-05",
        "--outlet",
        "maple-ledger",
        "--min-score",
        "0.5",
        "--text",
        "none",
        "--output",
        str(out),
    )
    assert result.exit_code == 0, result.output
    assert "1 alerts written" in result.output
    assert [r["title"] for r in _read(out, "parquet")] == ["Third"]


def test_dictionary_is_printed_and_documented(settings: Settings) -> None:
    result = _cli(settings, "--dictionary")
    assert result.exit_code == 0 and "## letters" in result.output
    assert (ROOT / "docs" / "exports.md").read_text() == dictionary_markdown()


@pytest.mark.parametrize(
    ("query", "titles"),
    [
        ("gaza", ["Strike in Gaza", "Frappe à Gaza", "Third"]),
        ("strike", ["Strike in Gaza"]),
        ('"could not be verified"', ["Third"]),
        ('"verified could"', []),
        ("strike OR morts", ["Strike in Gaza", "Frappe à Gaza"]),
        ("frappé", ["Frappe à Gaza"]),  # accents ignored both ways
        ("CINQ MORTS", ["Frappe à Gaza"]),
        ("mor*", ["Frappe à Gaza"]),
        ("nothing-here", []),
        ("'); DROP TABLE articles; --", []),  # only quoted terms reach MATCH
        ("*** ::", []),  # only punctuation: nothing matches, no error
    ],
)
@pytest.mark.parametrize("dataset", ["articles", "alerts"])
def test_full_text_query_filter(
    store: Store, seeded: dict[str, Any], tmp_path: Path, dataset: str, query: str, titles: list[str]
) -> None:
    rows = _read(_run(store, tmp_path, dataset, "jsonl", ExportFilters(query=query)), "jsonl")
    assert [r["title"] for r in rows] == titles


def test_full_text_query_combines_with_filters_and_other_datasets(
    store: Store, seeded: dict[str, Any], tmp_path: Path
) -> None:
    both = ExportFilters(query="gaza", language="fr")
    assert [r["title"] for r in _read(_run(store, tmp_path, "articles", "csv", both), "csv")] == [
        "Frappe à Gaza"
    ]
    strike = ExportFilters(query="strike")
    assert len(_read(_run(store, tmp_path, "letters", "jsonl", strike), "jsonl")) == 1
    assert len(_read(_run(store, tmp_path, "outcomes", "jsonl", strike), "jsonl")) == 1
    assert _read(_run(store, tmp_path, "outcomes", "jsonl", ExportFilters(query="frappe")), "jsonl") == []


def test_cli_query(settings: Settings, seeded: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "q.csv"
    result = _cli(settings, "--query", "déplacés OR cinq", "--output", str(out))
    assert result.exit_code == 0, result.output
    assert "1 articles written" in result.output
    assert [r["title"] for r in _read(out, "csv")] == ["Frappe à Gaza"]


@pytest.mark.parametrize("query", ["", "   "])
def test_cli_empty_query_is_an_error_naming_the_option(
    settings: Settings, seeded: dict[str, Any], tmp_path: Path, query: str
) -> None:
    out = tmp_path / "q.csv"
    result = _cli(settings, "--query", query, "--output", str(out))
    assert result.exit_code == 2
    assert result.output.startswith("mediawatch: error: --query: give one or more words"), result.output
    assert not out.exists()


@pytest.mark.postgres_only("server-side cursors are PostgreSQL's; sqlite3 steps through its result anyway")
def test_exports_stream_through_a_server_side_cursor(store: Store) -> None:
    """More rows than one batch: the export reads them through a named cursor, a batch at a time,
    rather than the whole result into memory."""
    from sqlalchemy import insert, text

    from pipeline.config import load_feeds
    from pipeline.demo import DEMO_FEEDS
    from pipeline.store.exports import BATCH, stream
    from pipeline.store.schema import Article

    store.sync_outlets(load_feeds(DEMO_FEEDS, "http://127.0.0.1:9"))
    same = {"outlet_id": "maple-ledger", "content_hash": "h", "first_seen_at": DAY1, "last_fetched_at": DAY1}
    rows = [{"url": f"http://127.0.0.1:9/{i}", "title": f"A {i}", **same} for i in range(BATCH + 10)]
    with store.engine.begin() as conn:
        conn.execute(insert(Article), rows)
    with store.session() as s:
        streamed = stream(s, "articles", ExportFilters(text="none"))
        first = next(streamed)
        cursors = s.execute(text("SELECT count(*) FROM pg_cursors WHERE NOT is_holdable")).scalar()
        assert cursors == 1
        assert [first["article_id"], *(r["article_id"] for r in streamed)] == sorted(
            s.scalars(text("SELECT id FROM articles")).all()
        )
