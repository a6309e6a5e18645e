"""Distributed mode with real processes and services: Celery workers (``mediawatch worker``) on a
private redis-server, a shared SQLite file, a local site of generated articles; shared per-host
politeness in Redis; quarantine of poison inputs (CLI, web page, API); embedded mode never loads
celery or redis; the deployment files call real commands."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select

from pipeline.cli import main
from pipeline.demo.server import LocalSite
from pipeline.distributed.testing import (
    Corpus,
    Deployment,
    Process,
    RedisServer,
    base_env,
    counts,
    generate_site,
    wait_until,
    worker_process,
)
from pipeline.orchestrate import build, run_cycle
from pipeline.settings import Settings
from pipeline.store import Store
from pipeline.store.schema import AuditEntry
from pipeline.web.app import create_app

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    import redis

    redis.Redis.from_url(redis_server.url).flushall()
    return redis_server.url


class Cluster(Deployment):
    """A generated site, a database, settings and worker processes for one test."""

    def env(self, **changes: str) -> dict[str, str]:
        return base_env({**self.conf, **changes})

    def worker(self, concurrency: int = 1, extra: tuple[str, ...] = (), **changes: str) -> Process:
        n = len(self.procs)
        proc = worker_process(self.env(**changes), self.tmp / f"worker-{n}.log", concurrency)
        proc.argv[proc.argv.index("WARNING")] = "INFO"
        proc.argv += extra
        self.procs.append(proc.start())
        return proc

    def enqueue(self) -> dict[str, int]:
        from pipeline.distributed import enqueue_due

        return enqueue_due(self.settings, datetime.now(UTC))

    def drive(self, done: Any, timeout: float = 180) -> dict[str, Any]:
        """Call enqueue_due (as the scheduler does each cycle) until *done(counts)*."""
        state: dict[str, Any] = {}

        def check() -> bool:
            self.enqueue()
            state.update(counts(self.db_url))
            return bool(done(state))

        wait_until(check, timeout, "the workers to finish", every=0.5)
        return state


def finished(expected: int) -> Any:
    return lambda c: c["entries"] == expected and c["entries_open"] == 0 and c["leases"] == 0


def make_cluster(
    tmp: Path,
    site: LocalSite,
    corpus: Corpus,
    redis_url: str,
    edit: Any = None,
    database_url: str = "",
    **conf: str,
) -> Cluster:
    """*database_url*: the test's database (PostgreSQL in the PostgreSQL run), else SQLite."""
    feeds = corpus.feeds_yaml(site.base_url, tmp / "feeds.yaml")
    if edit is not None:
        config = yaml.safe_load(feeds.read_text())
        edit(config)
        feeds.write_text(yaml.safe_dump(config))
    base = {
        "data_dir": str(tmp / "var"),
        "feeds_file": str(feeds),
        "alerts_dir": str(ROOT / "alerts"),
        "models_dir": str(ROOT / "models"),
        "redis_url": redis_url,
        "allow_private_networks": "true",
        "per_host_delay": "0",
        "task_lease_seconds": "60",
        "revisit_sample": "0",
    }
    if database_url:
        base["database_url"] = database_url
    cluster = Cluster(tmp, site, corpus, {**base, **conf})
    store = Store.open(cluster.db_url)
    build(cluster.settings, store)  # what the scheduler does at start: outlets and sources
    store.close()
    return cluster


@pytest.fixture
def generated(tmp_path: Path) -> Iterator[tuple[LocalSite, Corpus]]:
    corpus = generate_site(tmp_path / "site", 48)
    with LocalSite(tmp_path / "site") as site:
        yield site, corpus


def reference(tmp: Path, cluster: Cluster) -> dict[str, set[str]]:
    """The same corpus through the embedded cycle: which URLs become articles and alerts."""
    update = {"data_dir": tmp / "ref", "redis_url": "", "database_url": ""}  # SQLite
    settings = cluster.settings.model_copy(update=update)
    store = Store.open(settings.db_url)
    try:
        run_cycle(build(settings, store))
        return outcome(settings.db_url)
    finally:
        store.close()


