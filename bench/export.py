"""Export of articles with their scores: ``mediawatch export``'s code path (``store.export_articles``
into ``pipeline.exports.export``) to CSV and to Parquet, against a bare reference in the same run.

    .venv/bin/python bench/export.py [--quick] [--db PATH] [--keep]

Each export runs in its own subprocess, so its peak RSS (``/proc/self/status`` VmHWM, else
``resource.getrusage``) is its own; seeding runs in another. The
reference is a bare ``sqlite3`` SELECT of the same rows (articles left-joined to their latest
score and their alert, text cut in SQL) written with ``csv.writer``: what any export must at
least pay. Figures: rows, seconds, rows/s, peak RSS (MB), file size; the ratio of each export's
time to the reference's; pass/fail against the targets (CSV: <= 60 s and <= 300 MB for
1,000,000 articles).

The database is ``bench/web_seed.py``'s (1,000,000 articles and 100,000 alerts; ``--quick``:
100,000 and 10,000), seeded into a temporary directory unless ``--db`` names one to reuse
(``Store.open`` migrates it to the head first). The seeder scores only alerted articles, so the
articles without a score get one (a plain ``INSERT ... SELECT``, model_version ``bench``) before
measuring: every exported row then carries a score.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_SECONDS = 60.0
TARGET_RSS_MB = 300.0
FULL, QUICK = 1_000_000, 100_000

REFERENCE_SQL = """
SELECT a.id, a.url, a.outlet_id, a.title, a.published_at, a.language, a.status, a.wire_agency,
       s.relevant, s.relevance, s.categories, s.severity, s.evidence,
       al.id, al.kind, al.status, substr(a.text, 1, 600)
FROM articles a
LEFT JOIN (SELECT article_id, max(id) AS score_id FROM scores GROUP BY article_id) l
       ON l.article_id = a.id
LEFT JOIN scores s ON s.id = l.score_id
LEFT JOIN alerts al ON al.article_id = a.id
ORDER BY a.id
"""

FILL_SCORES = """
INSERT INTO scores (article_id, model_version, content_hash, relevant, relevance, categories,
                    alert, kind, severity, evidence, created_at)
SELECT a.id, 'bench', '', (a.id % 3 = 0), (a.id % 97) / 97.0,
       json_object('agentless_casualties', (a.id % 89) / 89.0, 'loaded_language', (a.id % 83) / 83.0),
       0, NULL, (a.id % 71) / 71.0, '[]', a.first_seen_at
FROM articles a
WHERE NOT EXISTS (SELECT 1 FROM scores s WHERE s.article_id = a.id)
"""


def _peak_mb() -> float:
    """This process's peak RSS. getrusage's ru_maxrss survives fork and exec (a child starts with
    its parent's peak), so Linux's per-process VmHWM is preferred when there is one."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def child(kind: str, db: Path, out: Path) -> dict[str, Any]:
    """One export in this (fresh) process; returns its figures."""
    t0 = time.perf_counter()
    if kind == "reference":
        con = sqlite3.connect(str(db))
        with out.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            n = 0
            for n, row in enumerate(con.execute(REFERENCE_SQL), 1):  # noqa: B007
                writer.writerow(row)
        con.close()
    else:
        from pipeline.exports import export
        from pipeline.store import Store
        from pipeline.store.exports import ExportFilters

        store = Store.open(f"sqlite:///{db}")
        t0 = time.perf_counter()  # the export, not the migration check
        n = export(store.export_articles(ExportFilters(), "articles"), out, "articles", kind, "excerpt")
        store.close()
    seconds = time.perf_counter() - t0
    return {
        "rows": n,
        "seconds": round(seconds, 2),
        "rows_per_s": round(n / seconds) if seconds else None,
        "peak_rss_mb": _peak_mb(),
        "file_mb": round(out.stat().st_size / 1e6, 1),
    }


def run_child(kind: str, db: Path, out: Path) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", kind, "--db", str(db), "--out", str(out)]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout)
    out.unlink(missing_ok=True)
    return result


def prepare(db: Path | None, n: int, work: Path) -> tuple[Path, dict[str, Any]]:
    """The database to export (seeded when not given), migrated, every article scored."""
    from pipeline.store import Store

    info: dict[str, Any] = {}
    if db is None:
        db = work / "export.db"
        t0 = time.perf_counter()
        seeder = [sys.executable, str(ROOT / "bench/web_seed.py"), "--db", str(db)]
        subprocess.run(
            [*seeder, "--articles", str(n), "--alerts", str(n // 10)], check=True, stdout=sys.stderr
        )
        info["seed_seconds"] = round(time.perf_counter() - t0, 1)
    t0 = time.perf_counter()
    Store.open(f"sqlite:///{db}").close()
    info["migrate_seconds"] = round(time.perf_counter() - t0, 1)
    con = sqlite3.connect(str(db))
    t0 = time.perf_counter()
    with con:
        added = con.execute(FILL_SCORES).rowcount
    info["scores_added"] = added
    info["fill_scores_seconds"] = round(time.perf_counter() - t0, 1)
    info["articles"] = con.execute("SELECT count(*) FROM articles").fetchone()[0]
    info["scores"] = con.execute("SELECT count(*) FROM scores").fetchone()[0]
    info["alerts"] = con.execute("SELECT count(*) FROM alerts").fetchone()[0]
    con.close()
    return db, info


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help=f"{QUICK:,} articles instead of {FULL:,}")
    ap.add_argument("--db", type=Path, help="a seeded database to reuse (it gets missing scores)")
    ap.add_argument("--keep", action="store_true", help="keep the seeded database (its path is printed)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.db, args.out)))
        return
    n = QUICK if args.quick else FULL
    work = Path(tempfile.mkdtemp(prefix="mw-bench-export-"))
    db, info = prepare(args.db, n, work)
    results: dict[str, Any] = {"database": {"path": str(db), **info}}
    for kind in ("reference", "csv", "parquet"):
        print(f"{kind} ...", file=sys.stderr)
        results[kind] = run_child(kind, db, work / f"out.{'csv' if kind == 'reference' else kind}")
    ref = results["reference"]["seconds"] or 1e-9
    for kind in ("csv", "parquet"):
        results[kind]["x_reference"] = round(results[kind]["seconds"] / ref, 2)
    scale = FULL / max(1, results["csv"]["rows"])
    results["targets"] = {
        "csv_seconds_max": TARGET_SECONDS,
        "csv_peak_rss_mb_max": TARGET_RSS_MB,
        "csv_seconds_at_1m": round(results["csv"]["seconds"] * scale, 1),
        "csv_seconds_ok": results["csv"]["seconds"] * scale <= TARGET_SECONDS,
        "csv_rss_ok": results["csv"]["peak_rss_mb"] <= TARGET_RSS_MB,
    }
    results["cpu"] = os.cpu_count()
    print(json.dumps(results, indent=1))
    if args.db is None and not args.keep:
        for p in work.iterdir():
            p.unlink()
        work.rmdir()


if __name__ == "__main__":
    main()
