"""`mediawatch run` as real processes: SIGTERM, the one-scheduler lock, standby takeover after
kill -9, --no-wait, and /healthz following the scheduler."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from service_site import write_feeds, write_site

from pipeline.demo.server import LocalSite
from pipeline.settings import Settings
from pipeline.store import Store

ROOT = Path(__file__).resolve().parents[1]
EXE = str(Path(sys.executable).parent / "mediawatch")


@pytest.fixture
def service_env(settings: Settings) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAWATCH_")}
    return clean | {
        "MEDIAWATCH_DATA_DIR": str(settings.data_dir),
        "MEDIAWATCH_DATABASE_URL": settings.database_url,  # '' (SQLite in data_dir) or the test's PostgreSQL
        "MEDIAWATCH_ALLOW_PRIVATE_NETWORKS": "true",
        "MEDIAWATCH_PER_HOST_DELAY": "0",
        "MEDIAWATCH_HEARTBEAT_SECONDS": "0.5",
        "MEDIAWATCH_LOCK_RETRY_SECONDS": "0.5",
    }


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., tuple[subprocess.Popen[str], Path]]]:
    """Start `mediawatch run ...`; stderr goes to a file the test reads. Killed at the end."""
    started: list[subprocess.Popen[str]] = []

    def start(env: dict[str, str], *args: str) -> tuple[subprocess.Popen[str], Path]:
        log = tmp_path / f"run-{len(started)}.log"
        proc = subprocess.Popen(
            [EXE, "run", *args], cwd=ROOT, env=env, text=True, stdout=subprocess.DEVNULL, stderr=log.open("w")
        )
        started.append(proc)
        return proc, log

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=20)


def wait_until(
    check: Callable[[], object], what: str, seconds: float = 90, alive: subprocess.Popen[str] | None = None
) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if alive is not None and alive.poll() is not None:
            raise AssertionError(f"the process ended (code {alive.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_sigterm_lets_the_job_finish_hands_back_the_rest_and_exits_0(
    settings: Settings,
    local_site: LocalSite,
    service_env: dict[str, str],
    spawn: Callable[..., tuple[subprocess.Popen[str], Path]],
    tmp_path: Path,
) -> None:
    write_site(local_site.root, 0, 120)
    feeds = write_feeds(tmp_path / "feeds.yaml", local_site.base_url)
    slow = service_env | {"MEDIAWATCH_PER_HOST_DELAY": "0.1"}  # pages come slowly: a job in flight
    proc, log = spawn(slow, "--feeds", str(feeds))
    store = Store.open(settings.db_url)
    wait_until(lambda: store.counts()["articles"] > 0, "the first articles", alive=proc)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0, log.read_text()
    text = log.read_text()
    assert "stopping: no new job starts" in text and "scheduler stopped cleanly" in text
    counts = store.entry_counts()
    assert counts.get("processed", 0) + counts.get("new", 0) == 120  # nothing lost, nothing failed
    assert 0 < counts.get("processed", 0) < 120 and counts.get("new", 0) > 0  # the rest handed back
    process = store.last_runs(("process",))["process"]
    assert process["status"] == "ok" and process["stats"]["handed_back"] == counts["new"]
    assert store.service_state()["status"] == "stopped"  # type: ignore[index]
    assert store.counts()["scores"] == store.counts()["articles"]  # every stored article was scored

    proc, log = spawn(service_env, "--feeds", str(feeds))  # the next run takes the rest
    wait_until(lambda: store.entry_counts().get("processed", 0) == 120, "the handed-back entries")
    proc.send_signal(signal.SIGINT)  # Ctrl-C stops it the same way
    assert proc.wait(timeout=60) == 0, log.read_text()
    assert store.counts()["articles"] == store.counts()["scores"] == 120  # each entry once
    store.close()


def test_second_run_waits_as_standby_and_takes_over_after_kill_9(
    settings: Settings,
    local_site: LocalSite,
    service_env: dict[str, str],
    spawn: Callable[..., tuple[subprocess.Popen[str], Path]],
    tmp_path: Path,
) -> None:
    from pipeline.web.app import create_app

    write_site(local_site.root, 0, 3)
    feeds = write_feeds(tmp_path / "feeds.yaml", local_site.base_url)
    store = Store.open(settings.db_url)
    web = TestClient(create_app(settings.model_copy(update={"heartbeat_seconds": 0.5}), store))
    assert web.get("/healthz").status_code == 503  # never started

    first, first_log = spawn(service_env, "--feeds", str(feeds))
    wait_until(lambda: "scheduler started" in first_log.read_text(), "the first scheduler", alive=first)
    second, second_log = spawn(service_env, "--feeds", str(feeds))
    wait_until(lambda: "standby" in second_log.read_text(), "the standby")
    assert f"pid {first.pid} on" in second_log.read_text()  # it says who holds the lock
    refused = subprocess.run(
        [EXE, "run", "--no-wait", "--feeds", str(feeds)],
        cwd=ROOT,
        env=service_env,
        capture_output=True,
        text=True,
    )
    assert refused.returncode == 2
    assert (
        refused.stderr.strip()
        .splitlines()[-1]
        .startswith(
            f"mediawatch: error: another `mediawatch run` holds the scheduler lock: pid {first.pid} on"
        )
    )
    wait_until(lambda: web.get("/healthz").status_code == 200, "a fresh heartbeat")
    assert web.get("/healthz").json()["scheduler"]["state"] == "running"
    assert "holder" not in web.get("/healthz").json()["scheduler"]  # no host or pid to strangers
    assert store.service_state()["holder"]["pid"] == first.pid  # type: ignore[index]

    first.send_signal(signal.SIGKILL)  # dies holding the lock, mid-whatever
    first.wait(timeout=20)
    wait_until(lambda: "scheduler started" in second_log.read_text(), "the takeover", seconds=60)
    state = store.service_state()
    assert state is not None and state["holder"]["pid"] == second.pid
    wait_until(lambda: web.get("/healthz").status_code == 200, "the new heartbeat")
    second.send_signal(signal.SIGTERM)
    assert second.wait(timeout=60) == 0, second_log.read_text()
    gone = web.get("/healthz")
    assert gone.status_code == 503 and gone.json()["scheduler"]["state"] == "stopped"
    assert "scheduler: the scheduler stopped at" in gone.json()["problems"][0]
    assert store.counts()["articles"] == 3  # polled and processed once between the two
    store.close()


@pytest.fixture
def pg_url() -> Iterator[str]:
    psycopg = pytest.importorskip("psycopg")
    name = f"h2svc_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True)
    except psycopg.OperationalError:
        pytest.skip("no PostgreSQL at 127.0.0.1:5432")
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.mark.postgres_only("the advisory lock: with a database of its own, once is enough")
def test_postgresql_advisory_lock_refuses_a_second_scheduler_and_names_the_first(
    pg_url: str,
    local_site: LocalSite,
    service_env: dict[str, str],
    spawn: Callable[..., tuple[subprocess.Popen[str], Path]],
    tmp_path: Path,
) -> None:
    write_site(local_site.root, 0, 2)
    feeds = write_feeds(tmp_path / "feeds.yaml", local_site.base_url)
    env = service_env | {"MEDIAWATCH_DATABASE_URL": pg_url}
    first, first_log = spawn(env, "--feeds", str(feeds))
    wait_until(lambda: "scheduler started" in first_log.read_text(), "the first scheduler", alive=first)
    refused = subprocess.run(
        [EXE, "run", "--no-wait", "--feeds", str(feeds)], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert refused.returncode == 2, refused.stderr
    assert f"holds the scheduler lock: pid {first.pid} on" in refused.stderr
    second, second_log = spawn(env, "--feeds", str(feeds))
    wait_until(lambda: "standby" in second_log.read_text(), "the standby")
    first.send_signal(signal.SIGKILL)  # the server ends the session, and its lock with it
    first.wait(timeout=20)
    wait_until(lambda: "scheduler started" in second_log.read_text(), "the takeover", seconds=60)
    second.send_signal(signal.SIGTERM)
    assert second.wait(timeout=60) == 0, second_log.read_text()
    store = Store.open(pg_url)
    assert store.counts()["articles"] == 2 and store.service_state()["status"] == "stopped"  # type: ignore[index]
    store.close()


def _slope(points: list[tuple[int, int]]) -> float:
    """Least-squares growth per cycle of (cycle, kB) points."""
    n = len(points)
    mx, my = sum(x for x, _ in points) / n, sum(y for _, y in points) / n
    return sum((x - mx) * (y - my) for x, y in points) / sum((x - mx) ** 2 for x, _ in points)


WARM_UP = 36  # cycles: the model loads, SQLite's page cache and the bounded caches fill
LEAK_KB = 200  # a cache that keeps one 50 kB page per new story, never forgetting
BOUND_KB = 150  # growth per cycle after warm-up: the 3-day wire-copy index (~5 kB a story) is below it


@pytest.mark.sqlite_only("the soak makes its own SQLite database: once is enough")
def test_a_compressed_day_keeps_memory_flat_and_the_check_catches_a_leak() -> None:
    """72 cycles of 20 simulated minutes (poll, process, revisit, notices; retention every 6 h),
    4 new stories each, in a process of its own; then 24 more cycles that leak LEAK_KB each."""
    out = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "soak.py"), "--leak-cycles", "24", "--leak-kb", str(LEAK_KB)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    found = json.loads(out.stdout)
    assert found["simulated_hours"] == 24 and found["articles"] == 4 * 96 and found["polls"] == 96
    assert found["revisits"] > 0 and found["alerts"] > 0  # the whole pipeline ran, not just polls
    rss = [(s["cycle"], s["rss_kb"]) for s in found["samples"]]
    steady = [(c, kb) for c, kb in rss if WARM_UP < c <= 72]
    leaking = [(c, kb) for c, kb in rss if c > 72]
    assert _slope(steady) < BOUND_KB, f"{_slope(steady):.0f} kB per cycle after warm-up: {steady}"
    assert (steady[-1][1] - steady[0][1]) < BOUND_KB * (steady[-1][0] - steady[0][0])
    assert _slope(leaking) > BOUND_KB  # the same check fails on a real leak


def test_sqlite_lock_names_its_holder_and_is_lost_with_its_file(tmp_path: Path) -> None:
    from pipeline.service.lock import FileLock

    first, second = FileLock(tmp_path / "db.lock"), FileLock(tmp_path / "db.lock")
    assert first.acquire() and first.held()
    assert not second.acquire()
    assert second.holder() == {**first.holder(), "pid": os.getpid()}  # type: ignore[dict-item]
    (tmp_path / "db.lock").unlink()  # a clean-up script removed it: another process could lock a new file
    assert not first.held()  # so this one stops scheduling rather than run beside it
    assert second.acquire()
    second.release()
    assert second.holder() is None and first.acquire()
    first.release()


@pytest.mark.postgres_only("a private PostgreSQL cluster of its own: once is enough")
def test_a_postgresql_restart_pauses_the_jobs_and_they_resume_with_the_lock(
    local_site: LocalSite,
    service_env: dict[str, str],
    spawn: Callable[..., tuple[subprocess.Popen[str], Path]],
    tmp_path: Path,
) -> None:
    """The advisory lock goes with the server's sessions: while it is lost no job starts; when the
    server is back the service takes the lock again and goes on (a private cluster, stopped 5 s)."""
    if not Path("/usr/lib/postgresql/15/bin/pg_ctl").exists():
        pytest.skip("no PostgreSQL 15 binaries for a private cluster")
    from pipeline.distributed.testing import PostgresCluster

    cluster = PostgresCluster().init()
    try:
        write_site(local_site.root, 0, 2)
        feeds = write_feeds(tmp_path / "feeds.yaml", local_site.base_url)
        proc, log = spawn(service_env | {"MEDIAWATCH_DATABASE_URL": cluster.url}, "--feeds", str(feeds))
        wait_until(lambda: "job done job=process" in log.read_text(), "the first jobs", alive=proc)
        cluster.stop()
        wait_until(lambda: "scheduler lock lost" in log.read_text(), "the lost lock", alive=proc)
        time.sleep(5)
        cluster.start()
        wait_until(
            lambda: "scheduler lock back: jobs resume" in log.read_text(), "the lock again", alive=proc
        )
        store = Store.open(cluster.url)
        beat = store.service_state()
        assert beat is not None and beat["status"] == "running" and beat["holder"]["pid"] == proc.pid
        first_beat = beat["heartbeat"]
        wait_until(lambda: store.service_state()["heartbeat"] > first_beat, "a heartbeat after the restart")  # type: ignore[index]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, log.read_text()
        assert store.counts()["articles"] == 2 and store.service_state()["status"] == "stopped"  # type: ignore[index]
        store.close()
    finally:
        cluster.destroy()
