"""Where the service stands, read from the database: for `mediawatch status` and /healthz.

A job *lags* when its next run time is in the past by more than the misfire grace (the scheduler
is down, stuck, or busy with a long job). The heartbeat is *fresh* when the scheduler wrote it
within three heartbeat intervals.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ..settings import Settings
from ..store import Store
from .jobs import JOB_NAMES

BEATS = 3  # heartbeats that may be missed before the scheduler counts as gone


def scheduler_state(store: Store, settings: Settings, now: datetime) -> dict[str, Any]:
    """{"ok": bool, "state": running|stale|stopped|never started, "problem": str|None, ...}."""
    found = store.service_state()
    if found is None:
        return {
            "ok": False,
            "state": "never started",
            "problem": "no `mediawatch run` has run on this database",
        }
    age = (now - found["heartbeat"]).total_seconds()
    out = {
        "holder": found["holder"],
        "started_at": found["started_at"].isoformat(),
        "heartbeat_age_seconds": round(age, 1),
    }
    if found["status"] != "running":
        when = found["finished_at"].isoformat() if found["finished_at"] else "?"
        return out | {
            "ok": False,
            "state": found["status"],
            "problem": f"the scheduler {found['status']} at {when}",
        }
    if age > BEATS * settings.heartbeat_seconds:
        problem = f"the scheduler's heartbeat is {age:.0f} s old (more than {BEATS} beats)"
        return out | {"ok": False, "state": "stale", "problem": problem}
    return out | {"ok": True, "state": "running", "problem": None}


def job_rows(store: Store, settings: Settings, now: datetime) -> list[dict[str, Any]]:
    """Each job: its last run, its next run time and whether it lags."""
    schedule = store.job_schedule()
    last = store.last_runs(tuple(dict.fromkeys((*JOB_NAMES, *schedule))))
    grace = timedelta(minutes=settings.misfire_grace_minutes)
    rows = []
    for name in dict.fromkeys((*JOB_NAMES, *schedule)):
        run = last.get(name, {})
        when = schedule.get(name)
        late = (now - when).total_seconds() if when is not None and now - when > grace else None
        rows.append(
            {
                "job": name,
                "scheduled": name in schedule,
                "next_run_at": when,
                "lag_seconds": round(late, 1) if late is not None else None,
                "last_status": run.get("status"),
                "last_started_at": run.get("started_at"),
                "last_seconds": run.get("seconds"),
                "last_ok_at": run.get("last_ok_at"),
                "last_error": run.get("error"),
                "last_stats": run.get("stats") or {},
            }
        )
    return rows


def failing_sources(store: Store, settings: Settings, now: datetime) -> list[dict[str, Any]]:
    """Enabled sources whose last poll failed, with the health warning if there is one."""
    rows = store.source_health(now, timedelta(hours=settings.failing_warning_hours), settings.quiet_factor)
    keys = ("id", "outlet", "url", "errors", "last_status", "last_error", "failing_since", "warning")
    return [{k: r[k] for k in keys} for r in rows if r["enabled"] and (r["errors"] or r["warning"])]


def status(store: Store, settings: Settings, now: datetime) -> dict[str, Any]:
    jobs = job_rows(store, settings, now)
    return {
        "checked_at": now,
        "scheduler": scheduler_state(store, settings, now),
        "jobs": jobs,
        "lagging": [j["job"] for j in jobs if j["lag_seconds"] is not None],
        "failing_sources": failing_sources(store, settings, now),
        "queue": store.queue_depth(now),
        "leased": store.lease_counts(now),
        "quarantined": store.quarantine_count(),
    }
