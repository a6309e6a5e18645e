"""When a source is checked next (pipeline/schedule.py)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from pipeline.schedule import SchedulePolicy, backoff_minutes, blend_gap, jittered, poll_minutes, publish_gap

T0 = datetime(2026, 11, 20, tzinfo=UTC)
POLICY = SchedulePolicy(min_minutes=10, max_minutes=360, max_backoff_minutes=1440, jitter=0.15)


@pytest.mark.parametrize(
    ("offsets_min", "gap"),
    [
        ([0, 60, 120, 180], 60.0),
        ([0, 10, 200, 210, 220], 10.0),  # the median ignores one long pause
        ([180, 0, 60, 120, 60], 60.0),  # order and repeats do not matter
        ([0, 60], None),  # too few dates to believe
        ([], None),
    ],
)
def test_publish_gap_is_the_median_gap(offsets_min: list[int], gap: float | None) -> None:
    assert publish_gap([T0 + timedelta(minutes=m) for m in offsets_min]) == gap


@pytest.mark.parametrize(
    ("remembered", "observed", "blended"),
    [(None, 60.0, 60.0), (60.0, None, 60.0), (60.0, 120.0, 90.0), (None, None, None)],
)
def test_gap_is_smoothed(remembered: float | None, observed: float | None, blended: float | None) -> None:
    assert blend_gap(remembered, observed) == blended


@pytest.mark.parametrize(
    ("configured", "gap", "minutes"),
    [
        (30, None, 30),  # nothing known yet: the feeds.yaml interval
        (30, 60.0, 30),  # twice per gap
        (30, 4.0, 10),  # a very busy feed: never below the minimum
        (30, 5000.0, 360),  # a sleepy feed: never above the maximum
        (1, None, 10),  # feeds.yaml cannot go below the minimum either
    ],
)
def test_interval_follows_the_gap_within_bounds(configured: int, gap: float | None, minutes: float) -> None:
    assert poll_minutes(configured, gap, POLICY) == minutes


def test_backoff_doubles_is_capped_and_jittered() -> None:
    rng = random.Random(7)
    for errors in range(12):
        ceiling = min(30 * 2**errors, 1440)
        waits = [backoff_minutes(30, errors, POLICY, rng) for _ in range(200)]
        assert all(ceiling / 2 <= w <= ceiling for w in waits)
        assert max(waits) - min(waits) > ceiling / 4  # spread out: retries never fire together


def test_jitter_spreads_sources_due_at_once() -> None:
    rng = random.Random(1)
    times = {jittered(T0, 60, POLICY, rng) for _ in range(100)}
    assert len(times) == 100
    assert all(T0 + timedelta(minutes=51) <= t <= T0 + timedelta(minutes=69) for t in times)
