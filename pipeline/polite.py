"""Runs many requests at once within the politeness limits, and hands back results as they finish.

A global limit (threads), a per-host limit on requests in flight, and the per-host clock of
``HostSpacer`` (minimum delay, Crawl-delay, Retry-After). A job is only handed to a thread when
its host is free, so a slow or throttled host never holds threads that other hosts could use.
Jobs of a host that asked to be left alone for longer than *defer_after* seconds come back as
``Deferred`` without a request.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Generic, TypeVar
from urllib.parse import urlsplit

from .fetch import HostSpacer

J = TypeVar("J")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Deferred:
    """Not attempted: the host asked us (Retry-After) to wait this many seconds."""

    seconds: float


def host_of(url: str) -> str:
    return urlsplit(url).netloc.lower()


@dataclass
class _State(Generic[J, R]):
    queues: dict[str, deque[J]]
    inflight: dict[str, int] = field(default_factory=dict)
    running: dict[Future[R], tuple[str, J]] = field(default_factory=dict)


class HostPool:
    def __init__(
        self, spacer: HostSpacer, max_workers: int, per_host: int, defer_after: float = 30.0
    ) -> None:
        self.spacer = spacer
        self.max_workers = max_workers
        self.per_host = per_host
        self.defer_after = defer_after

    def run(
        self, jobs: Sequence[J], url_of: Callable[[J], str], work: Callable[[J], R]
    ) -> Iterator[tuple[J, R | Deferred]]:
        """Yield ``(job, result)`` in completion order. *work* runs in a thread with the job's
        host slot already reserved (pass ``reserved=True`` to ``Fetcher.get``)."""
        state: _State[J, R] = _State(queues={})
        for job in jobs:
            state.queues.setdefault(host_of(url_of(job)), deque()).append(job)
        with ThreadPoolExecutor(max_workers=self.max_workers, thread_name_prefix="fetch") as pool:
            while state.queues or state.running:
                deferred, next_ready = self._start_ready(state, pool, work)
                yield from deferred
                if state.running:
                    done, _ = wait(list(state.running), timeout=next_ready, return_when=FIRST_COMPLETED)
                    for fut in done:
                        host, job = state.running.pop(fut)
                        state.inflight[host] -= 1
                        yield job, fut.result()
                elif next_ready is not None:
                    time.sleep(next_ready)

    def _start_ready(
        self, state: _State[J, R], pool: ThreadPoolExecutor, work: Callable[[J], R]
    ) -> tuple[list[tuple[J, R | Deferred]], float | None]:
        """Hand every startable job to the pool; return deferred jobs and the next wake-up."""
        deferred: list[tuple[J, R | Deferred]] = []
        next_ready: float | None = None
        for host in list(state.queues):
            if len(state.running) >= self.max_workers:
                break
            blocked = self.spacer.blocked_for(host)
            if blocked > self.defer_after:
                deferred.extend((job, Deferred(blocked)) for job in state.queues.pop(host))
                continue
            while state.inflight.get(host, 0) < self.per_host and len(state.running) < self.max_workers:
                wait_s = self.spacer.try_reserve(host)
                if wait_s > 0:
                    next_ready = wait_s if next_ready is None else min(next_ready, wait_s)
                    break
                job = state.queues[host].popleft()
                state.running[pool.submit(work, job)] = (host, job)
                state.inflight[host] = state.inflight.get(host, 0) + 1
                if not state.queues[host]:
                    del state.queues[host]
                    break
        return deferred, next_ready