def outcome(db_url: str) -> dict[str, set[str]]:
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    with engine.connect() as conn:
        articles = set(conn.execute(text("SELECT url FROM articles")).scalars())
        alerts = {
            f"{u} {k}"
            for u, k in conn.execute(
                text("SELECT a.url, x.kind FROM alerts x JOIN articles a ON a.id = x.article_id")
            )
        }
    engine.dispose()
    return {"articles": articles, "alerts": alerts}


def dropped_alert(db_url: str, article_id: int) -> set[str]:
    """The alert the embedded cycle would raise for *article_id* (as in ``outcome``), if any."""
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT a.url, s.kind, s.alert FROM articles a JOIN scores s ON s.article_id = a.id"
                " WHERE a.id = :i"
            ),
            {"i": article_id},
        ).one()
    engine.dispose()
    return {f"{row[0]} {row[1]}"} if row[2] else set()


def assert_exactly_once(c: dict[str, Any], expected: int) -> None:
    assert c["entries"] == c["entries_processed"] == c["articles"] == c["scores"] == expected
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
        assert c[key] == 0, key
    assert c["letters"] == c["alerts"]


# ------------------------------------------------------------------------------------------------
def test_two_workers_process_every_entry_once_and_share_host_politeness(
    tmp_path: Path, generated: tuple[LocalSite, Corpus], redis_url: str, settings: Settings
) -> None:
    """Two worker processes, one shared per-host delay: every entry becomes exactly one
    article, score and (where the embedded cycle raises one) alert; and requests to each host
    are never closer together than the delay, though two processes send them."""
    site, corpus = generated
    delay = 0.25

    def two_hosts(config: dict[str, Any]) -> None:
        """Half the outlets are read through another name for the same server."""
        for outlet in config["outlets"][::2]:
            for s in outlet["sources"]:
                s["url"] = s["url"].replace("127.0.0.1", "localhost")

    cluster = make_cluster(
        tmp_path, site, corpus, redis_url, two_hosts, settings.database_url, per_host_delay=str(delay)
    )
    expected = len(corpus.articles)
    try:
        for w in (cluster.worker(), cluster.worker()):  # both ready before any work is sent
            wait_until(lambda w=w: "ready." in w.log.read_text(), 120, "the worker to start")
        site.requests.clear()
        site.arrivals.clear()
        state = cluster.drive(finished(expected))
    finally:
        cluster.stop()
    # the workers' requests only: the embedded reference run below asks the same site
    by_host: dict[str, list[float]] = {}
    for (_path, headers), at in zip(site.requests, site.arrivals, strict=True):
        by_host.setdefault(headers["Host"].split(":")[0], []).append(at)
    assert_exactly_once(state, expected)
    assert outcome(cluster.db_url) == reference(tmp_path, cluster)

    assert set(by_host) == {"127.0.0.1", "localhost"}
    for host, times in by_host.items():
        gaps = [b - a for a, b in itertools.pairwise(times)]
        # a request counts as sent once answered, so the server saw it before the next turn began
        assert min(gaps) >= delay, (host, min(gaps))
    done = [Path(w.log).read_text().count("succeeded") for w in cluster.procs]
    assert all(n > 5 for n in done), done  # both processes did a share of the work

    # what the worker processes counted reached the totals /metrics reads (reported at exit)
    store = Store.open(cluster.db_url, upgrade=False)
    try:
        counted = store.job_totals()["workers"]
        metrics = TestClient(create_app(cluster.settings, store)).get("/metrics").text
    finally:
        store.close()
    assert counted["articles"] == counted["scored"] == expected
    assert counted["http_200"] >= expected + counted["polls"] and counted["polls"] > 0
    assert f"mediawatch_polls_total {float(counted['polls'])}" in metrics


