"""Exports on the web app: analysts only, every format downloaded and read back by its own reader,
the CLI's filters (full-text query included), formula cells neutralised, 422 naming the field."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pipeline.exports import DICTIONARY
from pipeline.settings import Settings
from pipeline.store import Store
from pipeline.web import create_app

FR_TEXT = "Des milliers de Palestiniens déplacés ont fui Khan Younès mardi."


@pytest.fixture
def client(settings: Settings, store: Store) -> Iterator[TestClient]:
    with TestClient(create_app(settings, store), base_url="https://testserver") as c:
        yield c


@pytest.fixture
def seeded(make_alert: Callable[..., int]) -> list[int]:
    return [
        make_alert(title="Strike on Gaza school", severity=0.9),
        make_alert(title="Exode", text=FR_TEXT, language="fr", outlet="courrier-du-fleuve", severity=0.4),
        make_alert(title='=HYPERLINK("http://evil.example","x")', text="Budget vote.", severity=0.6),
    ]


def _csv(body: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body)))


def test_responders_and_strangers_cannot_export(client: TestClient, sign_in: Any) -> None:
    assert client.get("/exports/download", headers={"Accept": "application/json"}).status_code == 401
    sign_in(client, "responder")
    assert client.get("/exports").status_code == 403
    assert client.get("/exports/download").status_code == 403
    assert 'href="/exports"' not in client.get("/alerts").text


def test_page_has_the_form_and_the_nav_link(client: TestClient, sign_in: Any) -> None:
    sign_in(client, "analyst")
    page = client.get("/exports")
    assert page.status_code == 200
    assert 'action="/exports/download"' in page.text and 'name="q"' in page.text
    assert 'href="/exports"' in page.text


def test_csv_download_equals_the_database(
    client: TestClient, sign_in: Any, store: Store, seeded: list[int]
) -> None:
    sign_in(client, "analyst")
    r = client.get("/exports/download", params={"dataset": "articles", "format": "csv"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    disposition = r.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="mediawatch-articles-') and disposition.endswith(
        '.csv"'
    )
    rows = _csv(r.text)
    assert list(rows[0]) == [c.name for c in DICTIONARY["articles"]]
    stored = list(store.export_articles())
    assert [int(x["article_id"]) for x in rows] == [s["article_id"] for s in stored]
    assert rows[0]["title"] == "Strike on Gaza school" and float(rows[0]["severity"]) == 0.9
    assert rows[1]["language"] == "fr" and rows[1]["outlet"] == "courrier-du-fleuve"
    assert rows[2]["title"] == '\'=HYPERLINK("http://evil.example","x")'  # neutralised


def test_jsonl_download_with_filters_and_query(client: TestClient, sign_in: Any, seeded: list[int]) -> None:
    sign_in(client, "analyst")

    def titles(**params: Any) -> list[str]:
        r = client.get("/exports/download", params={"format": "jsonl", **params})
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("application/x-ndjson")
        return [json.loads(line)["title"] for line in r.text.splitlines()]

    assert titles(q="deplaces") == ["Exode"]  # accents ignored
    assert titles(q="KHAN YOUNÈS", language="fr") == ["Exode"]
    assert titles(q="gaza") == ["Strike on Gaza school"]
    assert titles(q="school OR budget") == ["Strike on Gaza school", '=HYPERLINK("http://evil.example","x")']
    assert titles(min_score="0.5", outlet="maple-ledger") == [
        "Strike on Gaza school",
        '=HYPERLINK("http://evil.example","x")',
    ]
    assert titles(dataset="alerts", language="fr", text="none") == ["Exode"]
    assert titles(q="", language="en", alert_status="new", category="agentless_casualties") == [
        "Strike on Gaza school",
        '=HYPERLINK("http://evil.example","x")',
    ]


def test_parquet_and_xlsx_downloads(client: TestClient, sign_in: Any, seeded: list[int]) -> None:
    import pyarrow.parquet as pq
    from openpyxl import load_workbook

    sign_in(client, "analyst")
    r = client.get("/exports/download", params={"format": "parquet", "q": "exode"})
    assert r.status_code == 200 and r.headers["content-disposition"].endswith('.parquet"')
    assert pq.read_table(io.BytesIO(r.content)).to_pylist()[0]["title"] == "Exode"
    r = client.get("/exports/download", params={"format": "xlsx", "dataset": "alerts"})
    assert r.status_code == 200 and r.headers["content-disposition"].endswith('.xlsx"')
    ws = load_workbook(io.BytesIO(r.content)).active
    assert ws is not None
    values = list(ws.iter_rows(values_only=True))
    assert len(values) == 4 and values[3][values[0].index("title")].startswith("'=HYPERLINK")
    assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"dataset": "users"}, "dataset"),
        ({"format": "docx"}, "format"),
        ({"from": "2024-13-45"}, "from"),
        ({"to": "yesterday"}, "to"),
        ({"language": "de"}, "language"),
        ({"category": "nope"}, "category"),
        ({"min_score": "high"}, "min_score"),
        ({"alert_status": "lost"}, "alert_status"),
        ({"text": "some"}, "text"),
        ({"outlet": "nowhere"}, "outlet"),
        ({"q": "x" * 501}, "q"),
    ],
)
def test_bad_input_is_422_naming_the_field(
    client: TestClient, sign_in: Any, seeded: list[int], params: dict[str, str], field: str
) -> None:
    sign_in(client, "analyst")
    r = client.get("/exports/download", params=params, headers={"Accept": "application/json"})
    assert r.status_code == 422
    assert field in json.dumps(r.json()["detail"])
    if field != "q":
        assert r.json()["detail"].startswith(f"{field}:")
