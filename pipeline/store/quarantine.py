"""Distributed mode in the database: task leases (work handed out, not yet finished) and the
quarantine of poison inputs; plus the per-item reads the worker tasks need.

The database is the source of truth. A lease row is written before a task is enqueued and
deleted when the task has finished, so work lost with a killed worker or a restarted broker is
found again (its lease expired) and enqueued by the next ``enqueue_due``.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import case, delete, exists, func, or_, select
from sqlalchemy.exc import IntegrityError

from .base import StoreBase, utcnow
from .schema import Article, Entry, QuarantineItem, ScoreRow, Source, TaskLease
from .sources import MANUAL, _due, pending_entry
from .views import DueSource, PendingEntry, RevisitTarget

TASKS = ("poll", "fetch", "score", "revisit")
LEASE_CHUNK = 500
Start = Literal["run", "skip", "poison"]


@dataclass(slots=True)
class ScoringItem:
    """A stored article as the score task reads it."""

    article_id: int
    outlet_id: str
    url: str  # the entry's canonical URL (what the alert links to), else the article's
    title: str
    text: str
    language: str | None
    authors: list[str]
    published_at: datetime | None


def _quarantined(task: str, item: Any) -> Any:
    return exists().where(QuarantineItem.task == task, QuarantineItem.item_id == item)


def _leased(task: str, item: Any) -> Any:
    return exists().where(TaskLease.task == task, TaskLease.item_id == item)


class QuarantineStore(StoreBase):
    # -- leases -----------------------------------------------------------------------------
    def lease_items(
        self, task: str, item_ids: list[int], now: datetime, lease: timedelta
    ) -> list[tuple[int, str]]:
        """Lease each item that has no live lease; return ``(item_id, token)`` for those leased.
        An expired lease is taken over with a new token (its old message, if it ever runs,
        then finds the lease is no longer its own and does nothing). One transaction per
        chunk of items; item by item when another scheduler leased one at the same moment."""
        out: list[tuple[int, str]] = []
        for i in range(0, len(item_ids), LEASE_CHUNK):
            chunk = item_ids[i : i + LEASE_CHUNK]
            try:
                out.extend(self._lease_chunk(task, chunk, now, lease))
            except IntegrityError:
                for item_id in chunk:
                    with contextlib.suppress(IntegrityError):
                        out.extend(self._lease_chunk(task, [item_id], now, lease))
        return out

    def _lease_chunk(
        self, task: str, ids: list[int], now: datetime, lease: timedelta
    ) -> list[tuple[int, str]]:
        out: list[tuple[int, str]] = []
        with self.sessions.begin() as s:
            rows = {
                r.item_id: r
                for r in s.scalars(
                    select(TaskLease)
                    .where(TaskLease.task == task, TaskLease.item_id.in_(ids))
                    .with_for_update()
                )
            }
            for item_id in dict.fromkeys(ids):
                token = str(uuid.uuid4())
                row = rows.get(item_id)
                if row is None:
                    s.add(
                        TaskLease(
                            task=task,
                            item_id=item_id,
                            token=token,
                            leased_until=now + lease,
                            attempts=0,
                            created_at=now,
                        )
                    )
                elif row.leased_until <= now:
                    row.token, row.leased_until = token, now + lease
                else:
                    continue
                out.append((item_id, token))
        return out

    def expired_leases(self, now: datetime, limit: int = 1000) -> list[tuple[str, int]]:
        with self.session() as s:
            rows = s.execute(
                select(TaskLease.task, TaskLease.item_id)
                .where(TaskLease.leased_until <= now)
                .order_by(TaskLease.leased_until)
                .limit(limit)
            )
            return [(t, i) for t, i in rows]

    def start_lease(
        self, task: str, item_id: int, token: str, now: datetime, lease: timedelta, max_attempts: int
    ) -> tuple[Start, int]:
        """A task begins: ``run`` (the lease is renewed and the start counted), ``skip`` (another
        message holds a live lease) or ``poison`` (it has started *max_attempts* times without
        finishing: workers died on it). Returns the verdict and the starts so far."""
        try:
            return self._start_lease(task, item_id, token, now, lease, max_attempts)
        except IntegrityError:  # another message of the same item started at the same moment
            return "skip", 0

    def _start_lease(
        self, task: str, item_id: int, token: str, now: datetime, lease: timedelta, max_attempts: int
    ) -> tuple[Start, int]:
        with self.sessions.begin() as s:
            row = s.get(TaskLease, (task, item_id), with_for_update=True)
            if row is None:  # finished already, or replayed by hand: the task checks the state
                s.add(
                    TaskLease(
                        task=task,
                        item_id=item_id,
                        token=token,
                        leased_until=now + lease,
                        attempts=1,
                        created_at=now,
                    )
                )
                return "run", 1
            if row.token != token and row.leased_until > now:
                return "skip", row.attempts
            if row.attempts >= max_attempts:
                return "poison", row.attempts
            row.token, row.leased_until, row.attempts = token, now + lease, row.attempts + 1
            return "run", row.attempts

    def extend_lease(self, task: str, item_id: int, token: str, until: datetime) -> None:
        with self.sessions.begin() as s:
            row = s.get(TaskLease, (task, item_id))
            if row is not None and row.token == token:
                row.leased_until = max(row.leased_until, until)

    def finish_lease(self, task: str, item_id: int, token: str | None = None) -> None:
        """The work is done: drop the lease (only our own when *token* is given)."""
        with self.sessions.begin() as s:
            q = delete(TaskLease).where(TaskLease.task == task, TaskLease.item_id == item_id)
            if token is not None:
                q = q.where(TaskLease.token == token)
            s.execute(q)

    def hand_over(
        self, task: str, item_id: int, token: str, following: tuple[str, int], now: datetime, lease: timedelta
    ) -> str | None:
        """Finish our lease and lease the work that follows it (``(task, item_id)``) in one
        transaction; return the new lease's token, or None when that work is leased already."""
        next_task, next_id = following
        new_token = str(uuid.uuid4())
        try:
            with self.sessions.begin() as s:
                s.execute(
                    delete(TaskLease).where(
                        TaskLease.task == task, TaskLease.item_id == item_id, TaskLease.token == token
                    )
                )
                row = s.get(TaskLease, (next_task, next_id), with_for_update=True)
                if row is not None and row.leased_until > now:
                    return None
                if row is None:
                    row = TaskLease(task=next_task, item_id=next_id, attempts=0, created_at=now)
                    s.add(row)
                row.token, row.leased_until = new_token, now + lease
        except IntegrityError:  # leased by someone else at the same moment
            self.finish_lease(task, item_id, token)
            return None
        return new_token

    def lease_counts(self, now: datetime) -> dict[str, int]:
        """Work handed out and not finished, by task (``<task>_expired`` for lost work)."""
        with self.session() as s:
            out: dict[str, int] = {}
            expired = func.sum(case((TaskLease.leased_until <= now, 1), else_=0))
            rows = s.execute(select(TaskLease.task, func.count(), expired).group_by(TaskLease.task))
            for task, n, lost in rows:  # (one expression: PostgreSQL cannot match two bound copies)
                if n - lost:
                    out[task] = n - lost
                if lost:
                    out[f"{task}_expired"] = lost
            return out

    # -- what is due, without a lease and not in quarantine ---------------------------------
    def quarantined_ids(self, task: str) -> set[int]:
        with self.session() as s:
            return set(s.scalars(select(QuarantineItem.item_id).where(QuarantineItem.task == task)))

    def unleased_pending_entries(self, now: datetime, limit: int, source_id: int | None = None) -> list[int]:
        """New entries whose retry time has come, not leased to a worker, oldest first (of one
        source when *source_id* is given)."""
        q = (
            select(Entry.id)
            .where(Entry.status == "new", or_(Entry.retry_at.is_(None), Entry.retry_at <= now))
            .where(~_leased("fetch", Entry.id), ~_quarantined("fetch", Entry.id))
        )
        if source_id is not None:
            q = q.where(Entry.source_id == source_id)
        with self.session() as s:
            return list(s.scalars(q.order_by(Entry.id).limit(limit)))

    def unscored_articles(self, since: datetime, limit: int) -> list[int]:
        """Articles first seen since *since* without any score, not leased nor quarantined (their
        fetch task stored them and then died before the score task was handed out)."""
        with self.session() as s:
            return list(
                s.scalars(
                    select(Article.id)
                    .where(Article.first_seen_at >= since)
                    .where(~exists().where(ScoreRow.article_id == Article.id))
                    .where(~_leased("score", Article.id), ~_quarantined("score", Article.id))
                    .order_by(Article.id)
                    .limit(limit)
                )
            )

    def unleased_revisits(self, now: datetime, limit: int) -> list[int]:
        with self.session() as s:
            return list(
                s.scalars(
                    select(Article.id)
                    .where(Article.next_revisit_at.is_not(None), Article.next_revisit_at <= now)
                    .where(~_leased("revisit", Article.id), ~_quarantined("revisit", Article.id))
                    .order_by(Article.next_revisit_at)
                    .limit(limit)
                )
            )

    # -- per-item reads for the tasks --------------------------------------------------------
    def due_source(self, source_id: int) -> DueSource | None:
        with self.session() as s:
            row = s.get(Source, source_id)
            return _due(row) if row is not None and row.enabled and row.kind != MANUAL else None

    def entry_for_fetch(self, entry_id: int) -> tuple[PendingEntry, str, int | None] | None:
        """The entry as the fetch step reads it, with its status and article (None if gone)."""
        with self.session() as s:
            found = s.execute(
                select(Entry, Source.outlet_id)
                .join(Source, Source.id == Entry.source_id)
                .where(Entry.id == entry_id)
            ).first()
            if found is None:
                return None
            e, outlet = found
            return pending_entry(e, outlet), e.status, e.article_id

    def article_owner(self, article_id: int) -> int | None:
        """The entry that stored the article (None: none yet, its worker died before saying so)."""
        with self.session() as s:
            return s.scalar(
                select(Entry.id)
                .where(Entry.article_id == article_id, Entry.status == "processed")
                .order_by(Entry.id)
                .limit(1)
            )

    def has_score(self, article_id: int) -> bool:
        with self.session() as s:
            return s.scalar(select(ScoreRow.id).where(ScoreRow.article_id == article_id).limit(1)) is not None

    def scoring_item(self, article_id: int) -> ScoringItem | None:
        with self.session() as s:
            a = s.get(Article, article_id)
            if a is None:
                return None
            canonical = s.scalar(
                select(Entry.canonical_url).where(Entry.article_id == article_id).order_by(Entry.id).limit(1)
            )
            return ScoringItem(
                a.id,
                a.outlet_id,
                canonical or a.url,
                a.title,
                a.text,
                a.language,
                list(a.authors or []),
                a.published_at,
            )

    def due_revisit(self, article_id: int, now: datetime) -> RevisitTarget | None:
        """The article's revisit target if its scheduled re-fetch has come (None once done)."""
        with self.session() as s:
            r = s.get(Article, article_id)
            if r is None or r.next_revisit_at is None or r.next_revisit_at > now:
                return None
            return RevisitTarget(r.id, r.url, r.title, r.text, r.content_hash, r.outlet_id, r.summary)

    def clustering_texts_after(self, after_id: int, since: datetime) -> list[tuple[int, str]]:
        """(id, text) of readable articles with id above *after_id*, first seen since *since*."""
        with self.session() as s:
            rows = s.execute(
                select(Article.id, Article.text)
                .where(Article.id > after_id, Article.first_seen_at >= since, Article.status == "ok")
                .order_by(Article.id)
            )
            return [(i, t) for i, t in rows]

    # -- quarantine -------------------------------------------------------------------------
    def quarantine(
        self, task: str, item_id: int, args: dict[str, Any], error: str, traceback: str, attempts: int
    ) -> int:
        """Take the item out of the queue for an admin to look at; an entry is marked failed.
        Quarantining an item twice updates its row."""
        now = utcnow()
        with self.sessions.begin() as s:
            row = s.scalar(
                select(QuarantineItem).where(QuarantineItem.task == task, QuarantineItem.item_id == item_id)
            )
            if row is None:
                row = QuarantineItem(task=task, item_id=item_id, first_failed_at=now)
                s.add(row)
            row.args, row.error, row.traceback = args, error[:4000], traceback[-20000:]
            row.attempts, row.quarantined_at = attempts, now
            s.execute(delete(TaskLease).where(TaskLease.task == task, TaskLease.item_id == item_id))
            if task == "fetch" and (entry := s.get(Entry, item_id)) is not None and entry.status == "new":
                entry.status, entry.error = "failed", f"quarantined: {error}"[:4000]
            s.flush()
            s.add(self._audit_row("pipeline", "quarantined", task, item_id, {"error": error[:500]}))
            return row.id

    def quarantine_list(self, limit: int = 200) -> list[dict[str, Any]]:
        with self.session() as s:
            rows = s.scalars(
                select(QuarantineItem).order_by(QuarantineItem.quarantined_at.desc()).limit(limit)
            )
            return [_row(r, full=False) for r in rows]

    def quarantine_count(self) -> int:
        with self.session() as s:
            return s.scalar(select(func.count()).select_from(QuarantineItem)) or 0

    def quarantine_item(self, qid: int) -> dict[str, Any] | None:
        with self.session() as s:
            row = s.get(QuarantineItem, qid)
            return _row(row, full=True) if row is not None else None

    def replay_quarantined(self, qid: int, actor: str) -> dict[str, Any] | None:
        """Put the item back in the queue with fresh attempts. Returns the item as it was, or
        None if there is no such item.

        The item gets an already expired lease, so the next ``enqueue_due`` sends its task again
        (whatever step it failed at); a failed entry is also made new again, so the embedded
        cycle takes it too."""
        now = utcnow()
        with self.sessions.begin() as s:
            row = s.get(QuarantineItem, qid)
            if row is None:
                return None
            item = _row(row, full=False)
            entry = s.get(Entry, row.item_id) if row.task == "fetch" else None
            if entry is not None and entry.status == "failed":
                entry.status, entry.error, entry.retry_at, entry.attempts = "new", None, None, 0
            s.execute(delete(TaskLease).where(TaskLease.task == row.task, TaskLease.item_id == row.item_id))
            s.add(
                TaskLease(
                    task=row.task,
                    item_id=row.item_id,
                    token=str(uuid.uuid4()),
                    leased_until=now,
                    attempts=0,
                    created_at=now,
                )
            )
            s.delete(row)
            s.add(self._audit_row(actor, "quarantine_replayed", row.task, row.item_id, {"quarantine": qid}))
            return item

    def drop_quarantined(self, qid: int, actor: str) -> dict[str, Any] | None:
        """Forget the item for good (an entry stays failed, with the reason). The audit log
        keeps the error."""
        with self.sessions.begin() as s:
            row = s.get(QuarantineItem, qid)
            if row is None:
                return None
            item = _row(row, full=False)
            s.delete(row)
            detail = {"quarantine": qid, "error": row.error[:500]}
            s.add(self._audit_row(actor, "quarantine_dropped", row.task, row.item_id, detail))
            return item


def _row(r: QuarantineItem, full: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": r.id,
        "task": r.task,
        "item_id": r.item_id,
        "args": r.args,
        "error": r.error,
        "attempts": r.attempts,
        "first_failed_at": r.first_failed_at,
        "quarantined_at": r.quarantined_at,
    }
    if full:
        out["traceback"] = r.traceback
    return out
