"""Queries behind ``mediawatch report``: the export's own queries and filters (so the report's
totals equal the export's rows), aggregated in SQL, plus the funnel count the export has no
dataset for."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import Date, case, cast, func, select
from sqlalchemy.sql.elements import ColumnElement

from .base import StoreBase
from .exports import BATCH, QUERIES, ExportFilters, stream
from .schema import Claim, ScoreRow

CHUNK = 500  # ids per IN (...) list


def _day(column: Any, dialect: str) -> ColumnElement[Any]:
    """The UTC calendar day of a stored time, as the database spells dates."""
    if dialect == "postgresql":
        return cast(func.timezone("UTC", column), Date())
    return func.date(column)  # SQLite keeps UTC text; date() reads its first ten characters


def _with_facts(q: Any) -> Any:
    """The export's article query with its latest score's stored facts as one more column."""
    return q.add_columns(ScoreRow.facts.label("facts"))


class CoverageStore(StoreBase):
    def coverage_rows(self, filters: ExportFilters, dataset: str = "articles") -> Iterator[dict[str, Any]]:
        """Rows of the export *dataset* for *filters*, streamed in id order (the export's query)."""
        with self.session() as s:
            yield from stream(s, dataset, filters)

    def coverage_counts(
        self,
        filters: ExportFilters,
        categories: Sequence[str],
        category_min: float,
        facts: Sequence[str] = (),
    ) -> list[dict[str, Any]]:
        """The export's article rows for *filters*, counted per outlet and UTC day of publication
        (undated articles: day None): ``articles``, ``relevant``, ``cat:<c>`` = relevant
        articles whose latest score gives category *c* at least *category_min*, ``fact:<k>`` =
        the sum of the stored fact *k* over relevant articles, and ``unfacted`` = relevant
        articles whose score has no stored facts. One grouped query over the export's own
        SELECT, so the counts equal its rows."""
        with self.session() as s:
            dialect = s.get_bind().dialect.name
            latest = _with_facts(QUERIES["articles"](replace(filters, text="none"), dialect))
            rows = latest.order_by(None).subquery()
            relevant = rows.c.relevant.is_(True)

            def count(cond: ColumnElement[bool]) -> ColumnElement[Any]:
                return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)

            day = _day(rows.c.published, dialect).label("day")
            cats = [
                count(relevant & (rows.c.score_categories[c].as_float() >= category_min)).label(f"cat:{c}")
                for c in categories
            ]
            sums = [
                func.coalesce(func.sum(case((relevant, rows.c.facts[k].as_integer()), else_=0)), 0).label(
                    f"fact:{k}"
                )
                for k in facts
            ]
            q = select(
                rows.c.outlet,
                day,
                func.count().label("articles"),
                count(relevant).label("relevant"),
                count(relevant & rows.c.facts.is_(None)).label("unfacted"),
                *cats,
                *sums,
            ).group_by(rows.c.outlet, day)
            return [dict(r) for r in s.execute(q).mappings()]

    def unfacted_texts(self, filters: ExportFilters) -> Iterator[dict[str, Any]]:
        """``outlet``, ``title``, ``text`` and ``language`` of the export's relevant article rows
        for *filters* whose score has no stored facts (scored before they were kept), streamed."""
        with self.session() as s:
            dialect = s.get_bind().dialect.name
            rows = _with_facts(QUERIES["articles"](replace(filters, text="full"), dialect)).subquery()
            q = (
                select(rows.c.outlet, rows.c.title, rows.c.text, rows.c.language)
                .where(rows.c.relevant.is_(True), rows.c.facts.is_(None))
                .execution_options(yield_per=BATCH)
            )
            for r in s.execute(q).mappings():
                yield dict(r)

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
