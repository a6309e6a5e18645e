"""Fault tests of distributed mode with real processes and real services (a private
redis-server and, for the database outage, a private PostgreSQL cluster; never the machine's
shared ones), over a local site of a few hundred generated articles:

- kill -9 a worker, then the scheduler, in the middle of a run; restart; every entry is
  processed exactly once in effect (no duplicate articles, scores or alerts; nothing missing;
  the same articles and alerts as the embedded cycle on the same corpus);
- PostgreSQL stopped for 30 s during a run: tasks wait, retry with backoff and the run recovers;
- Redis restarted (empty: it keeps nothing on disk) with tasks in flight: the work completes;
- a source that always times out never delays the others.

Each test takes a minute or two; they are marked slow and run in CI. The timeouts below only
stop a hung test: nothing asserts how fast anything was.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pipeline.demo.server import LocalSite
from pipeline.distributed.testing import (
    Corpus,
    Deployment,
    PostgresCluster,
    Process,
    RedisServer,
    base_env,
    counts,
    generate_site,
    scheduler_process,
    tasks_in_hand,
    wait_until,
    worker_process,
)
from pipeline.orchestrate import build, run_cycle
from pipeline.settings import Settings
from pipeline.store import Store

ROOT = Path(__file__).resolve().parents[1]
ARTICLES = 240
pytestmark = pytest.mark.slow


class Run(Deployment):
    """A distributed deployment in miniature: site, database, Redis, scheduler and workers."""

    def start(self, proc: Process) -> Process:
        self.procs.append(proc.start())
        return proc

    def worker(self, concurrency: int = 2, loglevel: str = "WARNING") -> Process:
        log = self.tmp / f"worker-{len(self.procs)}.log"
        return self.start(worker_process(base_env(self.conf), log, concurrency, loglevel=loglevel))

    def scheduler(self) -> Process:
        return self.start(
            scheduler_process(base_env(self.conf), self.tmp / f"scheduler-{len(self.procs)}.log")
        )

    def counts(self) -> dict[str, Any]:
        return counts(self.db_url)

    def wait(self, check: Any, what: str, timeout: float = 240) -> dict[str, Any]:
        state: dict[str, Any] = {}

        def done() -> bool:
            state.update(self.counts())
            return bool(check(state))

        try:
            wait_until(done, timeout, what, every=0.5)
        except AssertionError as exc:  # say what the processes were doing
            raise AssertionError(f"{exc}\nlast counts: {state}\n{self.log_tails()}") from None
        return state

    def finished(self) -> dict[str, Any]:
        expected = len(self.corpus.articles)
        return self.wait(
            lambda c: c["entries"] == expected and c["entries_open"] == 0 and c["leases"] == 0,
            "every entry to be done",
        )

    def log_tails(self, lines: int = 40) -> str:
        return "\n".join(
            f"--- {p.name}\n" + "\n".join(p.read_text(errors="replace").splitlines()[-lines:])
            for p in sorted(self.tmp.glob("*.log"))
        )

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.tmp.glob("*.log")))


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    return generate_site(tmp_path_factory.mktemp("corpus") / "site", ARTICLES)


@pytest.fixture
def site(corpus_dir: Corpus) -> Iterator[LocalSite]:
    with LocalSite(corpus_dir.root) as s:
        yield s


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def expected_outcome(tmp_path_factory: pytest.TempPathFactory, corpus_dir: Corpus) -> dict[str, set[str]]:
    """The corpus through the embedded cycle (one process, SQLite): articles and alerts by URL."""
    tmp = tmp_path_factory.mktemp("reference")
    with LocalSite(corpus_dir.root) as site:
        conf = run_conf(tmp, site, corpus_dir, redis_url="")
        settings = Settings(_env_file=None, **conf)  # type: ignore[arg-type]
        store = Store.open(settings.db_url)
        try:
            run_cycle(build(settings, store))
        finally:
            store.close()
        return outcome(settings.db_url, site.base_url)


def run_conf(tmp: Path, site: LocalSite, corpus: Corpus, **conf: str) -> dict[str, str]:
    feeds = corpus.feeds_yaml(site.base_url, tmp / "feeds.yaml")
    return {
        "data_dir": str(tmp / "var"),
        "feeds_file": str(feeds),
        "alerts_dir": str(ROOT / "alerts"),
        "models_dir": str(ROOT / "models"),
        "allow_private_networks": "true",
        "per_host_delay": "0",
        "revisit_sample": "0",
        "task_lease_seconds": "20",
        "max_entries_per_cycle": "1000",
        **conf,
    }


def make_run(tmp: Path, site: LocalSite, corpus: Corpus, **conf: str) -> Run:
    run = Run(tmp, site, corpus, run_conf(tmp, site, corpus, **conf))
    store = Store.open(run.db_url)
    build(run.settings, store)  # the scheduler's start: outlets and sources
    store.close()
    return run


def outcome(db_url: str, base_url: str) -> dict[str, set[str]]:
    """Articles and alerts by site path (the reference ran on another port)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    with engine.connect() as conn:
        articles = {
            u.removeprefix(base_url) for u in conn.execute(text("SELECT url FROM articles")).scalars()
        }
        rows = conn.execute(text("SELECT a.url, x.kind FROM alerts x JOIN articles a ON a.id = x.article_id"))
        alerts = {f"{u.removeprefix(base_url)} {k}" for u, k in rows}
    engine.dispose()
    return {"articles": articles, "alerts": alerts}


