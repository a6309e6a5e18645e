"""When to check a source next: adapted to how often it publishes, backed off when it fails,
always with random jitter so that sources (and retries) never fire together."""

from __future__ import annotations

import random
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

MIN_DATES = 3  # publication dates needed before the gap between them is believed
GAP_WEIGHT = 0.5  # new observation's weight against the remembered gap


@dataclass(frozen=True, slots=True)
class SchedulePolicy:
    min_minutes: float = 5.0
    max_minutes: float = 360.0
    max_backoff_minutes: float = 1440.0
    jitter: float = 0.15  # ± share of the interval

    def clamp(self, minutes: float) -> float:
        return min(self.max_minutes, max(self.min_minutes, minutes))


def publish_gap(dates: list[datetime]) -> float | None:
    """Median minutes between consecutive publication dates, or None with too few dates."""
    ordered = sorted(set(dates))
    if len(ordered) < MIN_DATES:
        return None
    gaps = [(b - a).total_seconds() / 60 for a, b in pairwise(ordered)]
    return statistics.median(gaps)


def blend_gap(remembered: float | None, observed: float | None) -> float | None:
    """Smooth the gap so one burst of items does not swing the schedule."""
    if observed is None:
        return remembered
    if remembered is None:
        return observed
    return remembered * (1 - GAP_WEIGHT) + observed * GAP_WEIGHT


def poll_minutes(configured: float, gap: float | None, policy: SchedulePolicy) -> float:
    """Check twice per usual gap between items; before any gap is known, the configured interval."""
    return policy.clamp(gap / 2 if gap is not None else configured)


def backoff_minutes(interval: float, errors: int, policy: SchedulePolicy, rng: random.Random) -> float:
    """Exponential backoff from the interval, capped, with 'equal jitter' (half fixed, half random)."""
    ceiling = min(interval * 2.0 ** min(errors, 16), policy.max_backoff_minutes)
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


def jittered(now: datetime, minutes: float, policy: SchedulePolicy, rng: random.Random) -> datetime:
    return now + timedelta(minutes=minutes * rng.uniform(1 - policy.jitter, 1 + policy.jitter))