def test_host_slots_and_spacer_are_shared_between_processes(redis_url: str) -> None:
    """Two spacers (two workers) on one Redis take turns for a host; the in-flight cap holds
    across holders and frees a slot when its holder finishes."""
    from pipeline.distributed.limits import HostBusyError, HostSlots, RedisSpacer, client

    a, b = RedisSpacer(1.0, client(redis_url)), RedisSpacer(1.0, client(redis_url))
    assert a.try_reserve("news.example") == 0.0
    assert b.try_reserve("news.example") > 0.5  # the other worker's reservation counts
    assert b.try_reserve("other.example") == 0.0  # another host is free
    b.block("slow.example", 120)
    assert 100 < a.blocked_for("slow.example") <= 120  # Retry-After seen by every worker

    slots = HostSlots(client(redis_url), limit=2, ttl=30)
    held = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with slots.slot("news.example"):
            held.set()
            release.wait(10)

    holders = [threading.Thread(target=hold) for _ in range(2)]
    for t in holders:
        t.start()
    wait_until(
        lambda: len(client(redis_url).zrange("mediawatch:host:news.example:inflight", 0, -1)) == 2, 10, "2"
    )
    with pytest.raises(HostBusyError), slots.slot("news.example", wait=0.3):
        pass
    release.set()
    for t in holders:
        t.join()
    with slots.slot("news.example", wait=0.3):
        pass


def test_a_worker_slowed_after_its_turn_does_not_bring_the_gap_below_the_delay(redis_url: str) -> None:
    """Two workers (each its own fetcher, spacer and Redis client) ask one local server: the
    first is held up for 300 ms between its turn and its request leaving, the second asks for
    its turn meanwhile. The server still sees the two requests at least the delay apart: the
    turn counts as sent only once the response has begun (had the turn itself counted, the
    second request would have come about 50 ms after the first)."""
    from pipeline.distributed.limits import RedisSpacer, client
    from pipeline.fetch import Fetcher, FetchPolicy

    delay = 0.25
    policy = FetchPolicy(user_agent="MediaWatch-test", per_host_delay=delay, allow_private=True)
    slow, quick = Fetcher(policy), Fetcher(policy)
    for f in (slow, quick):
        f.spacer = RedisSpacer(delay, client(redis_url))
    turn_taken = threading.Event()
    send = slow._send

    def late_send(*args: Any, **kwargs: Any) -> Any:  # descheduled between its turn and its send
        turn_taken.set()
        time.sleep(0.3)
        return send(*args, **kwargs)

    slow._send = late_send  # type: ignore[method-assign]
    with LocalSite() as site:
        first = threading.Thread(target=slow.get, args=(f"{site.base_url}/first",))
        first.start()
        assert turn_taken.wait(10)
        assert quick.get(f"{site.base_url}/second").status == 404
        first.join()
    arrived = {path: at for (path, _headers), at in zip(site.requests, site.arrivals, strict=True)}
    assert arrived["/second"] - arrived["/first"] >= delay, arrived


def test_a_turn_to_send_never_confirmed_frees_the_host_after_its_ttl(redis_url: str) -> None:
    """A worker killed between its turn and ``sent`` holds the host for the turn's ttl plus the
    delay, then the next one sends; its confirmation, should it come late, ends no other turn."""
    from pipeline.distributed.limits import RedisSpacer, client

    killed, other = (RedisSpacer(0.1, client(redis_url), turn_ttl=0.5) for _ in range(2))
    killed.pace("news.example")  # and never confirms
    started = time.monotonic()
    other.pace("news.example")
    assert 0.58 <= time.monotonic() - started < 1.5
    killed.sent("news.example")  # too late: the turn is the other's now
    assert client(redis_url).get("mediawatch:host:news.example:sender") is not None
    other.sent("news.example")
    assert client(redis_url).get("mediawatch:host:news.example:sender") is None


