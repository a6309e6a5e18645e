"""Worker tasks: poll one source, fetch and extract one entry, score and alert one article,
revisit one article. Each runs the same per-item step as the embedded cycle.

Every task carries the lease token it was sent with. It starts by renewing its lease in the
database (another live lease means another message has the work: skip), does its step (each
step is idempotent: unique keys and check-before-write), and drops the lease at the end.
Transient trouble (database or Redis unreachable, a host busy with other workers) is retried with
exponential backoff and jitter; any other error, retries run out, or an item that has started
too often without finishing (it killed its workers) goes to the quarantine table.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
import sqlalchemy.exc
from celery import Task
from celery.signals import worker_process_shutdown
from kombu.exceptions import OperationalError as KombuOperationalError

from ..httpcounts import ResponseCounter
from ..orchestrate import (
    Pipeline,
    build,
    poll_source,
    refresh_copies,
    revisit_article,
    score_articles,
    store_entry,
)
from ..polite import DEFER_AFTER, Deferred, host_of
from ..records import FetchResult
from ..store import Store
from .app import app, configured_settings
from .limits import HostBusyError, HostSlots, RedisSpacer, client

log = logging.getLogger(__name__)
TRANSIENT: tuple[type[BaseException], ...] = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.DisconnectionError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    KombuOperationalError,
    HostBusyError,
    ConnectionError,
    TimeoutError,
)
BACKOFF_MAX_S = 60.0
REPORT_EVERY = 30.0  # seconds between a worker process's reports of its counts
WORKER_TOTALS = "workers"  # the totals' key for what worker processes did


def transient(exc: BaseException) -> bool:
    """Trouble that waiting fixes: a service away or busy, a connection the database dropped."""
    if isinstance(exc, TRANSIENT):
        return True
    return isinstance(exc, sqlalchemy.exc.DBAPIError) and bool(exc.connection_invalidated)


_proc: dict[str, Any] = {}


class Worker:
    """What one worker process keeps between tasks: the pipeline, its store and the shared
    per-host limits. Built on first use in each (forked) process."""

    def __init__(self) -> None:
        settings = configured_settings()
        self.settings = settings
        self.store = Store.open(settings.db_url, upgrade=False)
        self.pipeline: Pipeline = build(settings, self.store, sync=False)
        r = client(settings.redis_url)
        # a turn to send covers a connect per address tried (IPv6, IPv4) and the wait for headers
        turn_ttl = 2 * settings.connect_timeout + settings.read_timeout + 10
        self.pipeline.fetcher.spacer = RedisSpacer(settings.per_host_delay, r, turn_ttl=turn_ttl)
        self.slots = HostSlots(r, settings.per_host_connections, ttl=settings.total_timeout * 2 + 10)
        self.lease = timedelta(seconds=settings.task_lease_seconds)
        self.responses = ResponseCounter(self.pipeline.fetcher)
        self.reported = time.monotonic()

    def report(self, now: bool = False) -> None:
        """Add what this process counted (polls, articles, errors by stage, HTTP statuses) to
        the totals /metrics reads, at most every ``REPORT_EVERY`` seconds unless *now*. Counts
        that cannot be written (the database away) are kept for the next report."""
        if not now and time.monotonic() - self.reported < REPORT_EVERY:
            return
        stats = dict(self.pipeline.stats)
        for key, n in self.responses.take().items():
            stats[key] = stats.get(key, 0) + n
        self.pipeline.stats, self.reported = {}, time.monotonic()
        if not stats:
            return
        try:
            self.store.add_totals(WORKER_TOTALS, stats)
        except Exception:
            log.warning("could not report worker counts; kept for the next report")
            for key, n in stats.items():
                self.pipeline.stats[key] = self.pipeline.stats.get(key, 0) + n


def worker() -> Worker:
    if _proc.get("pid") != os.getpid():
        _proc["pid"], _proc["worker"] = os.getpid(), Worker()
    return _proc["worker"]  # type: ignore[no-any-return]


def backoff(retries: int, rng: random.Random | None = None) -> float:
    """Seconds before retry *retries* + 1: 1, 2, 4, ... capped at a minute, with full jitter
    in its upper half (workers that failed together do not come back together)."""
    base = min(BACKOFF_MAX_S, 2.0**retries)
    return base * (rng or random).uniform(0.5, 1.0)


def _quarantine(w: Worker, task: str, item_id: int, error: str, tb: str, attempts: int) -> None:
    try:
        w.store.quarantine(task, item_id, {"item_id": item_id}, error, tb, attempts)
        log.error("quarantined task=%s item=%s error=%s", task, item_id, error)
    except Exception as exc:  # the database is away too: the lease expires and the item comes back
        if not transient(exc):
            raise
        log.exception("could not quarantine task=%s item=%s", task, item_id)


@contextmanager
def heartbeat(w: Worker, name: str, item_id: int, token: str) -> Iterator[None]:
    """Keep the lease while the step runs (a poll may rightly wait a whole read timeout), so a
    short lease still finds a killed worker's work soon."""
    stop = threading.Event()
    every = max(0.5, w.lease.total_seconds() / 3)

    def beat() -> None:
        while not stop.wait(every):
            with contextlib.suppress(Exception):  # the database away: the step will notice
                w.store.extend_lease(name, item_id, token, datetime.now(UTC) + w.lease)

    thread = threading.Thread(target=beat, name=f"lease-{name}-{item_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


Step = Callable[["Worker", int], tuple[str, int] | None]  # returns the work that follows, if any


def run_leased(task: Task, name: str, item_id: int, token: str, step: Step) -> str:
    """Lease, run *step*, finish; retries and quarantine as the module's docstring says."""
    w = worker()
    try:
        return _run_leased(w, task, name, item_id, token, step)
    finally:
        w.report()


@worker_process_shutdown.connect  # type: ignore[untyped-decorator]
def _report_at_exit(**_: Any) -> None:
    """A worker process that stops (warm shutdown, SIGTERM) reports what it has not yet."""
    if _proc.get("pid") == os.getpid():
        with contextlib.suppress(Exception):
            _proc["worker"].report(now=True)


def _run_leased(w: Worker, task: Task, name: str, item_id: int, token: str, step: Step) -> str:
    first = task.request.retries == 0
    try:
        now = datetime.now(UTC)
        if first:
            verdict, attempts = w.store.start_lease(
                name, item_id, token, now, w.lease, w.settings.task_max_attempts
            )
            if verdict == "skip":
                return "skipped"
            if verdict == "poison":
                error = f"started {attempts} times without finishing (a worker died on it each time)"
                _quarantine(w, name, item_id, error, "", attempts)
                return "quarantined"
        with heartbeat(w, name, item_id, token):
            following = step(w, item_id)
        if following is None:
            w.store.finish_lease(name, item_id, token)
            return "done"
        new_token = w.store.hand_over(name, item_id, token, following, datetime.now(UTC), w.lease)
        if new_token is not None:  # (lost if the broker is away: its lease brings it back)
            send(following[0], following[1], new_token)
        return "done"
    except Exception as exc:
        if not transient(exc):  # not something waiting fixes: a poison input (or a bug)
            _quarantine(w, name, item_id, f"{type(exc).__name__}: {exc}", traceback.format_exc(), 1)
            return "quarantined"
        retries = task.request.retries
        error = f"{type(exc).__name__}: {exc}"
        if retries >= w.settings.task_max_retries:
            error = f"gave up after {retries} retries: {error}"
            _quarantine(w, name, item_id, error, traceback.format_exc(), 1)
            return "quarantined"
        wait = backoff(retries)
        log.warning("retry task=%s item=%s in=%.1fs error=%s", name, item_id, wait, error)
        with contextlib.suppress(Exception):  # the database may be what is away
            w.store.extend_lease(name, item_id, token, datetime.now(UTC) + timedelta(seconds=wait) + w.lease)
        raise task.retry(exc=exc, countdown=wait, max_retries=w.settings.task_max_retries) from exc


def send(name: str, item_id: int, token: str) -> None:
    TASKS[name].apply_async((item_id, token))


def _fetch_page(w: Worker, url: str) -> FetchResult | Deferred:
    """A page within the shared per-host limits (a host blocked for long is not waited for)."""
    host = host_of(url)
    blocked = w.pipeline.fetcher.spacer.blocked_for(host)
    if blocked > DEFER_AFTER:
        return Deferred(blocked)
    with w.slots.slot(host):
        return w.pipeline.fetch_page(url)


def poll_step(w: Worker, source_id: int) -> None:
    """Poll the source, then send its new entries to be fetched at once (not next cycle)."""
    source = w.store.due_source(source_id)
    if source is None:  # disabled or removed since
        return None
    with w.slots.slot(host_of(source.url)):
        poll_source(w.pipeline, source, datetime.now(UTC))
    now = datetime.now(UTC)
    new = w.store.unleased_pending_entries(now, w.settings.max_entries_per_cycle, source_id)
    for entry_id, token in w.store.lease_items("fetch", new, now, w.lease):
        send("fetch", entry_id, token)
    return None


def fetch_step(w: Worker, entry_id: int) -> tuple[str, int] | None:
    """Fetch, extract and store the entry's article; its scoring follows."""
    found = w.store.entry_for_fetch(entry_id)
    if found is None:
        return None
    entry, status, article_id = found
    if status != "new":  # done already (a repeated message): make sure its score follows
        if status == "processed" and article_id is not None and not w.store.has_score(article_id):
            return "score", article_id
        return None
    page = _fetch_page(w, entry.url)
    refresh_copies(w.pipeline)
    item = store_entry(w.pipeline, entry, page)
    return ("score", item.article_id) if item is not None else None


def score_step(w: Worker, article_id: int) -> None:
    item = w.store.scoring_item(article_id)
    if item is not None:
        score_articles(w.pipeline, [item])
    return None


def revisit_step(w: Worker, article_id: int) -> None:
    target = w.store.due_revisit(article_id, datetime.now(UTC))
    if target is None:  # done already, or taken off the schedule
        return None
    with w.slots.slot(host_of(target.url)):
        revisit_article(w.pipeline, target)
    return None


@app.task(name="mediawatch.poll", bind=True, acks_late=True, reject_on_worker_lost=True)  # type: ignore[untyped-decorator]
def poll(self: Task, source_id: int, token: str) -> str:
    return run_leased(self, "poll", source_id, token, poll_step)


@app.task(name="mediawatch.fetch", bind=True, acks_late=True, reject_on_worker_lost=True)  # type: ignore[untyped-decorator]
def fetch(self: Task, entry_id: int, token: str) -> str:
    return run_leased(self, "fetch", entry_id, token, fetch_step)


@app.task(name="mediawatch.score", bind=True, acks_late=True, reject_on_worker_lost=True)  # type: ignore[untyped-decorator]
def score(self: Task, article_id: int, token: str) -> str:
    return run_leased(self, "score", article_id, token, score_step)


@app.task(name="mediawatch.revisit", bind=True, acks_late=True, reject_on_worker_lost=True)  # type: ignore[untyped-decorator]
def revisit(self: Task, article_id: int, token: str) -> str:
    return run_leased(self, "revisit", article_id, token, revisit_step)


TASKS: dict[str, Any] = {"poll": poll, "fetch": fetch, "score": score, "revisit": revisit}
