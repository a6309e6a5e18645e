"""/metrics, /healthz, `mediawatch status`, JSON logs, backups and retention, on a real local
site and real SQLite files (a second Store stands in for another process)."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from service_site import write_feeds, write_site
from sqlalchemy import text

from pipeline.backup import BackupError, backups, verify
from pipeline.demo.server import LocalSite, Override
from pipeline.logs import KeyValueJsonFormatter
from pipeline.retention import apply_retention
from pipeline.service import jobs, make_scheduler, stop_scheduler, sync_jobs
from pipeline.settings import Settings
from pipeline.store import Store
from pipeline.web.app import create_app

ROOT = Path(__file__).resolve().parents[1]
EXE = str(Path(sys.executable).parent / "mediawatch")


@pytest.fixture
def site_feeds(local_site: LocalSite, tmp_path: Path) -> Path:
    """Three stories, plus a second source that always answers 500."""
    write_site(local_site.root, 0, 3)
    local_site.overrides["/broken.xml"] = Override(status=500, body=b"down")
    feeds = write_feeds(tmp_path / "feeds.yaml", local_site.base_url)
    broken = f"      - url: '{local_site.base_url}/broken.xml'\n        section: broken\n"
    feeds.write_text(feeds.read_text() + broken)
    return feeds


@pytest.fixture
def context(settings: Settings, store: Store, site_feeds: Path) -> Iterator[jobs.Context]:
    ctx = jobs.Context(settings, store, site_feeds)
    jobs.install(ctx)
    yield ctx
    jobs.install(None)


def scrape(client: TestClient, **headers: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def test_metrics_are_read_from_the_database_at_scrape_time(
    settings: Settings, store: Store, context: jobs.Context
) -> None:
    elsewhere = Store.open(settings.db_url)  # the web process: its own engine and connections
    web = TestClient(create_app(settings, elsewhere))
    jobs.poll()
    m = scrape(web)
    assert m[("mediawatch_polls_total", ())] == 2
    assert m[("mediawatch_queue_depth", (("queue", "entries_pending"),))] == 3
    assert m[("mediawatch_http_responses_total", (("code", "500"),))] == 1
    assert m[("mediawatch_errors_total", (("stage", "poll"),))] == 1
    assert m[("mediawatch_sources_last_status", (("code", "500"),))] == 1
    assert m[("mediawatch_sources_failing", ())] == 1

    jobs.process()
    context.clock = lambda: datetime.now(UTC) + timedelta(days=2)  # both sources due again
    jobs.poll()  # the totals add up over runs
    m = scrape(web)
    assert m[("mediawatch_polls_total", ())] == 4
    assert m[("mediawatch_job_runs_total", (("job", "poll"), ("status", "ok")))] == 2
    counts = store.counts()
    assert m[("mediawatch_articles", ())] == counts["articles"] == 3
    assert m[("mediawatch_queue_depth", (("queue", "entries_pending"),))] == 0
    assert m[("mediawatch_entries", (("status", "processed"),))] == 3
    alerts = sum(v for (name, _labels), v in m.items() if name == "mediawatch_alerts")
    assert alerts == counts["alerts"]
    assert m[("mediawatch_http_responses_total", (("code", "200"),))] >= 4  # the feed and 3 pages
    assert m[("mediawatch_job_runs_total", (("job", "process"), ("status", "ok")))] == 1
    assert ("mediawatch_job_last_success_timestamp_seconds", (("job", "process"),)) in m
    assert m[("mediawatch_scheduler_up", ())] == 0  # jobs ran, but no scheduler process beats
    elsewhere.close()


def test_a_late_job_shows_as_lag_in_metrics_and_status(
    settings: Settings, store: Store, context: jobs.Context
) -> None:
    scheduler = make_scheduler(settings, store)
    scheduler.start(paused=True)
    sync_jobs(scheduler, settings)
    stop_scheduler(scheduler, wait=False)
    two_hours_ago = (datetime.now(UTC) - timedelta(hours=2)).timestamp()
    with store.engine.begin() as conn:
        conn.execute(
            text("UPDATE apscheduler_jobs SET next_run_time = :t WHERE id = 'backup'"), {"t": two_hours_ago}
        )
    jobs.poll()
    m = scrape(TestClient(create_app(settings, store)))
    assert m[("mediawatch_job_lag_seconds", (("job", "backup"),))] >= 7200
    assert m[("mediawatch_job_lag_seconds", (("job", "retrain"),))] == 0

    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAWATCH_")}
    env |= {"MEDIAWATCH_DATA_DIR": str(settings.data_dir), "MEDIAWATCH_DATABASE_URL": settings.database_url}
    out = subprocess.run(
        [EXE, "status", "--format", "json"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout)
    assert found["lagging"] == ["backup"]
    assert [s["url"].rsplit("/", 1)[-1] for s in found["failing_sources"]] == ["broken.xml"]
    assert found["failing_sources"][0]["last_status"] == 500
    assert found["queue"]["entries_pending"] == 3
    assert found["scheduler"]["state"] == "never started"
    poll = next(j for j in found["jobs"] if j["job"] == "poll")
    assert poll["last_status"] == "ok" and poll["last_stats"]["polls"] == 2
    shown = subprocess.run([EXE, "status"], cwd=ROOT, env=env, capture_output=True, text=True).stdout
    assert "lagging jobs: backup" in shown and "120 min LATE" in shown
    assert "queue: 3 entries pending" in shown and "broken.xml: 1 error(s)" in shown


def test_work_with_workers_and_quarantine_show_in_metrics_and_status(
    settings: Settings, store: Store, context: jobs.Context
) -> None:
    """Distributed mode's queue: work leased to workers (live, and lost with its lease expired)
    and poison inputs in quarantine, in /metrics and `mediawatch status`."""
    jobs.poll()
    entries = store.unleased_pending_entries(datetime.now(UTC), 10)
    assert len(entries) == 3
    long_ago = datetime.now(UTC) - timedelta(hours=2)
    store.lease_items("fetch", entries[:2], datetime.now(UTC), timedelta(minutes=15))
    store.lease_items("score", [1], long_ago, timedelta(minutes=15))  # a worker died with it
    store.quarantine("fetch", entries[2], {}, "ValueError: hostile page", "Traceback ...", 5)
    m = scrape(TestClient(create_app(settings, store)))
    assert m[("mediawatch_tasks_leased", (("expired", "0"), ("task", "fetch")))] == 2
    assert m[("mediawatch_tasks_leased", (("expired", "1"), ("task", "score")))] == 1
    assert m[("mediawatch_quarantined", ())] == 1

    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAWATCH_")}
    env |= {"MEDIAWATCH_DATA_DIR": str(settings.data_dir), "MEDIAWATCH_DATABASE_URL": settings.database_url}
    status = [EXE, "status", "--format", "json"]
    found = json.loads(subprocess.run(status, cwd=ROOT, env=env, capture_output=True, text=True).stdout)
    assert found["leased"] == {"fetch": 2, "score_expired": 1} and found["quarantined"] == 1
    shown = subprocess.run([EXE, "status"], cwd=ROOT, env=env, capture_output=True, text=True).stdout
    assert "with workers: 2 fetch, 1 score_expired" in shown and "quarantine: 1" in shown


def test_metrics_token_is_required_when_set(settings: Settings, store: Store) -> None:
    locked = settings.model_copy(update={"metrics_token": SecretStr("s3cret-token")})
    web = TestClient(create_app(locked, store))
    assert web.get("/metrics").status_code == 401
    assert web.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert scrape(web, Authorization="Bearer s3cret-token")[("mediawatch_articles", ())] == 0
    assert web.get("/healthz").status_code == 503  # health stays open: no token, no sign-in


def test_healthz_names_a_database_that_does_not_answer(settings: Settings) -> None:
    away = Store.open("postgresql+psycopg://postgres@127.0.0.1:1/nothing", upgrade=False)
    answer = TestClient(create_app(settings, away)).get("/healthz")
    assert answer.status_code == 503
    assert answer.json()["status"] == "fail" and answer.json()["problems"][0].startswith("database: ")


def test_json_logs_carry_the_key_value_fields() -> None:
    record = logging.LogRecord(
        "pipeline.service.jobs",
        logging.INFO,
        __file__,
        1,
        "job done job=%s polls=%s error=%r",
        ("poll", 3, "a b"),
        None,
    )
    line = json.loads(KeyValueJsonFormatter().format(record))
    assert line["level"] == "INFO" and line["logger"] == "pipeline.service.jobs"
    assert line["message"] == "job done job=poll polls=3 error='a b'"
    assert (line["job"], line["polls"], line["error"]) == ("poll", 3, "a b")


def test_log_format_json_applies_to_the_command_line(settings: Settings, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAWATCH_")}
    env |= {"MEDIAWATCH_DATA_DIR": str(tmp_path / "var"), "MEDIAWATCH_LOG_FORMAT": "json"}
    out = subprocess.run([EXE, "-v", "status"], cwd=ROOT, env=env, capture_output=True, text=True)
    lines = [json.loads(line) for line in out.stderr.splitlines() if line.strip()]
    assert out.returncode == 0 and lines  # migrations log at INFO with -v
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)


@pytest.mark.sqlite_only("the online backup API copies SQLite files")
def test_backup_is_a_verified_copy_and_only_the_newest_are_kept(
    settings: Settings, store: Store, context: jobs.Context
) -> None:
    jobs.poll()
    jobs.process()
    context.settings = settings.model_copy(update={"backup_keep": 2})
    start = datetime(2026, 11, 20, 7, 30, tzinfo=UTC)
    for day in range(3):
        context.clock = lambda day=day: start + timedelta(days=day)  # type: ignore[misc]
        assert jobs.backup()["kept"] == min(day + 1, 2)
    kept = backups(settings.data_dir / "backups")
    assert [p.name for p in kept] == ["mediawatch-20261121T073000Z.db", "mediawatch-20261122T073000Z.db"]
    copy = Store.open(f"sqlite:///{kept[-1]}", upgrade=False)
    assert copy.counts() == store.counts() and copy.counts()["articles"] == 3
    assert copy.schema_revision() == store.schema_revision()
    copy.close()
    assert store.last_runs(("backup",))["backup"]["status"] == "ok"

    broken = settings.data_dir / "backups" / "not-a-db.db"
    broken.write_bytes(b"SQLite format 3\x00" + b"\x00" * 200)
    with pytest.raises((BackupError, sqlite3.DatabaseError)):
        verify(broken)


@pytest.mark.postgres_only("the counterpart of the SQLite backup")
def test_backup_on_postgresql_is_skipped_and_points_to_pg_dump(
    settings: Settings, store: Store, context: jobs.Context
) -> None:
    assert jobs.backup() == {}
    last = store.last_runs(("backup",))["backup"]
    assert last["status"] == "skipped" and "pg_dump" in last["error"]
    assert not (settings.data_dir / "backups").exists()


def test_retention_deletes_what_expired_and_keeps_the_counters(
    settings: Settings, store: Store, context: jobs.Context
) -> None:
    user = store.create_user("a@example.org", "admin", None)
    store.create_session(user, timedelta(days=1))
    store.create_session(user, timedelta(days=30))
    store.create_invitation("b@example.org", "responder", user, timedelta(days=1))
    store.note_login_failure("email:a@example.org")
    for _ in range(3):
        jobs.poll()
    totals = store.job_totals()
    now = datetime.now(UTC)
    assert apply_retention(store, settings, now) == {
        "raw_pages_pruned": 0,
        "sessions_expired": 0,
        "invitations_expired": 0,
        "login_failures_pruned": 0,
        "runs_pruned": 0,
    }
    later = now + timedelta(days=10)
    short = settings.model_copy(update={"runs_keep_days": 5})
    assert apply_retention(store, short, later) == {
        "raw_pages_pruned": 0,
        "sessions_expired": 1,
        "invitations_expired": 1,
        "login_failures_pruned": 1,
        "runs_pruned": 2,  # two of the three polls: the newest run of a kind stays
    }
    assert store.last_runs(("poll",))["poll"]["status"] == "ok"
    assert store.job_totals() == totals  # /metrics counters never go down


@pytest.fixture
def hook() -> Iterator[tuple[list[dict[str, Any]], str]]:
    """A webhook receiver on 127.0.0.1 that keeps what it is sent."""
    posts: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            posts.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield posts, f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()


def test_weekly_and_monthly_reports_are_written_and_announced(
    settings: Settings, store: Store, context: jobs.Context, hook: tuple[list[dict[str, Any]], str]
) -> None:
    posts, url = hook
    jobs.poll()
    jobs.process()
    stored = datetime.now(UTC)
    context.settings = settings.model_copy(
        update={"webhook_urls": [url], "app_url": "https://mw.example.org"}
    )
    monday = (stored + timedelta(days=7 - stored.weekday())).replace(hour=11, minute=0)
    context.clock = lambda: monday
    week = jobs.report_weekly()
    monday_before = (monday - timedelta(days=7)).date()
    page = settings.data_dir / "reports" / f"coverage-week-{monday_before}.html"
    assert page.is_file() and "<svg" in page.read_text()
    assert week["articles"] == 3 and week["announced"] == 1  # this week's stories, in last week's report
    assert posts == [
        {"text": f"MediaWatch: coverage report ready: https://mw.example.org/reports/{page.name}"}
    ]

    first = (stored.replace(day=1) + timedelta(days=32)).replace(day=1)  # next month's 1st
    context.clock = lambda: first
    month = jobs.report_monthly()
    assert (settings.data_dir / "reports" / f"coverage-month-{stored:%Y-%m}.html").is_file()
    assert month["articles"] == 3
    runs = store.last_runs(("report_weekly", "report_monthly"))
    assert runs["report_weekly"]["status"] == runs["report_monthly"]["status"] == "ok"


def test_retraining_switched_off_is_recorded_as_skipped(
    settings: Settings, store: Store, context: jobs.Context
) -> None:
    """(The gate itself, refusing a worse model and keeping the files, is tested in test_learning.)"""
    context.settings = settings.model_copy(update={"nightly_retrain": False})
    assert jobs.retrain() == {}
    last = store.last_runs(("retrain",))["retrain"]
    assert last["status"] == "skipped" and "MEDIAWATCH_NIGHTLY_RETRAIN" in last["error"]
