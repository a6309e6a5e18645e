"""HostPool: global and per-host limits, spacing, and Retry-After deferral (pipeline/polite.py)."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from itertools import pairwise

import pytest

from pipeline.fetch import SPACING_MARGIN, HostSpacer
from pipeline.polite import Deferred, HostPool


class Recorder:
    """A work function that sleeps and records concurrency and start times per host."""

    def __init__(self, durations: dict[str, float]) -> None:
        self.durations = durations
        self.lock = threading.Lock()
        self.active: dict[str, int] = defaultdict(int)
        self.peak: dict[str, int] = defaultdict(int)
        self.total = 0
        self.peak_total = 0
        self.starts: dict[str, list[float]] = defaultdict(list)
        self.finished: list[str] = []

    def __call__(self, url: str) -> str:
        host = url.split("/")[2]
        with self.lock:
            self.active[host] += 1
            self.total += 1
            self.peak[host] = max(self.peak[host], self.active[host])
            self.peak_total = max(self.peak_total, self.total)
            self.starts[host].append(time.monotonic())
        time.sleep(self.durations.get(host, 0.01))
        with self.lock:
            self.active[host] -= 1
            self.total -= 1
            self.finished.append(url)
        return url


def urls(host: str, n: int) -> list[str]:
    return [f"http://{host}/{i}" for i in range(n)]


def run(pool: HostPool, jobs: list[str], work: Recorder) -> list[tuple[str, str | Deferred]]:
    return list(pool.run(jobs, lambda u: u, work))


def test_global_and_per_host_limits_are_never_exceeded() -> None:
    work = Recorder({})
    work.durations = {f"h{i}": 0.03 for i in range(6)}
    jobs = [u for i in range(6) for u in urls(f"h{i}", 8)]
    results = run(HostPool(HostSpacer(0.0), max_workers=5, per_host=2), jobs, work)
    assert sorted(j for j, _ in results) == sorted(jobs)  # every job once
    assert all(r == j for j, r in results)
    assert max(work.peak.values()) == 2
    assert work.peak_total == 5


def test_requests_to_one_host_are_spaced() -> None:
    work = Recorder({"a": 0.0})
    run(HostPool(HostSpacer(0.05), max_workers=8, per_host=4), urls("a", 5), work)
    starts = work.starts["a"]
    gaps = [b - a for a, b in pairwise(starts)]
    assert min(gaps) >= 0.045


def test_a_slow_host_never_stalls_the_others() -> None:
    work = Recorder({"slow": 0.5, "fast": 0.01})
    jobs = urls("slow", 3) + urls("fast", 20)  # the slow host's jobs come first
    run(HostPool(HostSpacer(0.0), max_workers=4, per_host=1), jobs, work)
    fast_done = max(i for i, u in enumerate(work.finished) if "/fast/" in u)
    first_slow = min(i for i, u in enumerate(work.finished) if "/slow/" in u)
    assert fast_done < first_slow  # all 20 fast jobs finished while the first slow one ran


def test_a_host_that_asks_for_a_long_wait_gets_no_more_requests() -> None:
    spacer = HostSpacer(0.0)

    def work(url: str) -> str:
        if url.endswith("/0"):
            spacer.block("busy", 600)  # what Fetcher does on 429 with Retry-After: 600
        return url

    pool = HostPool(spacer, max_workers=1, per_host=1, defer_after=30)
    results = dict(pool.run(urls("busy", 4) + urls("calm", 2), lambda u: u, work))
    assert results["http://busy/0"] == "http://busy/0"
    for i in (1, 2, 3):
        deferred = results[f"http://busy/{i}"]
        assert isinstance(deferred, Deferred) and 590 < deferred.seconds <= 600
    assert results["http://calm/1"] == "http://calm/1"


def test_a_short_wait_is_waited_out() -> None:
    spacer = HostSpacer(0.0)
    spacer.block("h", 0.2)
    started = time.monotonic()
    results = dict(HostPool(spacer, 2, 1, defer_after=30).run(urls("h", 2), lambda u: u, lambda u: u))
    assert time.monotonic() - started >= 0.19
    assert not any(isinstance(r, Deferred) for r in results.values())


def test_crawl_delay_never_lowers_the_default() -> None:
    spacer = HostSpacer(0.5)
    spacer.set_delay("h", 0.1)
    assert spacer.try_reserve("h") == 0.0
    assert spacer.try_reserve("h") == pytest.approx(0.5, abs=0.05)


def test_a_late_thread_does_not_send_closer_than_the_delay() -> None:
    spacer = HostSpacer(0.1)
    assert spacer.try_reserve("h") == 0.0  # slot 1
    time.sleep(0.1 + SPACING_MARGIN)
    assert spacer.try_reserve("h") == 0.0  # slot 2, a delay later
    spacer.pace("h")  # slot 1's thread only now gets to send
    started = time.monotonic()
    spacer.pace("h")  # slot 2's thread must wait for the delay after it
    assert time.monotonic() - started >= 0.09
