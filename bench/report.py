"""Coverage report over a large database: ``mediawatch report``'s code path
(``pipeline.coverage.generate``, HTML with its five charts) against a bare reference in the same run.

    .venv/bin/python bench/report.py [--quick] [--db PATH] [--keep]

The database is bench/export.py's: ``bench/web_seed.py``'s 1,000,000 articles and 100,000
alerts (``--quick``: 100,000 and 10,000), migrated, every article given a score (a third of
them relevant). Relevant scores without stored report counts (``scores.facts``, which the
scorer writes) get synthetic ones, as the scorer would have left them. The report covers the
whole seeded period, all outlets.

The reference is a bare ``sqlite3`` GROUP BY of the same rows: articles joined to their latest
score, counted per outlet and day with the relevant ones and one category: what any report
must at least read. Figures: seconds, peak RSS (``/proc/self/status`` VmHWM) and the report's
ratio to the reference; the target is <= 60 s for 1,000,000 articles.

Why the counts are stored: with ``--real-texts``, the casualty-and-quote counting that a report
would otherwise do for every relevant article is timed on the real war coverage of
``../shared/data`` (bench/rules.py's English corpus), and projected over the relevant articles.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from export import FULL, QUICK, _peak_mb, prepare  # noqa: E402

TARGET_SECONDS = 60.0

FILL_FACTS = """
UPDATE scores SET facts = json_object(
    'pal_sentences', id % 5, 'pal_agentless', id % 3, 'isr_sentences', id % 4, 'isr_agentless', id % 2,
    'quotes_israeli', id % 3, 'quotes_palestinian', id % 2, 'quotes_independent', id % 2,
    'quotes_other', 0)
WHERE relevant AND facts IS NULL
"""

REFERENCE_SQL = """
SELECT a.outlet_id, date(a.published_at), count(*), sum(s.relevant),
       sum(CASE WHEN s.relevant AND json_extract(s.categories, '$.agentless_casualties') >= 0.5
                THEN 1 ELSE 0 END)
FROM articles a
LEFT JOIN (SELECT article_id, max(id) AS score_id FROM scores GROUP BY article_id) l
       ON l.article_id = a.id
LEFT JOIN scores s ON s.id = l.score_id
WHERE a.published_at >= ? AND a.published_at < ?
GROUP BY a.outlet_id, date(a.published_at)
"""


def period(db: Path) -> tuple[datetime, datetime]:
    con = sqlite3.connect(str(db))
    lo, hi = con.execute("SELECT min(published_at), max(published_at) FROM articles").fetchone()
    con.close()
    start = datetime.fromisoformat(lo[:10]).replace(tzinfo=UTC)
    return start, datetime.fromisoformat(hi[:10]).replace(tzinfo=UTC) + timedelta(days=1)


def child(kind: str, db: Path, out: Path) -> dict[str, Any]:
    """One report (or the reference) in this fresh process; returns its figures."""
    start, end = period(db)
    if kind == "reference":
        t0 = time.perf_counter()
        con = sqlite3.connect(str(db))
        bounds = (start.strftime("%Y-%m-%d %H:%M:%S"), end.strftime("%Y-%m-%d %H:%M:%S"))
        rows = con.execute(REFERENCE_SQL, bounds).fetchall()
        con.close()
        articles = sum(r[2] for r in rows)
    else:
        from pipeline.coverage import generate
        from pipeline.store import Store

        store = Store.open(f"sqlite:///{db}")
        t0 = time.perf_counter()  # the report, not the migration check
        data = generate(store, start, end, out)
        store.close()
        articles = data.articles
    seconds = time.perf_counter() - t0
    return {
        "articles": articles,
        "seconds": round(seconds, 2),
        "peak_rss_mb": _peak_mb(),
        "file_kb": round(out.stat().st_size / 1e3, 1) if out.exists() else None,
    }


def run_child(kind: str, db: Path, out: Path) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", kind, "--db", str(db), "--out", str(out)]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout)
    out.unlink(missing_ok=True)
    return result


def real_text_cost(relevant: int) -> dict[str, Any]:
    """Counting casualty sentences and quotes afresh, per real article, projected over *relevant*."""
    from rules import english_docs

    from pipeline import casualty
    from pipeline.facts import article_facts

    docs = english_docs(None)
    casualty.get_model()
    t0 = time.perf_counter()
    for title, text, language in docs:
        article_facts(title, text, language)
    per = (time.perf_counter() - t0) / len(docs)
    return {
        "docs": len(docs),
        "ms_per_article": round(per * 1000, 3),
        "projected_seconds_without_stored_counts": round(per * relevant, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help=f"{QUICK:,} articles instead of {FULL:,}")
    ap.add_argument("--db", type=Path, help="a seeded database to reuse (it gets missing scores)")
    ap.add_argument("--keep", action="store_true", help="keep the seeded database (its path is printed)")
    ap.add_argument("--real-texts", action="store_true", help="also time counting on real texts")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.db, args.out)))
        return
    n = QUICK if args.quick else FULL
    work = Path(tempfile.mkdtemp(prefix="mw-bench-report-"))
    db, info = prepare(args.db, n, work)
    con = sqlite3.connect(str(db))
    with con:
        info["facts_filled"] = con.execute(FILL_FACTS).rowcount
    relevant = con.execute("SELECT count(*) FROM scores WHERE relevant").fetchone()[0]
    con.close()
    results: dict[str, Any] = {"database": {"path": str(db), "relevant_scores": relevant, **info}}
    for kind in ("reference", "report"):
        print(f"{kind} ...", file=sys.stderr)
        results[kind] = run_child(kind, db, work / "report.html")
    results["report"]["x_reference"] = round(
        results["report"]["seconds"] / (results["reference"]["seconds"] or 1e-9), 2
    )
    scale = FULL / max(1, results["report"]["articles"])
    results["targets"] = {
        "seconds_max": TARGET_SECONDS,
        "seconds_at_1m": round(results["report"]["seconds"] * scale, 1),
        "seconds_ok": results["report"]["seconds"] * scale <= TARGET_SECONDS,
    }
    if args.real_texts:
        results["counting_at_report_time"] = real_text_cost(relevant)
    results["cpu"] = os.cpu_count()
    print(json.dumps(results, indent=1))
    if args.db is None and not args.keep:
        for p in work.iterdir():
            p.unlink()
        work.rmdir()
    elif args.keep:
        print(f"kept {db}", file=sys.stderr)


if __name__ == "__main__":
    main()
