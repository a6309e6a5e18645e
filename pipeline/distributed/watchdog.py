"""Guards for a worker that stops working while nobody asked it to.

- A consumer that stops taking tasks after its broker connection came back (Celery/kombu issues
  #8030, #8091, #10205: the consumer reconnects to Redis, then takes nothing). When the worker
  is idle, its queues hold messages and it has received none for ``STALL_S`` seconds, it shuts
  down warmly and ``mediawatch worker`` starts it again.
- A worker that stops on an "Unrecoverable error" (Celery 5.7.0 did so when Redis restarted
  with a message unacknowledged). ``Ending`` tells that from a stop someone asked for (a signal),
  and ``mediawatch worker`` starts afresh after a pause, giving up after a few failures in a row
  that each came soon after the start (a fault that restarting cannot fix).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

import redis
from celery.signals import task_received, worker_init, worker_ready, worker_shutting_down
from celery.worker import state

log = logging.getLogger(__name__)
STALL_S = 90.0
CHECK_S = 10.0
EXIT_S = 120.0
EXIT_STALLED = 75  # EX_TEMPFAIL: a supervisor (systemd, compose) starts the worker again
QUICK_FAILURE_S = 60.0  # a failure this soon after the start counts towards giving up
MAX_QUICK_FAILURES = 5
QUICK_FAILURES_ENV = "MW_WORKER_QUICK_FAILURES"  # carried across the re-exec
PRIORITY_SEP = "\x06\x16"  # kombu's Redis transport: queue keys for priorities 3, 6 and 9


class Watchdog:
    def __init__(self, redis_url: str, queues: list[str], stall_s: float = STALL_S) -> None:
        self.redis = redis.Redis.from_url(redis_url, socket_connect_timeout=5, socket_timeout=5)
        self.keys = list(queues) + [f"{q}{PRIORITY_SEP}{p}" for q in queues for p in (3, 6, 9)]
        self.stall_s = stall_s
        self.last_seen = time.monotonic()
        self.stalled = False
        self._stop = threading.Event()

    def seen(self, **_: Any) -> None:
        self.last_seen = time.monotonic()

    def queued(self) -> int:
        try:
            return sum(int(self.redis.llen(k)) for k in self.keys)
        except redis.exceptions.RedisError:
            return 0  # Redis away: nothing to judge; the consumer retries by itself

    def is_stalled(self) -> bool:
        idle = not state.active_requests and not state.reserved_requests
        quiet = time.monotonic() - self.last_seen > self.stall_s
        return idle and quiet and self.queued() > 0

    def start(self, **_: Any) -> None:
        self.seen()
        threading.Thread(target=self._watch, name="watchdog", daemon=True).start()

    def _watch(self) -> None:
        while not self._stop.wait(min(CHECK_S, self.stall_s / 3)):
            if self.is_stalled():
                log.error(
                    "worker stalled: %s messages queued, none received for %.0fs; restarting",
                    self.queued(),
                    self.stall_s,
                )
                self.stalled = True
                state.should_stop = 0  # a warm shutdown, as on SIGTERM
                if not self._stop.wait(EXIT_S):  # the loop never noticed: leave for good
                    log.error("worker did not stop in %.0fs; exiting", EXIT_S)
                    os._exit(EXIT_STALLED)
                return

    def stop(self) -> None:
        self._stop.set()

    def install(self) -> None:
        task_received.connect(self.seen, weak=False)
        worker_ready.connect(self.start, weak=False)


class Ending:
    """How the Celery worker ended: asked to stop (a signal: SIGTERM, SIGINT, SIGQUIT), or
    stopped by itself with a failing exit code (Celery's "Unrecoverable error")."""

    def __init__(self) -> None:
        self.controller: Any = None
        self.signalled = False
        self.started = time.monotonic()

    def _init(self, sender: Any = None, **_: Any) -> None:
        self.controller = sender

    def _signalled(self, **_: Any) -> None:
        self.signalled = True

    def install(self) -> None:
        worker_init.connect(self._init, weak=False)
        worker_shutting_down.connect(self._signalled, weak=False)

    def failed(self) -> bool:
        code = getattr(self.controller, "exitcode", None)
        return not self.signalled and code not in (None, 0)

    def next_quick_failures(self, env: dict[str, str]) -> int:
        """Failures in a row, each within ``QUICK_FAILURE_S`` of its start, this one included
        (a worker that ran longer starts the count again)."""
        if time.monotonic() - self.started >= QUICK_FAILURE_S:
            return 0
        try:
            return int(env.get(QUICK_FAILURES_ENV, "0")) + 1
        except ValueError:
            return 1


def pause_before_restart(quick_failures: int) -> float:
    """Seconds to wait before starting afresh: 1 s, then 2, 4, 8 ... for failures in a row."""
    return float(min(30, 2**quick_failures))
