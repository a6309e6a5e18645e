"""Engine and session set-up shared by the store's parts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, ExceptionContext
from sqlalchemy.orm import Session, sessionmaker

from .schema import AuditEntry

SQLITE_POOL = 40  # AnyIO runs sync routes on up to 40 threads


def utcnow() -> datetime:
    return datetime.now(UTC)


def make_engine(url: str) -> Engine:
    """An engine; SQLite files get WAL mode, a busy timeout and foreign keys."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # A pool as large as the web server's thread pool: connections are kept, not reopened
        # (with their PRAGMAs) on every checkout beyond the default five.
        engine = create_engine(
            url,
            connect_args={"timeout": 30, "check_same_thread": False},
            pool_size=SQLITE_POOL,
            max_overflow=SQLITE_POOL,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    event.listen(engine, "handle_error", _overflow_as_itself)
    return engine


def _overflow_as_itself(context: ExceptionContext) -> BaseException | None:
    """An integer too large for its column (schema.CheckedInteger, or sqlite3 itself) stays an
    OverflowError, whichever backend: callers treat it as "no such object"."""
    if isinstance(context.original_exception, OverflowError):
        return context.original_exception
    return None


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def audit_values(
    actor: str, action: str, object_type: str, object_id: object, detail: dict[str, Any], at: datetime
) -> dict[str, Any]:
    """An audit_log row's columns (for an ``AuditEntry`` or a bulk insert)."""
    return {
        "at": at,
        "actor": actor,
        "action": action,
        "object_type": object_type,
        "object_id": str(object_id),
        "detail": detail,
    }


class StoreBase:
    """Holds the engine and session factory; the parts add intent-named methods."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    def session(self) -> Session:
        return self.sessions()

    def audit(self, actor: str, action: str, object_type: str, object_id: object, **detail: Any) -> None:
        with self.sessions.begin() as s:
            s.add(self._audit_row(actor, action, object_type, object_id, detail))

    @staticmethod
    def _audit_row(
        actor: str, action: str, object_type: str, object_id: object, detail: dict[str, Any]
    ) -> AuditEntry:
        return AuditEntry(**audit_values(actor, action, object_type, object_id, detail, utcnow()))

    def close(self) -> None:
        self.engine.dispose()
