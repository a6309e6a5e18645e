"""``/healthz`` and ``/metrics``: for monitoring, without a sign-in.

``/healthz`` answers 200 when the database answers and the scheduler's heartbeat is fresh, 503
otherwise, naming what is wrong (JSON either way). ``/metrics`` is Prometheus text; every value
is read from the database at scrape time by a custom collector, so any web process gives the
same figures, whichever process did the work. With ``MEDIAWATCH_METRICS_TOKEN`` set, /metrics
needs ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ..service.status import job_rows, scheduler_state
from ..settings import Settings
from ..store import Store

# job stats that are errors, by pipeline stage
ERROR_STATS = {
    "poll_errors": "poll",
    "malformed": "parse",
    "page_errors": "fetch",
    "article_errors": "extract",
    "revisit_errors": "revisit",
}


class StoreCollector(Collector):
    """Reads the figures from the database on every scrape."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store, self.settings = store, settings

    def collect(self) -> Iterator[Metric]:
        now = datetime.now(UTC)
        yield from self._counts()
        yield from self._totals()
        yield from self._jobs(now)
        queue = GaugeMetricFamily("mediawatch_queue_depth", "Work waiting, by queue.", labels=["queue"])
        for name, n in self.store.queue_depth(now).items():
            queue.add_metric([name], n)
        yield queue
        leased = GaugeMetricFamily(
            "mediawatch_tasks_leased",
            "Distributed mode: work handed to workers and not finished, by task "
            "(expired=1: lost, sent again by the next enqueue).",
            labels=["task", "expired"],
        )
        for key, n in self.store.lease_counts(now).items():
            expired = key.endswith("_expired")
            leased.add_metric([key.removesuffix("_expired"), "1" if expired else "0"], n)
        yield leased
        quarantined = self.store.quarantine_count()
        yield GaugeMetricFamily("mediawatch_quarantined", "Poison inputs in quarantine.", value=quarantined)

    def _counts(self) -> Iterator[Metric]:
        counts = self.store.metric_counts()
        yield GaugeMetricFamily("mediawatch_articles", "Articles stored.", value=counts["articles"][""])
        yield _labelled("mediawatch_alerts", "Alerts by status.", "status", counts["alerts"])
        yield _labelled("mediawatch_entries", "Feed entries by status.", "status", counts["entries"])
        yield _labelled(
            "mediawatch_sources_last_status",
            "Enabled sources by the HTTP status of their last poll (0: no response).",
            "code",
            counts["source_status"],
        )
        yield GaugeMetricFamily(
            "mediawatch_sources_failing",
            "Enabled sources whose last poll failed.",
            value=counts["sources_failing"][""],
        )

    def _totals(self) -> Iterator[Metric]:
        totals = self.store.job_totals()
        polls = CounterMetricFamily("mediawatch_polls", "Feed polls (scheduler and workers).")
        polls.add_metric([], sum(j.get("polls", 0) for j in totals.values()))
        yield polls
        http = CounterMetricFamily(
            "mediawatch_http_responses", "HTTP responses by status code.", labels=["code"]
        )
        errors = CounterMetricFamily("mediawatch_errors", "Errors by pipeline stage.", labels=["stage"])
        runs = CounterMetricFamily(
            "mediawatch_job_runs", "Job runs by job and outcome.", labels=["job", "status"]
        )
        codes: dict[str, float] = {}
        stages: dict[str, float] = dict.fromkeys(ERROR_STATS.values(), 0.0)
        for job, stats in totals.items():
            for key, n in stats.items():
                if key.startswith("http_"):
                    codes[key[5:]] = codes.get(key[5:], 0) + n
                elif key in ERROR_STATS:
                    stages[ERROR_STATS[key]] += n
                elif key.startswith("runs:"):
                    runs.add_metric([job, key[5:]], n)
        for code, n in sorted(codes.items()):
            http.add_metric([code], n)
        for stage, n in stages.items():
            errors.add_metric([stage], n)
        yield from (http, errors, runs)

    def _jobs(self, now: datetime) -> Iterator[Metric]:
        lag = GaugeMetricFamily(
            "mediawatch_job_lag_seconds",
            "How far past its next run time each job is (0: on time).",
            labels=["job"],
        )
        last_ok = GaugeMetricFamily(
            "mediawatch_job_last_success_timestamp_seconds", "When each job last succeeded.", labels=["job"]
        )
        for row in job_rows(self.store, self.settings, now):
            if row["next_run_at"] is not None:
                lag.add_metric([row["job"]], max(0.0, (now - row["next_run_at"]).total_seconds()))
            if row["last_ok_at"] is not None:
                last_ok.add_metric([row["job"]], row["last_ok_at"].timestamp())
        yield from (lag, last_ok)
        beat = scheduler_state(self.store, self.settings, now)
        up = GaugeMetricFamily("mediawatch_scheduler_up", "1 when the scheduler's heartbeat is fresh.")
        up.add_metric([], 1.0 if beat["ok"] else 0.0)
        yield up


def _labelled(name: str, doc: str, label: str, values: dict[str, int]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=[label])
    for key, n in sorted(values.items()):
        family.add_metric([key], n)
    return family


def router(store: Store, settings: Settings) -> APIRouter:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store, settings))
    api = APIRouter()

    @api.get("/healthz", include_in_schema=False)
    def healthz() -> JSONResponse:
        """200 when the database answers and the scheduler's heartbeat is fresh; 503 naming what is not."""
        now = datetime.now(UTC)
        out: dict[str, Any] = {"status": "ok", "problems": []}
        try:
            out["schema"] = store.schema_revision()
            out["database"] = "ok"
            state = scheduler_state(store, settings, now)
            out["scheduler"] = {k: v for k, v in state.items() if k != "holder"}  # no host or pid
        except Exception as exc:  # the database does not answer
            out["database"] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            out["problems"].append(f"database: {out['database']}")
        else:
            if not out["scheduler"]["ok"]:
                out["problems"].append(f"scheduler: {out['scheduler']['problem']}")
        if out["problems"]:
            out["status"] = "fail"
        return JSONResponse(out, status_code=503 if out["problems"] else 200)

    @api.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        token = settings.metrics_token.get_secret_value()
        if token:
            sent = request.headers.get("authorization", "")
            if not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
                return Response("bearer token required\n", 401, {"WWW-Authenticate": "Bearer"}, "text/plain")
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return api
