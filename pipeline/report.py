"""Exports for analysts. CSV here; cells that a spreadsheet would run as formulas are neutralised."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from .records import CATEGORIES

COLUMNS = [
    "article_id",
    "url",
    "outlet",
    "title",
    "published",
    "language",
    "status",
    "wire_agency",
    "relevant",
    "relevance",
    *[f"p_{c}" for c in CATEGORIES],
    "alert_id",
    "alert_kind",
    "alert_status",
    "severity",
    "evidence",
    "excerpt",
]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
EXCERPT_CHARS = 300


def neutralise(value: Any) -> Any:
    """Prefix text that starts like a formula with an apostrophe (OWASP CSV injection)."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def article_row(item: dict[str, Any]) -> dict[str, Any]:
    """One export row from the store's ``export_articles`` item."""
    a, s = item["article"], item["score"]
    cats = s.categories if s is not None else {}
    row: dict[str, Any] = {
        "article_id": a.id,
        "url": a.url,
        "outlet": a.outlet_id,
        "title": a.title,
        "published": a.published_at.isoformat() if a.published_at else "",
        "language": a.language or "",
        "status": a.status,
        "wire_agency": a.wire_agency or "",
        "relevant": "" if s is None else int(s.relevant),
        "relevance": "" if s is None else round(s.relevance, 4),
        "alert_id": item["alert_id"] or "",
        "alert_kind": item["alert_kind"] or "",
        "alert_status": item["alert_status"] or "",
        "severity": "" if s is None else round(s.severity, 4),
        "evidence": json.dumps([e["quote"] for e in s.evidence], ensure_ascii=False) if s else "[]",
        "excerpt": " ".join(a.text[:EXCERPT_CHARS].split()),
    }
    for c in CATEGORIES:
        row[f"p_{c}"] = round(cats[c], 4) if c in cats else ""
    return row


def write_csv(rows: Iterable[dict[str, Any]], out: IO[str]) -> int:
    writer = csv.DictWriter(out, fieldnames=COLUMNS, extrasaction="ignore")
    writer.writeheader()
    n = 0
    for row in rows:
        writer.writerow({k: neutralise(v) for k, v in row.items()})
        n += 1
    return n


def export_csv(items: Iterator[dict[str, Any]], path: Path) -> int:
    """Stream article rows to *path*; written to a temporary file first, then renamed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        n = write_csv((article_row(i) for i in items), fh)
    tmp.replace(path)
    return n
