"""A day of `mediawatch run`'s jobs in compressed time, in a process of its own; prints JSON.

The jobs run as the scheduler runs them (``pipeline.service.jobs``) against a local site that
publishes new stories every cycle, with a fake clock that advances --minutes per cycle (so
polls are due, revisits come due at 1 h, 6 h, 1 d, and retention runs every six hours). After
each cycle: ``gc.collect()`` and the process's resident set size (VmRSS). --leak-kb keeps that
much more memory every cycle (a stand-in for an unbounded cache), to show the check can fail.

    python tests/soak.py --cycles 144 --minutes 10 > soak.json
"""

from __future__ import annotations

import _sqlite3
import argparse
import ctypes
import gc
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from service_site import write_feeds, write_site  # noqa: E402

from pipeline.demo.server import LocalSite  # noqa: E402
from pipeline.service import jobs  # noqa: E402
from pipeline.settings import Settings  # noqa: E402
from pipeline.store import Store  # noqa: E402


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


MALLINFO2 = ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks")


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (*MALLINFO2, "keepcost")]


def heap_kb() -> int:
    """Bytes malloc has handed out and not had back (glibc), in KB; -1 elsewhere."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = _MallInfo2
    except (OSError, AttributeError):
        return -1
    info = libc.mallinfo2()
    return int((info.uordblks + info.hblkhd) // 1024)


def sqlite_kb() -> int:
    try:
        lib = ctypes.CDLL(_sqlite3.__file__)
        lib.sqlite3_memory_used.restype = ctypes.c_int64
        return int(lib.sqlite3_memory_used() // 1024)
    except (OSError, AttributeError):
        return -1


def soak(
    folder: Path, cycles: int, minutes: int, per_cycle: int, leak_cycles: int, leak_kb: int
) -> dict[str, Any]:
    """*cycles* cycles of the jobs, then *leak_cycles* more that also keep *leak_kb* each."""
    site_root = folder / "site"
    site_root.mkdir()
    with LocalSite(site_root) as site:
        feeds = write_feeds(folder / "feeds.yaml", site.base_url)
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            data_dir=folder / "var",
            alerts_dir=ROOT / "alerts",
            models_dir=ROOT / "models",
            allow_private_networks=True,
            per_host_delay=0.0,
            poll_min_minutes=1,
            revisit_sample=0.5,
            runs_keep_days=1,
            raw_page_days=1,
        )
        store = Store.open(settings.db_url)
        now = [datetime.now(UTC)]
        jobs.install(jobs.Context(settings, store, feeds, clock=lambda: now[0]))
        kept: list[bytes] = []
        samples: list[dict[str, int]] = []
        started = time.monotonic()
        for cycle in range(cycles + leak_cycles):
            write_site(site_root, cycle * per_cycle, per_cycle, window=30)
            jobs.poll()
            jobs.process()
            jobs.revisit()
            jobs.notices()
            if cycle % max(1, 360 // minutes) == 0:
                jobs.retention()
            now[0] += timedelta(minutes=minutes)
            site.requests.clear()  # the test server's own log, not ours
            site.arrivals.clear()
            if cycle >= cycles:
                kept.append(b"x" * (leak_kb * 1024))  # a cache that never forgets
            if cycle % 2 or cycle >= cycles - 1:  # gc.collect() is slow on a big heap: every other cycle
                gc.collect()
                samples.append(
                    {"cycle": cycle + 1, "rss_kb": rss_kb(), "heap_kb": heap_kb(), "sqlite_kb": sqlite_kb()}
                )
        counts = store.counts()
        totals = store.job_totals()
        store.close()
    return {
        "cycles": cycles,
        "leak_cycles": leak_cycles,
        "simulated_hours": cycles * minutes / 60,
        "seconds": round(time.monotonic() - started, 1),
        "samples": samples,
        "articles": counts["articles"],
        "alerts": counts["alerts"],
        "revisits": totals.get("revisit", {}).get("revisits", 0),
        "polls": totals.get("poll", {}).get("polls", 0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=72)
    parser.add_argument("--minutes", type=int, default=20)
    parser.add_argument("--per-cycle", type=int, default=4, help="new stories per cycle")
    parser.add_argument("--leak-cycles", type=int, default=0)
    parser.add_argument("--leak-kb", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mediawatch-soak-") as tmp:
        result = soak(Path(tmp), args.cycles, args.minutes, args.per_cycle, args.leak_cycles, args.leak_kb)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
