"""Runs many requests at once within the politeness limits, and hands back results as they finish.

A global limit (threads), a per-host limit on requests in flight, and the per-host clock of
``HostSpacer`` (minimum delay, Crawl-delay, Retry-After). A job is only handed to a thread when
its host is free, so a slow or throttled host never holds threads that other hosts could use.
Jobs of a host that asked to be left alone for longer than *defer_after* seconds come back as
``Deferred`` without a request.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Generic, TypeVar
from urllib.parse import urlsplit

from .fetch import HostSpacer

POLL_S = 0.25  # the dispatcher looks at the stop flag at least this often
DEFER_AFTER = 30.0  # seconds: a host blocked (Retry-After) longer than this is not waited for
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
        self, spacer: HostSpacer, max_workers: int, per_host: int, defer_after: float = DEFER_AFTER
    ) -> None:
        self.spacer = spacer
        self.max_workers = max_workers
        self.per_host = per_host
        self.defer_after = defer_after

    def run(
        self, jobs: Sequence[J], url_of: Callable[[J], str], work: Callable[[J], R]
    ) -> Iterator[tuple[J, R | Deferred]]:
        """Yield ``(job, result)`` in completion order. *work* runs in a thread with the job's
        host slot already reserved (pass ``reserved=True`` to ``Fetcher.get``).

        Requests are started by a dispatcher thread, so new ones go out while the caller is
        still busy with earlier results. Stopping early (closing the iterator) stops it."""
        state: _State[J, R] = _State(queues={})
        for job in jobs:
            state.queues.setdefault(host_of(url_of(job)), deque()).append(job)
        out: queue.Queue[tuple[J, R | Deferred] | BaseException | None] = queue.Queue()
        stop = threading.Event()
        dispatcher = threading.Thread(
            target=self._dispatch, args=(state, work, out, stop), name="hostpool", daemon=True
        )
        dispatcher.start()
        try:
            while (item := out.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            dispatcher.join()

    def _dispatch(
        self,
        state: _State[J, R],
        work: Callable[[J], R],
        out: queue.Queue[tuple[J, R | Deferred] | BaseException | None],
        stop: threading.Event,
    ) -> None:
        pool = ThreadPoolExecutor(max_workers=self.max_workers, thread_name_prefix="fetch")
        try:
            while (state.queues or state.running) and not stop.is_set():
                deferred, next_ready = self._start_ready(state, pool, work)
                for item in deferred:
                    out.put(item)
                if state.running:
                    timeout = min(next_ready if next_ready is not None else POLL_S, POLL_S)
                    done, _ = wait(list(state.running), timeout=timeout, return_when=FIRST_COMPLETED)
                    for fut in done:
                        host, job = state.running.pop(fut)
                        state.inflight[host] -= 1
                        out.put((job, fut.result()))
                elif next_ready is not None:
                    stop.wait(next_ready)
        except BaseException as exc:  # a bug in work(): hand it to the caller
            out.put(exc)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            out.put(None)

    def _start_ready(
        self, state: _State[J, R], pool: ThreadPoolExecutor, work: Callable[[J], R]
    ) -> tuple[list[tuple[J, R | Deferred]], float | None]:
        """Hand every startable job to the pool; return deferred jobs and the next wake-up."""
        deferred: list[tuple[J, R | Deferred]] = []
        next_ready: float | None = None
        # hosts with the most work left first, so no host is left to run alone at the end
        for host in sorted(state.queues, key=lambda h: len(state.queues[h]), reverse=True):
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
