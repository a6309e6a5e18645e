"""Real processes: `mediawatch serve` and `mediawatch demo` answer on localhost; the scheduler's jobs."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests

from pipeline.demo import DEMO_FEEDS
from pipeline.demo.server import LocalSite
from pipeline.service import job_specs, jobs, make_scheduler, stop_scheduler, sync_jobs
from pipeline.settings import Settings
from pipeline.store import Store
from pipeline.store.migrate import head_revision

ROOT = Path(__file__).resolve().parents[1]
EXE = str(Path(sys.executable).parent / "mediawatch")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(url: str, seconds: float = 60) -> requests.Response:
    deadline = time.monotonic() + seconds
    while True:
        try:
            return requests.get(url, timeout=2)
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.fixture
def env(settings: Settings) -> dict[str, str]:
    """The processes' environment: the test's database (SQLite under tmp_path/var, or PostgreSQL)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAWATCH_")}
    return clean | {"MEDIAWATCH_DATA_DIR": str(settings.data_dir), "MEDIAWATCH_DATABASE_URL": settings.db_url}


@pytest.fixture
def process() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for p in started:
        p.terminate()
        p.wait(timeout=20)


def _start(
    process: list[subprocess.Popen[str]], env: dict[str, str], *args: str, out: Path | None = None
) -> int:
    """Start `mediawatch ARGS --port P` in the background (stdout to *out*); return P."""
    port = _free_port()
    argv = [EXE, *args, "--port", str(port)]
    stdout = out.open("w") if out else subprocess.DEVNULL
    process.append(subprocess.Popen(argv, cwd=ROOT, env=env, text=True, stdout=stdout))
    return port


def _sign_in(base: str, email: str, password: str) -> requests.Session:
    """Through the real form: the pre-sign-in CSRF cookie and field, then the session cookie."""
    web = requests.Session()
    form = web.get(f"{base}/login", timeout=5).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token is not None
    done = web.post(
        f"{base}/login",
        data={"email": email, "password": password, "csrf_token": token[1], "next": "/alerts"},
        timeout=10,
    )
    assert done.status_code == 200 and done.url.endswith("/alerts"), done.text[:300]
    return web


def test_demo_serves_the_queue_and_an_alert(
    env: dict[str, str], process: list[subprocess.Popen[str]], tmp_path: Path
) -> None:
    out = tmp_path / "demo.out"
    port = _start(process, env, "demo", out=out)
    base = f"http://127.0.0.1:{port}"
    anonymous = _wait_for(f"{base}/alerts", seconds=120)
    assert anonymous.url.endswith("/login?next=/alerts")  # everything needs a sign-in
    found = re.search(r"analyst@demo\.invalid\s+(\S+)\s+admin", out.read_text())
    assert found is not None, out.read_text()
    web = _sign_in(base, "analyst@demo.invalid", found[1])
    queue = web.get(f"{base}/alerts", timeout=5)
    assert "Pro-Hamas mob digs in on Harbourview campus" in queue.text
    first = queue.text.index('href="/alerts/') + len('href="/alerts/')
    alert_id = queue.text[first : queue.text.index('"', first)]
    page = web.get(f"{base}/alerts/{alert_id}", timeout=5)
    assert page.status_code == 200 and "Suggested letter" in page.text and "<mark" in page.text


def test_serve_answers_on_its_port(env: dict[str, str], process: list[subprocess.Popen[str]]) -> None:
    env = env | {"MEDIAWATCH_COOKIE_SECURE": "false"}  # plain http in this test
    added = subprocess.run(
        [EXE, "users", "add", "boss@example.org", "--role", "admin", "--password-stdin"],
        input="a long enough password\n",
        cwd=ROOT,
        env=env,
        text=True,
        capture_output=True,
    )
    assert added.returncode == 0, added.stderr
    port = _start(process, env, "serve")
    base = f"http://127.0.0.1:{port}"
    health = _wait_for(f"{base}/healthz")
    # the database answers, but no `mediawatch run` keeps the jobs going: not healthy, and why
    assert health.status_code == 503
    assert health.json()["schema"] == head_revision() and health.json()["database"] == "ok"
    assert health.json()["problems"] == ["scheduler: no `mediawatch run` has run on this database"]
    assert requests.get(f"{base}/api/alerts", timeout=5).status_code == 401
    web = _sign_in(base, "boss@example.org", "a long enough password")
    assert web.get(f"{base}/alerts", timeout=5).text.count("No alerts") == 1


