"""Queries behind ``mediawatch report``: the export's own queries and filters (so the report's
totals equal the export's rows), plus the funnel count the export has no dataset for."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import func, select

from .base import StoreBase
from .exports import ExportFilters, stream
from .schema import Claim

CHUNK = 500  # ids per IN (...) list


class CoverageStore(StoreBase):
    def coverage_rows(self, filters: ExportFilters, dataset: str = "articles") -> Iterator[dict[str, Any]]:
        """Rows of the export *dataset* for *filters*, streamed in id order (the export's query)."""
        with self.session() as s:
            yield from stream(s, dataset, filters)

    def claimed_alert_count(self, alert_ids: Iterable[int]) -> int:
        """How many of *alert_ids* at least one responder claimed."""
        ids = sorted(set(alert_ids))
        n = 0
        with self.session() as s:
            for i in range(0, len(ids), CHUNK):
                part = ids[i : i + CHUNK]
                q = select(func.count(func.distinct(Claim.alert_id))).where(Claim.alert_id.in_(part))
                n += int(s.scalar(q) or 0)
        return n