def test_poison_items_are_quarantined_then_replayed_or_dropped(
    tmp_path: Path, generated: tuple[LocalSite, Corpus], redis_url: str, settings: Settings
) -> None:
    """A worker whose feeds file lacks an outlet cannot score that outlet's articles (a
    configuration error, not something retrying fixes): they go to quarantine at once, the
    others are done. After the fix, replayed items are scored; a dropped one stays out."""
    site, corpus = generated
    cluster = make_cluster(tmp_path, site, corpus, redis_url, database_url=settings.database_url)
    partial = yaml.safe_load(Path(cluster.conf["feeds_file"]).read_text())
    partial["outlets"] = [o for o in partial["outlets"] if o["id"] != "courrier-du-fleuve"]
    (tmp_path / "partial.yaml").write_text(yaml.safe_dump(partial))
    expected = len(corpus.articles)
    poisoned = sum("courrier-du-fleuve" in a for a in corpus.articles)
    try:
        cluster.worker(feeds_file=str(tmp_path / "partial.yaml"))
        state = cluster.drive(lambda c: finished(expected)(c) and c["quarantine"] == poisoned)
        assert state["scores"] == expected  # stored before the alert step failed
        assert state["alerting_scores_without_alert"] > 0
        cluster.stop()
        cluster.procs.clear()

        runner = CliRunner()
        env = {f"MEDIAWATCH_{k.upper()}": v for k, v in cluster.conf.items()}
        listed = runner.invoke(main, ["quarantine", "list", "--format", "json"], env=env)
        assert listed.exit_code == 0, listed.output
        items = json.loads(listed.output)
        assert len(items) == poisoned
        assert {i["task"] for i in items} == {"score"}
        assert all("courrier-du-fleuve" in i["error"] for i in items)
        shown = runner.invoke(main, ["quarantine", "show", str(items[0]["id"])], env=env)
        assert "Traceback" in shown.output and "ConfigError" in shown.output
        missing = runner.invoke(main, ["quarantine", "show", "99999"], env=env)
        assert missing.exit_code == 2
        assert "mediawatch: error: quarantine item 99999: no such item" in missing.output

        dropped = items[0]
        assert runner.invoke(main, ["quarantine", "drop", str(dropped["id"])], env=env).exit_code == 0
        for item in items[1:]:
            replay = runner.invoke(main, ["quarantine", "replay", str(item["id"]), "--by", "admin"], env=env)
            assert replay.exit_code == 0 and "back in the queue" in replay.output

        cluster.worker()  # the fixed configuration
        state = cluster.drive(lambda c: c["quarantine"] == 0 and c["leases"] == 0)
        assert_exactly_once(state, expected)
        # every replayed article got its alert; the dropped one (if it alerts) did not
        assert outcome(cluster.db_url)["alerts"] == reference(tmp_path, cluster)["alerts"] - dropped_alert(
            cluster.db_url, dropped["item_id"]
        )
    finally:
        cluster.stop()


def test_a_worker_that_stops_taking_tasks_starts_afresh(
    tmp_path: Path, generated: tuple[LocalSite, Corpus], redis_url: str, settings: Settings
) -> None:
    """A consumer that stops taking messages (as after some Redis reconnections; here told to
    by remote control) while its queue fills is noticed: the worker shuts down warmly, starts
    again with the same arguments, and the work gets done."""
    site, corpus = generated
    cluster = make_cluster(tmp_path, site, corpus, redis_url, database_url=settings.database_url)
    try:
        w = cluster.worker(extra=("--stall-seconds", "3"))
        wait_until(lambda: "ready." in w.log.read_text(), 120, "the worker to start")
        from pipeline.distributed.app import configure

        app = configure(cluster.settings)
        app.control.cancel_consumer("poll", reply=True, timeout=5)
        app.control.cancel_consumer("fetch", reply=True, timeout=5)
        sent = cluster.enqueue()
        assert sent["poll"] > 0
        wait_until(lambda: "worker stalled" in w.log.read_text(), 120, "the watchdog")
        state = cluster.drive(finished(len(corpus.articles)))
        assert w.proc is not None and w.proc.poll() is None  # the same process, started afresh
        assert w.log.read_text().count("ready.") == 2
    finally:
        cluster.stop()
    assert_exactly_once(state, len(corpus.articles))


