"""Retention: what the nightly clean-up deletes, and how long things are kept.

- raw article pages after ``raw_page_days`` (``raw_page_alerted_days`` for pages of alerted
  articles; 0 keeps them for ever), as each cycle already did;
- expired sign-in sessions and invitations nobody accepted before they expired;
- sign-in failures older than a day (throttling looks back 15 minutes);
- rows of the runs table older than ``runs_keep_days`` (the newest run of each kind and the
  running totals behind /metrics stay).
"""

from __future__ import annotations

from datetime import datetime

from .settings import Settings
from .store import Store


def apply_retention(store: Store, settings: Settings, now: datetime) -> dict[str, int]:
    stats = {
        "raw_pages_pruned": store.prune_raw_pages(now, settings.raw_page_days, settings.raw_page_alerted_days)
    }
    stats.update(store.prune_expired(now, settings.runs_keep_days))
    return stats
