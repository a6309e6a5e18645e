"""What `mediawatch run` records about itself, and what /healthz, /metrics and `status` read.

Everything lives in the ``runs`` table (no table of its own):

- one row per job run (``kind`` = the job's name) with its stats and error;
- one row per service process (``kind = "service"``): who holds the scheduler lock, and its
  heartbeat in ``stats["heartbeat"]``, refreshed every few seconds while it runs;
- one row ``kind = "totals"``: every job's stats added up since the database was created, so
  the Prometheus counters never go down when retention deletes old runs.

The scheduler's own ``apscheduler_jobs`` table (APScheduler's job store) gives each job's next
run time, hence how late it is.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from . import search
from .base import StoreBase, utcnow
from .schema import Alert, Article, Entry, Invitation, LoginFailure, Run, SessionRow, Source

SERVICE = "service"
TOTALS = "totals"
JOB_TABLE = "apscheduler_jobs"
LOGIN_FAILURE_DAYS = 1  # sign-in throttling looks back 15 minutes; a day is plenty for a look
_totals_lock = threading.Lock()


def _add_totals(s: Session, kind: str, stats: dict[str, Any]) -> None:
    """Add *stats* to the totals row's counts for *kind* (the row is locked until commit)."""
    totals = s.scalars(select(Run).where(Run.kind == TOTALS).with_for_update()).first()
    if totals is None:
        totals = Run(kind=TOTALS, started_at=utcnow(), status="totals", stats={})
        s.add(totals)
    added = {k: dict(counts) for k, counts in totals.stats.items()}  # a new value: saved
    job = added.setdefault(kind, {})
    for key, n in stats.items():
        if isinstance(n, int | float):
            job[key] = job.get(key, 0) + n
    totals.stats = added