# Loaded by the worker's interpreter (PYTHONPATH): the consumer's event loop raises once, as
# Celery 5.7.0's did when Redis restarted with a message unacknowledged ("Unrecoverable error";
# the worker stopped). Fault injection into Celery, not into MediaWatch.
FAIL_CONSUMER = """
import os
from pathlib import Path

marker = os.environ.get("MW_TEST_FAIL_MARKER")
if marker and (os.environ.get("MW_TEST_FAIL_ALWAYS") or not Path(marker).exists()):
    from celery.worker import loops

    def asynloop(*args, **kwargs):
        Path(marker).write_text("failed")
        raise AttributeError("injected: 'NoneType' object has no attribute 'hostname'")

    loops.asynloop = asynloop
"""


def failing_worker(cluster: Cluster, always: bool = False, **env: str) -> Process:
    inject = cluster.tmp / "inject"
    inject.mkdir(exist_ok=True)
    (inject / "sitecustomize.py").write_text(FAIL_CONSUMER)
    proc = worker_process(cluster.env(), cluster.tmp / f"worker-{len(cluster.procs)}.log", 1, loglevel="INFO")
    proc.env = {
        **proc.env,
        "PYTHONPATH": f"{inject}{os.pathsep}{proc.env['PYTHONPATH']}",
        "MW_TEST_FAIL_MARKER": str(cluster.tmp / "failed-once"),
        **({"MW_TEST_FAIL_ALWAYS": "1"} if always else {}),
        **env,
    }
    cluster.procs.append(proc.start())
    return proc


def test_a_worker_stopped_by_an_unrecoverable_error_starts_afresh(
    tmp_path: Path, generated: tuple[LocalSite, Corpus], redis_url: str, settings: Settings
) -> None:
    """Celery stops on an error nobody asked for: the same process starts afresh after a pause
    and the work gets done exactly once."""
    site, corpus = generated
    cluster = make_cluster(tmp_path, site, corpus, redis_url, database_url=settings.database_url)
    try:
        w = failing_worker(cluster)
        wait_until(lambda: "starting afresh in 2s" in w.log.read_text(), 120, "the restart")
        state = cluster.drive(finished(len(corpus.articles)))
        assert w.proc is not None and w.proc.poll() is None  # the same process, started afresh
        log = w.log.read_text()
    finally:
        cluster.stop()
    assert 'Unrecoverable error: AttributeError("injected' in log
    assert log.index("starting afresh") < log.rindex("ready.")  # the fresh start took tasks
    assert_exactly_once(state, len(corpus.articles))


def test_a_worker_that_fails_again_and_again_at_start_gives_up(
    tmp_path: Path, generated: tuple[LocalSite, Corpus], redis_url: str, settings: Settings
) -> None:
    """A fault a restart cannot fix: after MAX_QUICK_FAILURES failures in a row, each soon after
    its start, the worker exits 1 (for the supervisor and the logs) instead of looping."""
    from pipeline.distributed.watchdog import MAX_QUICK_FAILURES, QUICK_FAILURES_ENV

    site, corpus = generated
    cluster = make_cluster(tmp_path, site, corpus, redis_url, database_url=settings.database_url)
    try:  # failures already counted (the count rides along the re-exec): one restart to go
        w = failing_worker(cluster, always=True, **{QUICK_FAILURES_ENV: str(MAX_QUICK_FAILURES - 2)})
        assert w.proc is not None
        assert w.proc.wait(120) == 1
        log = w.log.read_text()
    finally:
        cluster.stop()
    assert log.count("Unrecoverable error") == 2
    assert "starting afresh in 16s" in log
    assert f"worker failed {MAX_QUICK_FAILURES} times in a row soon after starting; giving up" in log


