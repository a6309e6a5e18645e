"""Per-article cost of extract + score against bare trafilatura on the same pages.

    .venv/bin/python bench/cycle.py [--repeat 5]

Prints JSON: medians in seconds per article, their ratio, articles per second and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import trafilatura  # noqa: E402

from pipeline.extract import extract_html  # noqa: E402
from pipeline.orchestrate import build_scorer  # noqa: E402
from pipeline.records import ScoreInput  # noqa: E402
from pipeline.settings import Settings  # noqa: E402

SITE = ROOT / "pipeline/demo/site"


def _time(fn, pages: list[bytes], repeat: int) -> float:  # type: ignore[no-untyped-def]
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn(pages)
        runs.append((time.perf_counter() - start) / len(pages))
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    pages = [p.read_bytes() for p in sorted(SITE.glob("*/*/*/*.html"))]
    scorer = build_scorer(Settings(_env_file=None))  # type: ignore[call-arg]

    def bare(batch: list[bytes]) -> None:
        for raw in batch:
            trafilatura.extract(raw)

    def ours(batch: list[bytes]) -> None:
        docs = [extract_html(raw, source="bench") for raw in batch]
        scorer.score_many(
            [ScoreInput(str(i), d.title, d.text, language=d.language) for i, d in enumerate(docs)]
        )

    ours(pages[:2])  # warm caches (model, language identifier)
    reference = _time(bare, pages, args.repeat)
    pipeline = _time(ours, pages, args.repeat)
    print(
        json.dumps(
            {
                "pages": len(pages),
                "repeat": args.repeat,
                "bare_trafilatura_s_per_article": round(reference, 5),
                "extract_score_s_per_article": round(pipeline, 5),
                "ratio_to_bare_trafilatura": round(pipeline / reference, 3),
                "articles_per_second": round(1 / pipeline, 1),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
