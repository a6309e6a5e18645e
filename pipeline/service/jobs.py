"""The jobs `mediawatch run` schedules. Each is a module-level function without arguments, so
APScheduler's job store in the database holds only its name (``pipeline.service.jobs:poll``); the
Pipeline is built inside the process (``install``), never pickled.

Every run of a job is recorded in the runs table (kind = the job's name) with its stats, its
status (ok, failed, skipped) and its error. A failing job never stops the service.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from ..httpcounts import ResponseCounter
from ..orchestrate import Pipeline
from ..prepare import WorkerPool, processes_for
from ..settings import Settings
from ..store import Store

log = logging.getLogger(__name__)
HANDBACK_CHUNK = 32  # entries processed between two looks at the stop flag (SIGTERM)
# with the page workers running, a chunk keeps them busy (16 tasks of 8 pages) and takes about
# as long as 32 entries in this process alone
HANDBACK_CHUNK_WORKERS = 128
# Page worker processes are kept while a process job found enough entries for them in the last
# half hour (a worker costs about two seconds of CPU to start and holds the models in memory).
WORKERS_KEPT_SECONDS = 1800.0
Stats = dict[str, int]
JOB_NAMES = (
    "poll",
    "process",
    "revisit",
    "notices",
    "report_weekly",
    "report_monthly",
    "retrain",
    "retention",
    "backup",
)


class Skipped(Exception):  # noqa: N818 - a job that had nothing to do, not an error
    """The job decided not to run (PostgreSQL backups, retraining off); the message says why."""


@dataclass
class Context:
    """What the jobs of this process share: settings, the store, the Pipeline (built on first use)."""

    settings: Settings
    store: Store
    feeds_file: Path | None = None
    base_url: str | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    stopping: threading.Event = field(default_factory=threading.Event)
    reload_model: bool = False
    _pipeline: Pipeline | None = None
    _http: ResponseCounter | None = None
    _workers_wanted_at: float = 0.0  # (monotonic) when a process job last had work for workers

    def pipeline(self) -> Pipeline:
        if self._pipeline is None:
            from ..orchestrate import build

            self._pipeline = build(self.settings, self.store, self.feeds_file, self.base_url)
            self._pipeline.workers = WorkerPool(self.settings)
            self._http = ResponseCounter(self._pipeline.fetcher)
        if self.reload_model:  # a retrained model was promoted: score with it from now on
            self._pipeline._scorer, self.reload_model = None, False
            self.close()  # (the workers hold the old model)
        return self._pipeline

    def plan_workers(self, p: Pipeline, waiting: int) -> bool:
        """Start the page workers for a job with *waiting* entries if that many would use them
        (the job's chunks then all go to them), and stop them when no job has needed them for
        ``WORKERS_KEPT_SECONDS``. Returns whether they are running."""
        if p.workers is None:
            return False
        wanted = processes_for(self.settings.processes, waiting) if waiting else 1
        now = time.monotonic()
        if wanted > 1:
            self._workers_wanted_at = now
            p.workers.executor(wanted)
        elif p.workers.running and now - self._workers_wanted_at > WORKERS_KEPT_SECONDS:
            log.info("stopping the page worker processes: no large batch for %.0f s", WORKERS_KEPT_SECONDS)
            p.workers.close()
        return p.workers.running

    def close(self) -> None:
        """Stop the page workers (the service is stopping, or the model changed)."""
        if self._pipeline is not None and self._pipeline.workers is not None:
            self._pipeline.workers.close()

    def take_http(self) -> Stats:
        """Responses by HTTP status since the last call."""
        return self._http.take() if self._http is not None else {}


CONTEXT: Context | None = None


def install(context: Context | None) -> None:
    global CONTEXT
    CONTEXT = context


def _context() -> Context:
    if CONTEXT is None:
        raise RuntimeError("pipeline.service.jobs: no context installed in this process")
    return CONTEXT


def run_job(kind: str, body: Callable[[Context], Stats]) -> Stats:
    """Run *body*, recorded in the runs table as *kind*; log and record errors, never raise."""
    ctx = _context()
    if ctx.stopping.is_set():  # queued behind the job that was running at SIGTERM
        log.info("job not started job=%s: the service is stopping", kind)
        return {}
    try:
        run_id = ctx.store.start_run(kind)
    except Exception:  # the database is away: APScheduler tries again at the next time
        log.exception("job not started job=%s: the database does not answer", kind)
        return {}
    stats: Stats = {}
    status, error = "ok", None
    try:
        stats = body(ctx)
    except Skipped as why:
        status, error = "skipped", str(why)
    except Exception as exc:
        log.exception("job failed job=%s", kind)
        status, error = "failed", f"{type(exc).__name__}: {exc}"
    try:
        ctx.store.finish_job(run_id, stats, status, error)
    except Exception as exc:  # the database went away during the job
        log.warning(
            "job not recorded job=%s: %s", kind, str(exc).strip().splitlines()[0] if str(exc) else exc
        )
    fields = " ".join(f"{k}={v}" for k, v in sorted(stats.items()))
    log.info("job done job=%s status=%s %s%s", kind, status, fields, f" error={error!r}" if error else "")
    return stats


def _stage(ctx: Context, work: Callable[[Pipeline], None]) -> Stats:
    p = ctx.pipeline()
    p.stats = {}
    ctx.take_http()
    work(p)
    return {**p.stats, **ctx.take_http()}


def _distributed(ctx: Context) -> Stats | None:
    """In distributed mode the scheduler only enqueues; Celery workers do the stages."""
    if not ctx.settings.redis_url:
        return None
    from ..distributed import enqueue_due  # imported here: embedded mode never loads celery/redis

    queued: Stats = enqueue_due(ctx.settings, ctx.clock())
    return queued


def poll() -> Stats:
    """Poll the sources that are due (distributed: enqueue due polls, pages and revisits)."""

    def body(ctx: Context) -> Stats:
        from ..orchestrate import poll_sources

        queued = _distributed(ctx)
        return queued if queued is not None else _stage(ctx, lambda p: poll_sources(p, ctx.clock()))

    return run_job("poll", body)


def process() -> Stats:
    """Fetch, extract, score and alert new entries, a chunk at a time; after SIGTERM no new
    chunk starts and the remaining entries stay pending for the next run."""

    def body(ctx: Context) -> Stats:
        from ..orchestrate import process_entries

        limit, total = ctx.settings.max_entries_per_cycle, Counter[str]()
        workers = ctx.plan_workers(ctx.pipeline(), len(ctx.store.pending_entries(limit)))
        size = min(HANDBACK_CHUNK_WORKERS if workers else HANDBACK_CHUNK, limit)
        chunk = ctx.settings.model_copy(update={"max_entries_per_cycle": size})
        handled, taken = 0, 0

        def one_chunk(p: Pipeline) -> None:
            nonlocal taken
            taken = process_entries(p)

        while handled < limit and not ctx.stopping.is_set():
            p = ctx.pipeline()
            settings, p.settings = p.settings, chunk
            try:
                total.update(_stage(ctx, one_chunk))
            finally:
                p.settings = settings
            if not taken:
                break
            handled += taken
        if ctx.stopping.is_set():
            total["handed_back"] = len(ctx.store.pending_entries(limit))
        return dict(total)

    return run_job("process", body)


def revisit() -> Stats:
    """Re-fetch watched articles that are due; then re-rank open alerts."""

    def body(ctx: Context) -> Stats:
        from ..alert import priority
        from ..orchestrate import revisit_articles

        now = ctx.clock()
        stats = _stage(ctx, lambda p: revisit_articles(p, now))
        stats["reprioritised"] = ctx.store.reprioritise(priority, now)
        return stats

    return run_job("revisit", body)


def notices() -> Stats:
    """Urgent alerts at once, the daily digest at its hour, escalation reminders."""

    def body(ctx: Context) -> Stats:
        from ..notices import send_due_notices

        return send_due_notices(ctx.store, ctx.settings, ctx.clock())

    return run_job("notices", body)


def retention() -> Stats:
    def body(ctx: Context) -> Stats:
        from ..retention import apply_retention

        return apply_retention(ctx.store, ctx.settings, ctx.clock())

    return run_job("retention", body)


def backup() -> Stats:
    def body(ctx: Context) -> Stats:
        from ..backup import backup_sqlite, backups

        engine = ctx.store.engine
        if engine.dialect.name != "sqlite":
            raise Skipped(f"{engine.dialect.name}: back it up with pg_dump (docs/operations.md)")
        target = backup_dir(ctx.settings)
        made = backup_sqlite(Path(str(engine.url.database)), target, ctx.settings.backup_keep, ctx.clock())
        log.info("backup written path=%s bytes=%s", made, made.stat().st_size)
        return {"bytes": made.stat().st_size, "kept": len(backups(target))}

    return run_job("backup", body)


def backup_dir(settings: Settings) -> Path:
    return settings.backup_dir or settings.data_dir / "backups"


def retrain() -> Stats:
    """Train a candidate classifier on the corpora plus people's verdicts; it replaces the
    current model only if its validation macro-F1 is not lower (pipeline.train decides)."""

    def body(ctx: Context) -> Stats:
        from ..train import train

        if not ctx.settings.nightly_retrain:
            raise Skipped("nightly retraining is off (MEDIAWATCH_NIGHTLY_RETRAIN)")
        verdicts = ctx.store.training_labels()
        report = train(ctx.settings.models_dir, verdicts)
        log.warning("retrain decision promoted=%s: %s", report.replaced, report.reason)
        ctx.reload_model = ctx.reload_model or report.replaced
        return {"promoted": int(report.replaced), "verdicts": len(verdicts)}

    return run_job("retrain", body)


def report_weekly() -> Stats:
    """Last week's coverage report (Monday to Sunday, UTC days) into data_dir/reports."""

    def body(ctx: Context) -> Stats:
        end = ctx.clock().astimezone(UTC).date()
        end -= timedelta(days=end.weekday())
        return _report(ctx, end - timedelta(days=7), end, f"coverage-week-{end - timedelta(days=7)}")

    return run_job("report_weekly", body)


def report_monthly() -> Stats:
    """Last month's coverage report into data_dir/reports."""

    def body(ctx: Context) -> Stats:
        end = ctx.clock().astimezone(UTC).date().replace(day=1)
        start = (end - timedelta(days=1)).replace(day=1)
        return _report(ctx, start, end, f"coverage-month-{start:%Y-%m}")

    return run_job("report_monthly", body)


def _report(ctx: Context, start: date, end: date, name: str) -> Stats:
    from ..coverage import generate

    out = ctx.settings.data_dir / "reports" / f"{name}.html"
    utc = [datetime(d.year, d.month, d.day, tzinfo=UTC) for d in (start, end)]
    data = generate(ctx.store, utc[0], utc[1], out)
    log.info("report written path=%s articles=%s alerts=%s", out, data.articles, data.alerts)
    return {"articles": data.articles, "alerts": data.alerts, "announced": _announce(ctx, out.name)}


def _announce(ctx: Context, name: str) -> int:
    """Tell the webhooks (as digests are) that a report is ready; returns how many took it."""
    from ..notify import NotifyError, post_webhook

    link = f"{ctx.settings.app_url.rstrip('/')}/reports/{name}" if ctx.settings.app_url else name
    sent = 0
    for url in ctx.settings.webhook_urls:
        try:
            post_webhook(url, {"text": f"MediaWatch: coverage report ready: {link}"}, ctx.settings.user_agent)
            sent += 1
        except NotifyError as exc:
            log.warning("report announcement failed: %s", exc)
    return sent