class ServiceStore(StoreBase):
    def start_service(self, holder: dict[str, Any], jobs: tuple[str, ...]) -> int:
        """Record this process as the scheduler; runs a killed holder left open are closed first."""
        now = utcnow()
        with self.sessions.begin() as s:
            s.execute(
                update(Run)
                .where(Run.kind == SERVICE, Run.status == "running")
                .values(status="lost", finished_at=now, error="the process ended without stopping")
            )
            s.execute(
                update(Run)
                .where(Run.kind.in_(jobs), Run.status == "running")
                .values(status="interrupted", finished_at=now, error="the scheduler died during the run")
            )
            row = Run(
                kind=SERVICE, started_at=now, status="running", stats={**holder, "heartbeat": _iso(now)}
            )
            s.add(row)
            s.flush()
            return row.id

    def beat(self, service_id: int, **extra: Any) -> None:
        with self.sessions.begin() as s:
            row = s.get_one(Run, service_id)
            row.stats = {**row.stats, **extra, "heartbeat": _iso(utcnow())}

    def stop_service(self, service_id: int, status: str = "stopped") -> None:
        with self.sessions.begin() as s:
            row = s.get_one(Run, service_id)
            row.status, row.finished_at = status, utcnow()

    def service_state(self) -> dict[str, Any] | None:
        """The latest scheduler process: status, holder, started, heartbeat (None if none ever ran)."""
        with self.session() as s:
            row = s.scalars(select(Run).where(Run.kind == SERVICE).order_by(Run.id.desc()).limit(1)).first()
        if row is None:
            return None
        stats = dict(row.stats)
        beat = stats.pop("heartbeat", None)
        return {
            "id": row.id,
            "status": row.status,
            "started_at": row.started_at,
            "finished_at": row.finished_at,
            "heartbeat": datetime.fromisoformat(beat) if beat else row.started_at,
            "holder": stats,
        }

    def finish_job(self, run_id: int, stats: dict[str, int], status: str, error: str | None) -> None:
        """Close a job's run and add its stats (and its status) to the running totals."""
        with _totals_lock, self.sessions.begin() as s:
            run = s.get_one(Run, run_id)
            run.finished_at, run.stats, run.status, run.error = utcnow(), stats, status, error
            _add_totals(s, run.kind, {**stats, f"runs:{status}": 1})

    def add_totals(self, kind: str, stats: dict[str, int]) -> None:
        """Add counts to the running totals under *kind* without a run of their own (what worker
        processes did since they last reported)."""
        with _totals_lock, self.sessions.begin() as s:
            _add_totals(s, kind, stats)

    def job_totals(self) -> dict[str, dict[str, float]]:
        """{job: {stat: total}} over every job run ever recorded (``runs:ok`` etc. count runs)."""
        with self.session() as s:
            row = s.scalars(select(Run).where(Run.kind == TOTALS)).first()
        return dict(row.stats) if row is not None else {}

    def last_runs(self, kinds: tuple[str, ...]) -> dict[str, dict[str, Any]]:
        """The latest run of each kind, and when one last succeeded (two grouped scans of runs)."""
        with self.session() as s:
            latest = select(func.max(Run.id)).where(Run.kind.in_(kinds)).group_by(Run.kind)
            ok = dict(
                s.execute(
                    select(Run.kind, func.max(Run.finished_at))
                    .where(Run.kind.in_(kinds), Run.status == "ok")
                    .group_by(Run.kind)
                ).all()
            )
            return {
                last.kind: {
                    "status": last.status,
                    "started_at": last.started_at,
                    "finished_at": last.finished_at,
                    "seconds": _seconds(last.started_at, last.finished_at),
                    "stats": last.stats,
                    "error": last.error,
                    "last_ok_at": _aware(ok.get(last.kind)),
                }
                for last in s.scalars(select(Run).where(Run.id.in_(latest)))
            }

    def job_schedule(self) -> dict[str, datetime | None]:
        """Each scheduled job's next run time from APScheduler's table ({} before the first run)."""
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(text(f"SELECT id, next_run_time FROM {JOB_TABLE}")).all()
        except DBAPIError:  # the scheduler never ran against this database
            return {}
        return {
            str(job_id): None if when is None else datetime.fromtimestamp(float(when), UTC)
            for job_id, when in rows
        }

    def queue_depth(self, now: datetime | None = None) -> dict[str, int]:
        """Work waiting: entries to process (due now or later) and alerts waiting for people."""
        now = now or utcnow()
        with self.session() as s:
            waiting = Entry.status == "new"
            due = and_(waiting, (Entry.retry_at.is_(None)) | (Entry.retry_at <= now))
            alerts = dict(
                s.execute(
                    select(Alert.status, func.count())
                    .where(Alert.status.in_(("new", "open")))
                    .group_by(Alert.status)
                ).all()
            )
            return {
                "entries_pending": s.scalar(select(func.count()).where(due)) or 0,
                "entries_waiting_retry": s.scalar(select(func.count()).where(waiting, ~due)) or 0,
                "alerts_new": int(alerts.get("new", 0)),
                "alerts_open": int(alerts.get("open", 0)),
            }

    def metric_counts(self) -> dict[str, dict[str, int]]:
        """Row counts for /metrics, grouped: articles, alerts by status, entries by status,
        sources by the HTTP status of their last poll, and failing sources."""
        with self.session() as s:
            return {
                "articles": {"": s.scalar(select(func.count()).select_from(Article)) or 0},
                "alerts": _grouped(s.execute(select(Alert.status, func.count()).group_by(Alert.status))),
                "entries": _grouped(s.execute(select(Entry.status, func.count()).group_by(Entry.status))),
                "source_status": _grouped(
                    s.execute(
                        select(Source.last_status, func.count())
                        .where(Source.enabled.is_(True), Source.last_status.is_not(None))
                        .group_by(Source.last_status)
                    )
                ),
                "sources_failing": {
                    "": s.scalar(select(func.count()).where(Source.enabled.is_(True), Source.error_count > 0))
                    or 0
                },
            }

    def prune_expired(self, now: datetime, runs_keep_days: int) -> dict[str, int]:
        """Delete expired sessions and unanswered invitations, old sign-in failures, and runs
        older than *runs_keep_days* (never the totals, a running service or the newest of a kind)."""
        cutoff = now - timedelta(days=runs_keep_days)
        newest = select(func.max(Run.id)).group_by(Run.kind)
        statements = {
            "sessions_expired": delete(SessionRow).where(SessionRow.expires_at < now),
            "invitations_expired": delete(Invitation).where(
                Invitation.expires_at < now, Invitation.accepted_at.is_(None)
            ),
            "login_failures_pruned": delete(LoginFailure).where(
                LoginFailure.at < now - timedelta(days=LOGIN_FAILURE_DAYS)
            ),
            "runs_pruned": delete(Run).where(
                Run.started_at < cutoff,
                Run.kind != TOTALS,
                Run.status != "running",
                Run.id.not_in(newest),
            ),
        }
        out: dict[str, int] = {}
        with self.sessions.begin() as s:
            for name, statement in statements.items():
                out[name] = int(getattr(s.execute(statement), "rowcount", 0) or 0)
        return out


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Alembic ``include_name`` hook: leave out what schema.py does not declare, the search index
    (migration 0009, raw SQL) and APScheduler's job table (created by APScheduler itself)."""
    return name != JOB_TABLE and search.include_name(name, type_, parent_names)


def _grouped(rows: Any) -> dict[str, int]:
    return {str(key): int(n) for key, n in rows}


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat()


def _aware(when: datetime | None) -> datetime | None:
    if when is None:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    return round((end - start).total_seconds(), 3) if start and end else None