def test_an_item_that_keeps_killing_its_workers_is_quarantined(store: Store) -> None:
    """Each start renews the lease and counts; a start after the lease ran out N times (the
    worker died each time) quarantines the item instead of running it again."""
    now = datetime.now(UTC)
    lease = timedelta(seconds=10)
    [(_item, token)] = store.lease_items("fetch", [7], now, lease)
    assert store.lease_items("fetch", [7], now, lease) == []  # leased: not handed out twice
    assert store.start_lease("fetch", 7, "stale-message", now, lease, 3) == ("skip", 0)
    for attempt in range(1, 4):
        assert store.start_lease("fetch", 7, token, now, lease, 3) == ("run", attempt)
        now += lease * 2  # the worker died: its lease runs out
        [(_item, token)] = store.lease_items("fetch", [7], now, lease)
    assert store.start_lease("fetch", 7, token, now, lease, 3) == ("poison", 3)
    store.finish_lease("fetch", 7, token)
    assert store.expired_leases(now + lease * 10) == []


def test_worker_needs_a_reachable_redis(settings: Settings) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["worker"])
    assert result.exit_code == 2
    assert result.output.startswith("mediawatch: error: setting MEDIAWATCH_REDIS_URL is empty")
    from pipeline.distributed.testing import free_port

    url = f"redis://127.0.0.1:{free_port()}/0"
    result = runner.invoke(main, ["worker"], env={"MEDIAWATCH_REDIS_URL": url})
    assert result.exit_code == 2
    assert f"cannot reach Redis at {url}" in result.output
    result = runner.invoke(main, ["worker", "--queues", "fetch,bogus"], env={"MEDIAWATCH_REDIS_URL": url})
    assert result.exit_code == 2 and "--queues 'fetch,bogus'" in result.output


EMBEDDED_RUN = """
import builtins, sys
BROKER = ("celery", "kombu", "billiard", "redis")
importers = set()
real_import = builtins.__import__

def watch(name, globals=None, *args, **kwargs):
    if name.split(".")[0] in BROKER and sys.argv[2] == "watch":
        who = (globals or {}).get("__name__", "?")
        if who.split(".")[0] not in BROKER:
            importers.add(who)
    return real_import(name, globals, *args, **kwargs)

builtins.__import__ = watch
if sys.argv[2] == "block":  # as on a machine without the redis and celery packages
    for name in BROKER:
        sys.modules[name] = None
from pipeline.cli import main
try:
    main(["run", "--once", "--feeds", sys.argv[1]], standalone_mode=False)
finally:
    print("IMPORTERS", sorted(importers))
    loaded = [m for m, mod in sys.modules.items() if mod is not None]
    print("LOADED", sorted(m for m in loaded if m.split(".")[0] in BROKER[:3] or "distributed" in m))
"""


