"""What the scheduler does each cycle in distributed mode: lease due work in the database and
send one task per item to the workers."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from ..settings import Settings
from ..store import Store
from .app import configure

log = logging.getLogger(__name__)
UNSCORED_WINDOW = timedelta(days=7)  # articles stored without a score this recently are scored
_stores: dict[str, Store] = {}


def _store(settings: Settings) -> Store:
    store = _stores.get(settings.db_url)
    if store is None:
        store = _stores[settings.db_url] = Store.open(settings.db_url)
    return store


def enqueue_due(settings: Settings, now: datetime) -> dict[str, int]:
    """Lease and enqueue everything that is due; return how many tasks of each kind were sent.

    First the work whose lease expired (a worker was killed, Redis lost its queue): sent again
    with a new lease. Then due sources (poll), new entries (fetch), articles stored without a
    score (score) and scheduled re-fetches (revisit) that nobody holds and that are not in
    quarantine. A lease is written before its message is sent, so a message that never arrives
    costs one lease period, never the work."""
    configure(settings)
    from .tasks import send

    store = _store(settings)
    lease = timedelta(seconds=settings.task_lease_seconds)
    sent: dict[str, int] = {"requeued": 0, "poll": 0, "fetch": 0, "score": 0, "revisit": 0}
    limit = settings.max_entries_per_cycle

    expired: dict[str, list[int]] = {}
    for task, item_id in store.expired_leases(now):
        expired.setdefault(task, []).append(item_id)
    for task, ids in expired.items():
        for item_id, token in store.lease_items(task, ids, now, lease):
            send(task, item_id, token)
            sent["requeued"] += 1

    quarantined = store.quarantined_ids("poll")
    due = [s.id for s in store.due_sources(now, lease=lease) if s.id not in quarantined]
    work: list[tuple[str, list[int]]] = [
        ("poll", due),
        ("fetch", store.unleased_pending_entries(now, limit)),
        ("score", store.unscored_articles(now - UNSCORED_WINDOW, limit)),
        ("revisit", store.unleased_revisits(now, limit)),
    ]
    for task, ids in work:
        for item_id, token in store.lease_items(task, ids, now, lease):
            send(task, item_id, token)
            sent[task] += 1
    log.info("enqueued %s", " ".join(f"{k}={v}" for k, v in sent.items()))
    return sent


def queue_depth(settings: Settings, now: datetime) -> dict[str, Any]:
    """Work handed out and not finished, by task (from the database's leases)."""
    return _store(settings).lease_counts(now)
