"""Feeds per second: MediaWatch's parse_feed against bare feedparser on the same real feed files.

    .venv/bin/python bench/feedparse.py [--repeat 5] [--data ../shared/data/feeds]

Times, in the same run and interleaved, bare ``feedparser.parse(body)`` with default options, our
``parse_feed`` (feedparser without sanitising or URI resolution, plus our normalisation), and
feedparser alone with each option switched off. Medians over the repeats. Also checks that for
every feed our entries equal the ones ``feed_entries`` builds from the bare-defaults parse.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import feedparser  # noqa: E402

from pipeline.entries import feed_entries, parse_feed  # noqa: E402
from pipeline.records import Entry  # noqa: E402

DATA = ROOT.parent / "shared/data/feeds"
FEED_SUFFIXES = {".xml", ".rss", ".atom", ".rdf"}
TARGET_SPEEDUP = 1.4
COMPARED = ("guid", "url", "title", "published", "date_flagged", "authors", "summary", "language")
Feed = tuple[str, str, bytes]  # name, base URL, body
Variant = Callable[[Feed], object]


def _load(data: Path) -> list[Feed]:
    files = sorted(p for p in data.rglob("*") if p.suffix.lower() in FEED_SUFFIXES and p.is_file())
    return [
        (str(p.relative_to(data)), f"https://feeds.invalid/{p.relative_to(data)}", p.read_bytes())
        for p in files
    ]


def _key(entry: Entry) -> tuple[object, ...]:
    return tuple(getattr(entry, name) for name in COMPARED)


def _mismatches(feeds: list[Feed], fetched_at: datetime) -> tuple[int, list[str]]:
    """Items, and the feeds whose entries differ from the ones built from a bare-defaults parse."""
    items, differ = 0, []
    for name, base, body in feeds:
        ours = [_key(e) for e in parse_feed(body, base, fetched_at).entries]
        reference = [_key(e) for e in feed_entries(feedparser.parse(body), base, fetched_at)]
        items += len(ours)
        if ours != reference:
            differ.append(name)
    return items, differ


def _timings(variants: dict[str, Variant], feeds: list[Feed], repeat: int) -> dict[str, float]:
    """Median feeds per second of each variant; the variants take turns within each repeat."""
    runs: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeat):
        for name, fn in variants.items():
            start = time.perf_counter()
            for feed in feeds:
                fn(feed)
            runs[name].append(len(feeds) / (time.perf_counter() - start))
    return {name: statistics.median(values) for name, values in runs.items()}


def measure(data: Path = DATA, repeat: int = 5) -> dict[str, object]:
    """Everything this benchmark reports, as a dict (bench/poll.py includes it in its own JSON)."""
    feeds = _load(data)
    if not feeds:
        sys.exit(f"bench/feedparse.py: no feed files under {data}")
    fetched_at = datetime.now(UTC)
    variants: dict[str, Variant] = {
        "bare_defaults": lambda f: feedparser.parse(f[2]),
        "ours": lambda f: parse_feed(f[2], f[1], fetched_at),
        "feedparser_sanitize_html_off": lambda f: feedparser.parse(f[2], sanitize_html=False),
        "feedparser_resolve_relative_uris_off": lambda f: feedparser.parse(f[2], resolve_relative_uris=False),
        "feedparser_both_off": lambda f: feedparser.parse(
            f[2], sanitize_html=False, resolve_relative_uris=False
        ),
    }
    for fn in variants.values():  # warm imports and regex caches
        fn(feeds[0])
    items, differ = _mismatches(feeds, fetched_at)
    rates = _timings(variants, feeds, repeat)
    bare, ours = rates["bare_defaults"], rates["ours"]
    speedup = ours / bare
    return {
        "feeds": len(feeds),
        "items": items,
        "repeat": repeat,
        "bare_feeds_per_s": round(bare, 1),
        "ours_feeds_per_s": round(ours, 1),
        "speedup": round(speedup, 2),
        "target_speedup": TARGET_SPEEDUP,
        "identical_items": not differ,
        "compared_fields": list(COMPARED),
        "mismatched_feeds": len(differ),
        "first_mismatches": differ[:5],
        "meets_target": speedup >= TARGET_SPEEDUP and not differ,
        "feedparser_only_feeds_per_s": {
            name.removeprefix("feedparser_"): round(rate, 1) for name, rate in rates.items() if name != "ours"
        },
        "feedparser_only_speedup": {
            name.removeprefix("feedparser_"): round(rate / bare, 2)
            for name, rate in rates.items()
            if name.startswith("feedparser_")
        },
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    print(json.dumps(measure(args.data, args.repeat), indent=2))


if __name__ == "__main__":
    main()
