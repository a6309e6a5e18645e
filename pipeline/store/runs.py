"""Runs of the pipeline: when, how long, what they did."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from .base import StoreBase, utcnow
from .schema import Alert, Article, Entry, Run, ScoreRow, Source


class RunsStore(StoreBase):
    def start_run(self, kind: str) -> int:
        with self.sessions.begin() as s:
            run = Run(kind=kind, started_at=utcnow(), status="running", stats={})
            s.add(run)
            s.flush()
            return run.id

    def finish_run(
        self, run_id: int, stats: dict[str, Any], status: str = "ok", error: str | None = None
    ) -> None:
        with self.sessions.begin() as s:
            run = s.get_one(Run, run_id)
            run.finished_at, run.stats, run.status, run.error = utcnow(), stats, status, error

    def counts(self) -> dict[str, int]:
        """How many rows of each main kind are stored."""
        with self.session() as s:
            return {
                name: s.scalar(select(func.count()).select_from(table)) or 0
                for name, table in (
                    ("sources", Source),
                    ("entries", Entry),
                    ("articles", Article),
                    ("scores", ScoreRow),
                    ("alerts", Alert),
                )
            }

    def alert_category_counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        with self.session() as s:
            for cats, kind in s.execute(select(Alert.categories, Alert.kind)):
                for c in cats or [kind]:
                    out[c] = out.get(c, 0) + 1
        return dict(sorted(out.items(), key=lambda kv: -kv[1]))