def assert_exactly_once(run: Run, state: dict[str, Any], expected: dict[str, set[str]]) -> None:
    n = len(run.corpus.articles)
    assert state["entries"] == state["entries_processed"] == state["articles"] == state["scores"] == n
    for key in (
        "entries_open",
        "entries_other",
        "duplicate_urls",
        "articles_scored_twice",
        "articles_unscored",
        "processed_without_article",
        "alerts_without_letter",
        "leases",
        "quarantine",
    ):
        assert state[key] == 0, (key, state)
    assert state["letters"] == state["alerts"]
    assert outcome(run.db_url, run.site.base_url) == expected  # nothing missing, nothing extra


def progress(lo: int) -> Any:
    return lambda c: c["articles"] >= lo


# ------------------------------------------------------------------------------------------------
def test_kill9_worker_then_scheduler_mid_run_every_entry_once(
    tmp_path: Path,
    site: LocalSite,
    corpus_dir: Corpus,
    redis_server: RedisServer,
    expected_outcome: Any,
    settings: Settings,
) -> None:
    run = make_run(tmp_path, site, corpus_dir, redis_url=redis_server.url, database_url=settings.database_url)
    try:
        scheduler = run.scheduler()
        victim = run.worker(loglevel="INFO")  # its log says which tasks it held when killed
        run.worker()
        run.wait(progress(ARTICLES // 5), "a fifth of the articles")
        victim.kill9()  # tasks in its hands are lost (acknowledged late: back to Redis or via leases)
        before = run.counts()["articles"]
        assert before < ARTICLES  # mid-run
        run.wait(progress(before + ARTICLES // 5), "more articles after the worker died")
        scheduler.kill9()
        assert run.counts()["articles"] < ARTICLES
        run.worker()  # restarts
        run.scheduler()
        state = run.finished()
    finally:
        run.stop()
    assert_exactly_once(run, state, expected_outcome)
    if tasks_in_hand(victim.log):  # (killed between two tasks, it held none: nothing to send again)
        assert re.search(r"'requeued': [1-9]", run.logs())  # what it held came back through leases


def test_postgresql_stopped_30s_during_a_run_recovers(
    tmp_path: Path, site: LocalSite, corpus_dir: Corpus, redis_server: RedisServer, expected_outcome: Any
) -> None:
    pg = PostgresCluster().init()
    try:
        run = make_run(tmp_path, site, corpus_dir, redis_url=redis_server.url, database_url=pg.url)
        try:
            run.scheduler()
            run.worker()
            run.wait(progress(ARTICLES // 4), "a quarter of the articles")
            pg.stop()
            time.sleep(30)  # the outage (not an assertion)
            pg.start()
            state = run.finished()
            logs = run.logs()
        finally:
            run.stop()
        assert_exactly_once(run, state, expected_outcome)
        assert "retry task=" in logs  # tasks waited and retried with backoff
        assert "enqueue failed: OperationalError" in logs  # the scheduler too
    finally:
        pg.destroy()


def test_redis_restarted_with_tasks_in_flight_completes(
    tmp_path: Path,
    site: LocalSite,
    corpus_dir: Corpus,
    redis_server: RedisServer,
    expected_outcome: Any,
    settings: Settings,
) -> None:
    run = make_run(tmp_path, site, corpus_dir, redis_url=redis_server.url, database_url=settings.database_url)
    try:
        run.scheduler()
        run.worker(loglevel="INFO")  # on failure, its log says what it was doing
        run.wait(progress(ARTICLES // 4), "a quarter of the articles")
        in_flight = run.counts()["leases"]
        redis_server.stop()  # everything queued is gone: this Redis keeps nothing on disk
        time.sleep(5)
        redis_server.start()
        state = run.finished()
    finally:
        run.stop()
    assert in_flight > 0
    assert_exactly_once(run, state, expected_outcome)


class BlackHole:
    """A host that accepts connections and never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.accepted: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/feed.xml"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        self.sock.close()
        for c in self.accepted:
            c.close()


def test_a_source_that_always_times_out_never_delays_the_others(
    tmp_path: Path, site: LocalSite, corpus_dir: Corpus, redis_server: RedisServer
) -> None:
    hole = BlackHole()
    run = Run(tmp_path, site, corpus_dir, {})
    run.conf = run_conf(tmp_path, site, corpus_dir, redis_url=redis_server.url, read_timeout="60")
    feeds = corpus_dir.feeds_yaml(site.base_url, tmp_path / "hole.yaml", extra={"maple-ledger": [hole.url]})
    run.conf.update(feeds_file=str(feeds), total_timeout="70")
    store = Store.open(run.db_url)
    build(run.settings, store)
    hung = next(s for s in store.due_sources(datetime.now(UTC)) if s.url == hole.url)
    try:
        run.scheduler()
        run.worker(concurrency=2)
        wait_until(lambda: len(hole.accepted) > 0, 120, "the hung source to be polled")
        state = run.wait(
            lambda c: c["entries"] == ARTICLES and c["scores"] == ARTICLES, "every other source's articles"
        )
        health = {h["id"]: h for h in store.source_health(datetime.now(UTC)) if h["enabled"]}
        # everything else was polled, fetched, scored while that poll still waited for an answer
        assert (health[hung.id]["last_status"], health[hung.id]["errors"]) == (None, 0)
        assert state["leases"] >= 1  # the hung poll's
        assert all(h["last_status"] == 200 for i, h in health.items() if i != hung.id)
    finally:
        run.stop()
        hole.close()
        store.close()
