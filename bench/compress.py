"""Compressing raw pages: ``pipeline.records.compress_page`` (ISA-L's gzip at level 1, in the
worker processes of the embedded cycle, for every page kept as evidence) against the standard
library's gzip at levels 1 and 6, on the same pages in the same run.

    .venv/bin/python bench/compress.py [--rounds 5]

Pages: the real article pages of ``../shared/data/extraction`` (read, never written anywhere),
and 60 pages of ``bench/scale.py``'s corpus (its 45 KB skeleton around an article). Figures per
set: milliseconds a page and compression ratio for each, and ``compress_page``'s speed over the
standard library's level 1 (target >= 2: the page must not cost the worker more than the
extraction's own overheads). Every result is checked to decompress with the standard library to
the page. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from pipeline.records import compress_page  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "extraction" / "html"
SPEED_TARGET = 2.0


def real_pages() -> list[bytes]:
    pages = []
    for path in sorted(DATA.iterdir()):
        raw = path.read_bytes()
        pages.append(gzip.decompress(raw) if path.name.endswith(".gz") else raw)
    return pages


def bench_pages() -> list[bytes]:
    import scale

    with tempfile.TemporaryDirectory() as tmp:
        scale.write_corpus(Path(tmp), 60, 8000)
        return [p.read_bytes() for p in sorted((Path(tmp) / "a").iterdir())]


def measure(pack: Callable[[bytes], bytes], pages: list[bytes], rounds: int) -> dict[str, float]:
    packed = [pack(p) for p in pages]
    assert all(gzip.decompress(z) == p for z, p in zip(packed, pages, strict=True))
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for page in pages:
            pack(page)
        best = min(best, time.perf_counter() - start)
    return {
        "ms_per_page": round(best / len(pages) * 1000, 3),
        "ratio": round(sum(map(len, pages)) / sum(map(len, packed)), 2),
    }


def main() -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="timed passes; the fastest counts")
    args = parser.parse_args()
    ways: dict[str, Callable[[bytes], bytes]] = {
        "compress_page": lambda p: compress_page(p)[0],
        "stdlib_gzip_1": lambda p: gzip.compress(p, 1, mtime=0),
        "stdlib_gzip_6": lambda p: gzip.compress(p, 6, mtime=0),
    }
    result: dict[str, Any] = {}
    for name, pages in (("real", real_pages()), ("bench", bench_pages())):
        figures = {way: measure(pack, pages, args.rounds) for way, pack in ways.items()}
        speedup = figures["stdlib_gzip_1"]["ms_per_page"] / figures["compress_page"]["ms_per_page"]
        result[name] = {
            "pages": len(pages),
            "mean_kb": round(sum(map(len, pages)) / len(pages) / 1000, 1),
            **figures,
            "speedup_over_stdlib_1": round(speedup, 2),
        }
    result["target_speedup"] = SPEED_TARGET
    speedups = [result[k]["speedup_over_stdlib_1"] for k in ("real", "bench")]
    result["meets_target"] = all(s >= SPEED_TARGET for s in speedups)
    return result


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
