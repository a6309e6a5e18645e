"""`mediawatch run`: cycles on a schedule (APScheduler), one at a time, until stopped."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from apscheduler.schedulers.blocking import BlockingScheduler

from .orchestrate import Pipeline, run_cycle

log = logging.getLogger(__name__)
MISFIRE_GRACE_SECONDS = 300
NOTICE_MINUTES = 5  # urgent alerts, the digest at its hour, escalation reminders


def _cycle(p: Pipeline) -> None:
    try:
        run_cycle(p)
    except Exception:  # a failed cycle is recorded in runs; the service keeps going
        log.exception("cycle failed")


def _notices(p: Pipeline) -> None:
    from .notices import send_due_notices

    try:
        stats = send_due_notices(p.store, p.settings, datetime.now(UTC))
        if stats:
            log.info("notices %s", " ".join(f"{k}={v}" for k, v in sorted(stats.items())))
    except Exception:  # mail trouble never stops the service
        log.exception("notices failed")


def make_scheduler(p: Pipeline) -> BlockingScheduler:
    scheduler = BlockingScheduler(timezone=p.settings.timezone)
    scheduler.add_job(
        _cycle,
        "interval",
        args=[p],
        id="cycle",
        minutes=p.settings.poll_interval_minutes,
        next_run_time=datetime.now(UTC),
        coalesce=True,
        max_instances=1,
        misfire_grace_time=MISFIRE_GRACE_SECONDS,
        replace_existing=True,
    )
    scheduler.add_job(
        _notices,
        "interval",
        args=[p],
        id="notices",
        minutes=NOTICE_MINUTES,
        coalesce=True,
        max_instances=1,
        misfire_grace_time=MISFIRE_GRACE_SECONDS,
        replace_existing=True,
    )
    return scheduler


def run_forever(p: Pipeline) -> None:
    """Block, running a cycle now and then every poll interval; Ctrl-C or SIGTERM stops."""
    scheduler = make_scheduler(p)
    log.info("scheduler started interval_minutes=%s", p.settings.poll_interval_minutes)
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        log.info("scheduler stopped")
