"""`mediawatch run`: APScheduler with its job store in the database, one scheduler per database.

Start-up: take the scheduler lock (or wait as a standby, naming the holder, and take over when
it goes away); record this process in the runs table; start the scheduler paused, bring the
stored jobs in line with the settings (polling and processing start at once; a daily, weekly or
monthly job whose trigger is unchanged keeps its stored next run time, so one missed during a
short stop runs on restart within the misfire grace); resume. The main thread then beats
(heartbeat row, lock check) until SIGTERM or Ctrl-C.

Stop: no job starts any more; the running job finishes (entry processing stops after its current
chunk and leaves the rest pending); the scheduler shuts down; the lock is released; exit 0.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from ..errors import MediaWatchError
from ..settings import Settings
from ..store import Store
from ..store.service import JOB_TABLE
from . import jobs
from .lock import ServiceLock, describe, lock_for, whoami

log = logging.getLogger(__name__)


class LockHeldError(MediaWatchError):
    """Another `mediawatch run` schedules for this database (and --no-wait was given)."""


@dataclass(frozen=True)
class JobSpec:
    id: str
    func: Callable[[], Any]
    trigger: BaseTrigger
    executor: str  # "pipeline" jobs share the Pipeline and run one at a time; "default" the rest
    start_now: bool = False


def job_specs(settings: Settings) -> list[JobSpec]:
    """The jobs these settings ask for (distributed mode: workers fetch, so no process/revisit)."""
    tz = settings.timezone

    def every(minutes: int) -> IntervalTrigger:
        return IntervalTrigger(minutes=minutes, timezone=tz)

    def at(hhmm: str, **days: Any) -> CronTrigger:
        hour, minute = hhmm.split(":")
        return CronTrigger(hour=int(hour), minute=int(minute), timezone=tz, **days)

    specs = [
        JobSpec("poll", jobs.poll, every(settings.poll_interval_minutes), "pipeline", True),
        JobSpec("process", jobs.process, every(settings.process_interval_minutes), "pipeline", True),
        JobSpec("revisit", jobs.revisit, every(settings.revisit_interval_minutes), "pipeline", True),
        JobSpec("notices", jobs.notices, every(settings.notice_interval_minutes), "default", True),
        JobSpec("report_weekly", jobs.report_weekly, at(settings.report_time, day_of_week="mon"), "default"),
        JobSpec("report_monthly", jobs.report_monthly, at(settings.report_time, day=1), "default"),
        JobSpec("retrain", jobs.retrain, at(settings.retrain_time), "default"),
        JobSpec("retention", jobs.retention, at(settings.retention_time), "default"),
        JobSpec("backup", jobs.backup, at(settings.backup_time), "default"),
    ]
    if settings.redis_url:
        specs = [s for s in specs if s.id not in ("process", "revisit")]
    return specs


def make_scheduler(settings: Settings, store: Store) -> BackgroundScheduler:
    """A scheduler whose jobs live in the database (table ``apscheduler_jobs``)."""
    return BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=store.engine, tablename=JOB_TABLE)},
        executors={"default": ThreadPoolExecutor(1), "pipeline": ThreadPoolExecutor(1)},
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": settings.misfire_grace_minutes * 60,
        },
        timezone=settings.timezone,
    )


def stop_scheduler(scheduler: BackgroundScheduler, wait: bool = True) -> None:
    """Shut down without touching the stored schedule. (APScheduler's shutdown looks at due jobs
    once more after its executors are gone: each fails to start, and its next run time moves on,
    so a job due then, e.g. while the lock was lost, would be skipped. Detached first, the job
    store keeps those times for the next start.)"""
    scheduler.remove_jobstore("default", shutdown=False)
    scheduler.shutdown(wait=wait)


def _same(a: BaseTrigger, b: BaseTrigger) -> bool:
    return (str(a), str(getattr(a, "timezone", ""))) == (str(b), str(getattr(b, "timezone", "")))


def sync_jobs(scheduler: BackgroundScheduler, settings: Settings) -> None:
    """Make the stored jobs those of *settings*. Polling, processing, revisits and notices run
    at once; the daily, weekly and monthly jobs keep their stored next run time when their
    trigger is unchanged (one missed during a short stop runs within the misfire grace)."""
    specs = {s.id: s for s in job_specs(settings)}
    grace = settings.misfire_grace_minutes * 60
    for job in scheduler.get_jobs():
        if job.id not in specs:
            scheduler.remove_job(job.id)
            log.info("job removed job=%s", job.id)
    for spec in specs.values():
        stored = scheduler.get_job(spec.id)
        options: dict[str, Any] = {
            "executor": spec.executor,
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": grace,
        }
        when = {"next_run_time": datetime.now(UTC)} if spec.start_now else {}
        if stored is not None and _same(stored.trigger, spec.trigger):
            scheduler.modify_job(spec.id, func=spec.func, args=(), kwargs={}, **options, **when)
            continue
        scheduler.add_job(
            spec.func, spec.trigger, id=spec.id, name=spec.id, replace_existing=True, **options, **when
        )


class Service:
    """One `mediawatch run` process: lock, scheduler, heartbeat, clean stop."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        feeds_file: Path | None = None,
        base_url: str | None = None,
        wait: bool = True,
    ) -> None:
        self.settings, self.store, self.wait = settings, store, wait
        self.stopping = threading.Event()
        self.context = jobs.Context(settings, store, feeds_file, base_url, stopping=self.stopping)
        self.lock: ServiceLock = lock_for(store.engine)
        self.service_id = 0  # its row in the runs table, once it schedules

    def stop(self, *_signal: Any) -> None:
        if not self.stopping.is_set():
            log.warning("stopping: no new job starts; the running one finishes")
        self.stopping.set()

    def run(self) -> None:
        """Block until stopped; returns normally after a clean stop."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self.stop)
        self.context.pipeline()  # feeds.yaml and rules are checked now, not at the first job
        if not self._take_lock():
            return
        if self.stopping.is_set():  # SIGTERM came while starting: nothing to undo but the lock
            self.lock.release()
            return
        jobs.install(self.context)
        self.service_id = self.store.start_service(whoami(), jobs.JOB_NAMES)
        scheduler = make_scheduler(self.settings, self.store)
        scheduler.start(paused=True)
        try:
            sync_jobs(scheduler, self.settings)
            scheduler.resume()
            log.warning("scheduler started jobs=%s", ",".join(j.id for j in scheduler.get_jobs()))
            self._beat(scheduler)
        finally:
            self.stopping.set()
            stop_scheduler(scheduler)  # waits for the running job
            self.context.close()
            self._finish()
            jobs.install(None)
        log.warning("scheduler stopped cleanly")

    def _try_lock(self, quiet: bool = False) -> bool:
        """Hold the lock (again); False while another process has it or the database is away."""
        try:
            return self.lock.held() or self.lock.acquire()
        except Exception as exc:  # the database does not answer: as if the lock were taken
            if not quiet:
                log.warning("scheduler lock not checked: %s", _first_line(exc))
            return False

    def _holder(self) -> str:
        try:
            return describe(self.lock.holder())
        except Exception:  # the database does not answer
            return "unknown: the database does not answer"

    def _take_lock(self) -> bool:
        said = False
        while not self._try_lock(quiet=said):
            holder = self._holder()
            if not self.wait:
                raise LockHeldError(f"another `mediawatch run` holds the scheduler lock: {holder}")
            if not said:
                log.warning("standby: another `mediawatch run` holds the scheduler lock (%s); "
                            "this one takes over when it stops", holder)  # fmt: skip
                said = True
            if self.stopping.wait(self.settings.lock_retry_seconds):
                return False
        log.warning("scheduler lock taken %s", describe(whoami()))
        return True

    def _beat(self, scheduler: BackgroundScheduler) -> None:
        """Every heartbeat: check the lock (pause the jobs while it is lost), record the beat."""
        paused = False
        while not self.stopping.wait(self.settings.heartbeat_seconds):
            if not self._try_lock(quiet=paused):
                if not paused:
                    log.error("scheduler lock lost (database restarted?): no job starts until it is back")
                    scheduler.pause()
                    paused = True
                continue
            try:
                if paused:
                    self._resume(scheduler)
                    paused = False
                self.store.beat(self.service_id)
            except Exception as exc:  # the database is away for a moment: the jobs will say so
                log.warning("heartbeat not recorded: %s", _first_line(exc))

    def _resume(self, scheduler: BackgroundScheduler) -> None:
        """The lock is back. If another process scheduled meanwhile, this one records itself again."""
        latest = self.store.service_state()
        if latest is None or latest["id"] != self.service_id:
            self.service_id = self.store.start_service(whoami(), jobs.JOB_NAMES)
        log.warning("scheduler lock back: jobs resume")
        scheduler.resume()

    def _finish(self) -> None:
        try:
            self.store.stop_service(self.service_id)
        except Exception as exc:
            log.warning("stop not recorded: %s", exc)
        self.lock.release()


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def run_service(settings: Settings, store: Store, feeds_file: Path | None = None, wait: bool = True) -> None:
    Service(settings, store, feeds_file, wait=wait).run()