def test_jobs_live_in_the_database_one_at_a_time_with_grace_in_minutes(
    settings: Settings, demo_site: LocalSite
) -> None:
    store = Store.open(settings.db_url)
    scheduler = make_scheduler(settings, store)
    scheduler.start(paused=True)
    sync_jobs(scheduler, settings)
    stop_scheduler(scheduler, wait=False)
    stored = store.job_schedule()  # read back from APScheduler's table, not from memory
    assert set(stored) == {s.id for s in job_specs(settings)} == set(jobs.JOB_NAMES)
    again = make_scheduler(settings, store)  # a second process sees the same jobs
    again.start(paused=True)
    for job in again.get_jobs():
        assert job.max_instances == 1 and job.coalesce is True
        assert job.misfire_grace_time == settings.misfire_grace_minutes * 60 >= 60
        assert not job.args and not job.kwargs  # nothing pickled but the function's name
    poll = again.get_job("poll")
    assert poll is not None and poll.trigger.interval.total_seconds() == settings.poll_interval_minutes * 60
    assert poll.func_ref == "pipeline.service.jobs:poll"
    stop_scheduler(again, wait=False)

    jobs.install(jobs.Context(settings, store, DEMO_FEEDS, demo_site.base_url))
    try:
        assert jobs.poll()["polls"] == 4  # what the scheduler calls
        done = jobs.process()
    finally:
        jobs.install(None)
    assert done["articles"] == store.counts()["articles"] == 19 and done["http_200"] >= 19
    last = store.last_runs(("poll", "process"))
    assert last["poll"]["status"] == last["process"]["status"] == "ok"
    assert store.job_totals()["process"]["articles"] == 19
    store.close()


def test_bad_command_input_exits_2_with_one_line(env: dict[str, str], tmp_path: Path) -> None:
    cases = [
        ([EXE, "evaluate", "--data", str(tmp_path / "missing.jsonl")], "missing.jsonl"),
        ([EXE, "serve", "--port", "99999"], "99999"),
        ([EXE, "alerts", "list", "--category", "bias"], "bias"),
        ([EXE, "extract", str(tmp_path)], str(tmp_path)),
    ]
    for argv, needle in cases:
        out = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 2, (argv, out.stderr)
        lines = [line for line in out.stderr.strip().splitlines() if line.strip()]
        assert needle in out.stderr, (argv, out.stderr)
        assert len(lines) <= 3, (argv, out.stderr)  # click usage errors add a usage line


def test_distributed_mode_enqueues_instead_of_running_the_stages(
    settings: Settings, demo_site: LocalSite
) -> None:
    """With a Redis URL the poll job hands due work to Celery (a private redis-server, no worker):
    nothing is fetched inline, and process/revisit are not scheduled."""
    import redis

    from pipeline.distributed.testing import RedisServer

    server = RedisServer().start()
    try:
        distributed = settings.model_copy(update={"redis_url": server.url})
        assert {s.id for s in job_specs(distributed)} == set(jobs.JOB_NAMES) - {"process", "revisit"}
        store = Store.open(settings.db_url)
        context = jobs.Context(distributed, store, DEMO_FEEDS, demo_site.base_url)
        context.pipeline()  # as `mediawatch run` does at start: feeds.yaml checked, sources synced
        jobs.install(context)
        try:
            sent = jobs.poll()
        finally:
            jobs.install(None)
        assert sent["poll"] == 4 and "polls" not in sent  # four sources enqueued, none polled here
        assert store.counts()["entries"] == 0 and not demo_site.requests
        assert redis.Redis.from_url(server.url).dbsize() > 0  # the messages wait for workers
        assert store.last_runs(("poll",))["poll"]["stats"] == sent
        store.close()
    finally:
        server.stop()


def test_a_restart_keeps_the_stored_times_of_unchanged_daily_jobs(settings: Settings, store: Store) -> None:
    """A backup missed during a short stop still runs (its stored time is kept); a changed time
    replaces the job; polling starts at once either way."""
    from datetime import UTC, datetime, timedelta

    def restart(s: Settings) -> dict[str, datetime | None]:
        scheduler = make_scheduler(s, store)
        scheduler.start(paused=True)
        sync_jobs(scheduler, s)
        stop_scheduler(scheduler, wait=False)
        return store.job_schedule()

    restart(settings)
    missed = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)  # within the grace
    scheduler = make_scheduler(settings, store)  # the service was stopped while these were due
    scheduler.start(paused=True)
    for job in ("backup", "report_weekly", "poll"):
        scheduler.modify_job(job, next_run_time=missed)
    stop_scheduler(scheduler, wait=False)
    again = restart(settings)
    assert again["backup"] == again["report_weekly"] == missed  # will run as soon as it starts
    assert again["poll"] is not None and again["poll"] > missed  # set to "now" at start
    moved = restart(settings.model_copy(update={"backup_time": "01:15"}))
    assert moved["backup"] is not None and moved["backup"] > datetime.now(UTC)
    assert moved["backup"].astimezone(ZoneInfo(settings.timezone)).strftime("%H:%M") == "01:15"
    assert moved["report_weekly"] == missed
