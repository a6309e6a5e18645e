"""Distributed mode: Celery workers with a Redis broker, sharing one database.

Only imported when ``redis_url`` is set: embedded mode never loads celery or redis.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..settings import Settings


def enqueue_due(settings: Settings, now: datetime) -> dict[str, int]:
    """Lease and enqueue due work (see ``pipeline.distributed.enqueue``)."""
    from .enqueue import enqueue_due as run

    return run(settings, now)


def queue_depth(settings: Settings, now: datetime) -> dict[str, Any]:
    """Leased, unfinished work by task (``<task>_expired`` for work lost with a worker)."""
    from .enqueue import queue_depth as run

    return run(settings, now)
