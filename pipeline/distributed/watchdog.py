"""A guard against a worker that stops taking tasks after its broker connection came back
(Celery/kombu issues #8030, #8091, #10205: the consumer reconnects to Redis, then takes
nothing). When the worker is idle, its queues hold messages and it has received none for
``STALL_S`` seconds, it shuts down warmly and ``mediawatch worker`` starts it again.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

import redis
from celery.signals import task_received, worker_ready
from celery.worker import state

log = logging.getLogger(__name__)
STALL_S = 90.0
CHECK_S = 10.0
EXIT_S = 120.0
EXIT_STALLED = 75  # EX_TEMPFAIL: a supervisor (systemd, compose) starts the worker again
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