@pytest.mark.parametrize("mode", ["watch", "block"])
def test_embedded_run_never_loads_celery_or_redis(tmp_path: Path, demo_site: LocalSite, mode: str) -> None:
    """An embedded ``run --once`` loads no celery, kombu or billiard and none of our distributed
    code; the only code that imports the redis package is datasketch's optional storage probe
    (it connects nowhere), and with redis and celery missing altogether the run works the same."""
    from pipeline.demo import DEMO_FEEDS

    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(DEMO_FEEDS.read_text().replace("{base}", demo_site.base_url))
    env = base_env(
        {"data_dir": str(tmp_path / "var"), "allow_private_networks": "true", "per_host_delay": "0"}
    )
    out = subprocess.run(
        [sys.executable, "-c", EMBEDDED_RUN, str(feeds), mode],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "alerts=10 articles=19" in out.stdout  # the cycle really ran, fully
    assert "LOADED []" in out.stdout, out.stdout[-500:]
    if mode == "watch":
        line = next(x for x in out.stdout.splitlines() if x.startswith("IMPORTERS"))
        assert all(m.startswith("datasketch.") for m in eval(line.removeprefix("IMPORTERS"))), line


# ------------------------------------------------------------------------------------------------ web
def test_admins_see_replay_and_drop_quarantine_on_the_web(
    settings: Settings, store: Store, sign_in: Any
) -> None:
    from fastapi.testclient import TestClient

    from pipeline.web import create_app

    ids = [
        store.quarantine("fetch", n, {"item_id": n}, f"ValueError: bad page {n}", "Traceback: ...", 5)
        for n in (1, 2)
    ]
    app = create_app(settings, store)
    admin = TestClient(app, base_url="https://testserver")
    sign_in(admin, "admin", "root@example.org")
    page = admin.get("/admin/quarantine")
    assert page.status_code == 200
    assert "ValueError: bad page 1" in page.text and "ValueError: bad page 2" in page.text
    detail = admin.get(f"/admin/quarantine/{ids[0]}")
    assert "Traceback: ..." in detail.text
    assert admin.get("/api/quarantine").json()[0]["error"].startswith("ValueError")

    replayed = admin.post(f"/admin/quarantine/{ids[0]}/replay", follow_redirects=False)
    assert replayed.status_code == 303
    assert admin.post(f"/api/quarantine/{ids[1]}/drop").json()["dropped"]["item_id"] == 2
    assert admin.get("/api/quarantine").json() == []
    assert admin.post(f"/api/quarantine/{ids[1]}/drop").status_code == 404
    with store.session() as s:
        actions = set(s.scalars(select(AuditEntry.action).where(AuditEntry.object_type == "fetch")))
    assert {"quarantined", "quarantine_replayed", "quarantine_dropped"} <= actions

    french = TestClient(app, base_url="https://testserver")
    sign_in(french, "admin", "racine@example.org", language="fr")
    assert "La quarantaine est vide." in french.get("/admin/quarantine").text

    analyst = TestClient(app, base_url="https://testserver")
    sign_in(analyst, "analyst", "ana@example.org")
    assert analyst.get("/admin/quarantine").status_code == 403
    assert analyst.get("/api/quarantine").status_code == 403
    no_csrf = TestClient(app, base_url="https://testserver")
    sign_in(no_csrf, "admin", "root@example.org")
    del no_csrf.headers["X-CSRF-Token"]
    assert no_csrf.post(f"/api/quarantine/{ids[0]}/replay").status_code == 403


# ------------------------------------------------------------------------------------------------ deploy
def test_deployment_files_name_every_service_and_call_real_commands() -> None:
    compose = yaml.safe_load((ROOT / "deploy/compose.yaml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "web", "scheduler", "worker"} <= set(services)
    commands: set[str] = set()
    for name in ("web", "scheduler", "worker"):
        command = services[name]["command"]
        argv = command if isinstance(command, list) else command.split()
        assert argv[0] == "mediawatch"
        commands.add(argv[1])
        env = services[name]["environment"]
        assert env["MEDIAWATCH_DATABASE_URL"].startswith("postgresql+psycopg://")
        if name != "web":
            assert env["MEDIAWATCH_REDIS_URL"].startswith("redis://")
    for unit in ("web", "scheduler", "worker"):
        text = (ROOT / f"deploy/systemd/mediawatch-{unit}.service").read_text()
        exec_start = next(line for line in text.splitlines() if line.startswith("ExecStart="))
        argv = exec_start.removeprefix("ExecStart=").split()
        assert argv[0].endswith("/mediawatch")
        commands.add(argv[1])
        assert "[Install]" in text and "Restart=" in text
    assert commands == {"serve", "run", "worker"}
    runner = CliRunner()
    for command in sorted(commands):
        result = runner.invoke(main, [command, "--help"])
        assert result.exit_code == 0, (command, result.output)
