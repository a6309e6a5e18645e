"""The poll stage against 1,000 simulated feeds on 50 hosts: wall time against the lower bound set
by latency, concurrency and politeness; a second, all-304 poll; peak RSS; and the real-feed parse
figure of bench/feedparse.py.

    .venv/bin/python bench/poll.py [--runs 1] [--seed 20261120] [--parse-repeat 5]

The publishers run in another process (bench/poll_server.py) so their CPU is not charged to the
poller. This process imports only what polling needs (no classifier, no trafilatura) and checks
it. Each run polls into a fresh SQLite file: a first poll (every feed answers 200 with 30 new
items), then a second one two days later when every source is due again and every feed answers
304. Prints one JSON object; with --runs N the top-level figures are medians over the runs.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from pipeline.config import FeedsConfig, Outlet, Source  # noqa: E402
from pipeline.fetch import Fetcher, policy_for  # noqa: E402
from pipeline.poll import Poller  # noqa: E402
from pipeline.settings import Settings  # noqa: E402
from pipeline.store import Store  # noqa: E402
from pipeline.store.schema import Entry  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import feedparse  # noqa: E402

SERVER = Path(__file__).resolve().parent / "poll_server.py"
HOSTS, FEEDS_PER_HOST, ITEMS = 50, 20, 30
LATENCY = (0.05, 0.5)  # seconds, uniform, fixed per feed, paid by every 200
CACHED_LATENCY = 0.01  # seconds for a 304 answered from the validator cache
WORKERS, PER_HOST, PER_HOST_DELAY = 16, 2, 0.1
SECOND_POLL_AFTER = timedelta(days=2)  # later than any source's next check (max 6 h + jitter)
TARGETS = {"ratio": 1.5, "second_over_first": 1 / 3, "peak_rss_mb": 300.0}
HEAVY = ("sklearn", "scipy", "torch", "trafilatura", "numpy")


def lower_bound(
    latencies: dict[str, list[float]], workers: int, per_host: int, delay: float
) -> dict[str, float]:
    """Shortest possible poll of these feeds: every request waits its latency, at most *workers*
    at once overall and *per_host* at once per host, and request starts to one host are at
    least *delay* apart (so its last one starts (n - 1) * delay after the first)."""
    terms = {
        "global_concurrency_s": sum(map(sum, latencies.values())) / workers,
        "per_host_concurrency_s": max(sum(lat) / per_host for lat in latencies.values()),
        "per_host_spacing_s": max((len(lat) - 1) * delay + min(lat) for lat in latencies.values()),
    }
    return {"lower_bound_s": max(terms.values()), **terms}


def _settings(folder: Path) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=folder,
        database_url=f"sqlite:///{folder / 'poll-bench.db'}",
        workers=WORKERS,
        per_host_connections=PER_HOST,
        per_host_delay=PER_HOST_DELAY,
        allow_private_networks=True,
    )


def _config(urls: list[str]) -> FeedsConfig:
    """One outlet per host, its feeds as sources."""
    by_host: dict[str, list[str]] = defaultdict(list)
    for url in urls:
        by_host[urlsplit(url).hostname or ""].append(url)
    return FeedsConfig(
        outlets=[
            Outlet(
                id=f"gazette-{i:02d}",
                name=f"Gazette {i:02d}",
                language="en",
                sources=[Source(url=u, interval_minutes=30) for u in feeds],
            )
            for i, feeds in enumerate(by_host.values())
        ]
    )


class Server:
    """bench/poll_server.py in a child process, driven over its stdin/stdout."""

    def __init__(self, seed: int) -> None:
        args = [sys.executable, str(SERVER), "--seed", str(seed), "--hosts", str(HOSTS)]
        args += ["--feeds-per-host", str(FEEDS_PER_HOST), "--items", str(ITEMS)]
        args += ["--min-latency", str(LATENCY[0]), "--max-latency", str(LATENCY[1])]
        args += ["--cached-latency", str(CACHED_LATENCY)]
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdin and self.proc.stdout
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"bench/poll.py: {SERVER.name} did not start (exit {self.proc.wait()})")
        self.plan: dict[str, Any] = json.loads(line)

    def stats(self) -> dict[str, Any]:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write("stats\n")
        self.proc.stdin.flush()
        return dict(json.loads(self.proc.stdout.readline()))

    def stop(self) -> None:
        assert self.proc.stdin
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def _entries(store: Store) -> int:
    with store.session() as s:
        return int(s.scalar(select(func.count()).select_from(Entry)) or 0)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _poll(poller: Poller, now: datetime, counts: Counter[str]) -> tuple[float, float]:
    """Wall seconds of one ``poll_due`` and the CPU seconds this process (all threads) spent."""
    counts.clear()
    start, cpu = time.perf_counter(), _cpu()
    poller.poll_due(now)
    return time.perf_counter() - start, _cpu() - cpu


def one_run(server: Server) -> dict[str, Any]:
    """Sync 1,000 sources into a fresh store, poll them all, then poll them all again (304s)."""
    counts: Counter[str] = Counter()
    with tempfile.TemporaryDirectory(prefix="poll-bench-") as tmp:
        settings = _settings(Path(tmp))
        store = Store.open(settings.db_url)
        store.sync_outlets(_config([url for url, _ in server.plan["feeds"]]))
        fetcher = Fetcher(policy_for(settings))
        poller = Poller(settings, store, fetcher, lambda key, n: counts.update({key: n}))
        now = datetime.now(UTC)
        server.stats()  # reset the server's counters
        first, first_cpu = _poll(poller, now, counts)
        first_counts, first_server, stored = dict(counts), server.stats(), _entries(store)
        second, second_cpu = _poll(poller, now + SECOND_POLL_AFTER, counts)
        second_counts, second_server = dict(counts), server.stats()
        new_in_second = _entries(store) - stored
        fetcher.close()
        store.close()
    return {
        "first_poll_s": round(first, 3),
        "second_poll_s": round(second, 3),
        "first_poll_cpu_s": round(first_cpu, 3),
        "second_poll_cpu_s": round(second_cpu, 3),
        "entries_stored": stored,
        "new_entries_second_poll": new_in_second,
        "not_modified": second_counts.get("not_modified", 0),
        "first_poll_counts": first_counts,
        "second_poll_counts": second_counts,
        "server_saw_first": first_server,
        "server_saw_second": second_server,
    }


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in runs))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=20261120)
    parser.add_argument("--parse-repeat", type=int, default=5)
    parser.add_argument("--data", type=Path, default=feedparse.DATA)
    args = parser.parse_args()

    server = Server(args.seed)
    try:
        runs = [one_run(server) for _ in range(args.runs)]
    finally:
        server.stop()
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    heavy = sorted({m.split(".")[0] for m in sys.modules} & set(HEAVY))

    latencies: dict[str, list[float]] = defaultdict(list)
    for url, latency in server.plan["feeds"]:
        latencies[urlsplit(url).netloc].append(latency)
    first_lb = lower_bound(latencies, WORKERS, PER_HOST, PER_HOST_DELAY)
    cached = {host: [CACHED_LATENCY] * len(lat) for host, lat in latencies.items()}
    second_lb = lower_bound(cached, WORKERS, PER_HOST, PER_HOST_DELAY)
    first, second = _median(runs, "first_poll_s"), _median(runs, "second_poll_s")
    ratio = first / first_lb["lower_bound_s"]
    parse = feedparse.measure(args.data, args.parse_repeat)  # after the polls: not in their RSS

    total_feeds = HOSTS * FEEDS_PER_HOST
    complete = all(
        r["entries_stored"] == total_feeds * ITEMS
        and r["new_entries_second_poll"] == 0
        and r["not_modified"] == total_feeds
        for r in runs
    )
    result = {
        "feeds": total_feeds,
        "hosts": HOSTS,
        "items_per_feed": ITEMS,
        "mean_feed_bytes": server.plan["mean_feed_bytes"],
        "runs": args.runs,
        "settings": {
            "workers": WORKERS,
            "per_host_connections": PER_HOST,
            "per_host_delay_s": PER_HOST_DELAY,
            "allow_private_networks": True,
            "respect_robots": "not used (feeds only)",
            "database": "fresh SQLite file in a temporary folder per run",
        },
        "server": {
            "process": "separate (bench/poll_server.py), one ThreadingHTTPServer per address, "
            "HTTP/1.1 keep-alive, gzip",
            "addresses": f"127.0.0.2-127.0.0.{HOSTS + 1}",
            "latency_200_s": {
                "distribution": "uniform, fixed per feed",
                "min": LATENCY[0],
                "max": LATENCY[1],
            },
            "latency_304_s": CACHED_LATENCY,
            "seed": args.seed,
        },
        "design": {
            "latency_200": "time the publisher takes to build and send the full feed",
            "latency_304": "a matching If-None-Match is answered from the validator cache, as CDNs and "
            "feed caches do; paying the full latency again would make a 304 poll as slow as a full one",
            "per_host_delay": "0.1 s, not the default 1.0 s: with 1.0 s each host's 20 requests take 19 s "
            "whatever the answer, so both polls would be politeness-bound",
            "lower_bound": "max(sum of latencies / workers, max over hosts of sum of host latencies / "
            "per_host_connections, max over hosts of (n_h - 1) * per_host_delay + min latency of host)",
            "peak_rss": "ru_maxrss of this process, taken before the parse benchmark; the server is "
            "another process",
        },
        "first_poll_s": round(first, 3),
        "lower_bound_s": round(first_lb["lower_bound_s"], 3),
        "lower_bound_terms_s": {k: round(v, 3) for k, v in first_lb.items() if k != "lower_bound_s"},
        "ratio": round(ratio, 3),
        "second_poll_s": round(second, 3),
        "second_lower_bound_s": round(second_lb["lower_bound_s"], 3),
        "second_lower_bound_terms_s": {k: round(v, 3) for k, v in second_lb.items() if k != "lower_bound_s"},
        "second_ratio": round(second / second_lb["lower_bound_s"], 3),
        "second_over_first": round(second / first, 3),
        "first_poll_cpu_s": round(_median(runs, "first_poll_cpu_s"), 3),
        "peak_rss_mb": round(peak_rss, 1),
        "heavy_modules_loaded": heavy,
        "entries_stored": runs[0]["entries_stored"],
        "new_entries_second_poll": runs[0]["new_entries_second_poll"],
        "not_modified": runs[0]["not_modified"],
        "per_run": runs,
        "feedparse": {
            k: parse[k]
            for k in ("feeds", "items", "bare_feeds_per_s", "ours_feeds_per_s", "speedup", "identical_items")
        },
        "targets": {**TARGETS, "parse_speedup": feedparse.TARGET_SPEEDUP},
        "meets_targets": {
            "ratio": ratio <= TARGETS["ratio"],
            "second_over_first": second / first <= TARGETS["second_over_first"],
            "peak_rss_mb": peak_rss <= TARGETS["peak_rss_mb"],
            "complete_polls": complete,
            "parse_speedup_identical_items": bool(parse["meets_target"]),
        },
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
