"""One scheduler per database: the lock `mediawatch run` holds for its whole life.

PostgreSQL: ``pg_try_advisory_lock`` on a connection kept open for the process's lifetime (the
server releases it when that connection ends, even after ``kill -9``); the holder is found in
``pg_locks``/``pg_stat_activity`` by its ``application_name``. SQLite: an exclusive ``flock`` on
``<database>.lock`` beside the file (the kernel releases it when the process dies); the holder
writes who it is into the file.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

ADVISORY_KEY = 0x4D57_5255  # "MWRU": the same key for every MediaWatch database


def whoami() -> dict[str, Any]:
    return {"pid": os.getpid(), "host": socket.gethostname(), "since": datetime.now(UTC).isoformat()}


def describe(holder: dict[str, Any] | None) -> str:
    if not holder:
        return "another process (it did not say who)"
    return f"pid {holder.get('pid', '?')} on {holder.get('host', '?')} since {holder.get('since', '?')}"


class ServiceLock(Protocol):
    def acquire(self) -> bool: ...
    def holder(self) -> dict[str, Any] | None: ...
    def held(self) -> bool: ...
    def release(self) -> None: ...


class FileLock:
    """``flock`` on a file beside the SQLite database; its content names the holder."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> bool:
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)  # no O_TRUNC: the holder's note stays
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(whoami()).encode())
        os.fsync(fd)
        self._fd = fd
        return True

    def holder(self) -> dict[str, Any] | None:
        try:
            found = json.loads(self.path.read_text() or "null")
        except (OSError, ValueError):
            return None
        return found if isinstance(found, dict) else None

    def held(self) -> bool:
        """True while the lock file is still the one locked (someone may delete or replace it)."""
        if self._fd is None:
            return False
        try:
            same = os.stat(self.path).st_ino == os.fstat(self._fd).st_ino
        except OSError:
            same = False
        if not same:
            self.release()
        return same

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


class AdvisoryLock:
    """``pg_try_advisory_lock`` on a dedicated connection held until release (or process death)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._conn: Connection | None = None

    def acquire(self) -> bool:
        if self._conn is not None:
            return True
        conn = self.engine.connect()
        me = whoami()
        name = f"mediawatch run {me['pid']}@{me['host']}"[:63]
        conn.execute(text("SELECT set_config('application_name', :n, false)"), {"n": name})
        got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}).scalar()
        conn.commit()
        if not got:
            conn.close()
            return False
        self._conn = conn
        return True

    def holder(self) -> dict[str, Any] | None:
        query = text(
            "SELECT a.pid, a.application_name, a.client_addr, a.backend_start FROM pg_locks l"
            " JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0 AND l.objid = :k"
            " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        with self.engine.connect() as conn:
            row = conn.execute(query, {"k": ADVISORY_KEY}).first()
        if row is None:
            return None
        name = str(row.application_name or "")
        pid, _, host = name.removeprefix("mediawatch run ").partition("@")
        return {
            "pid": pid or f"backend {row.pid}",
            "host": host or str(row.client_addr or "local socket"),
            "since": row.backend_start.isoformat() if row.backend_start else "?",
        }

    def held(self) -> bool:
        """True while the lock's connection still answers (a server restart loses the lock)."""
        if self._conn is None:
            return False
        try:
            self._conn.execute(text("SELECT 1"))
            self._conn.commit()
            return True
        except Exception:  # the connection is gone, and the lock with it
            self._drop()
            return False

    def release(self) -> None:
        if self._conn is None:
            return
        try:
            self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
            self._conn.commit()
        except Exception:  # closing the connection releases it anyway
            pass
        self._drop()

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.invalidate()
                self._conn.close()
            except Exception:
                pass
            self._conn = None


def lock_for(engine: Engine) -> ServiceLock:
    """The lock that fits the database behind *engine*."""
    if engine.dialect.name == "postgresql":
        return AdvisoryLock(engine)
    database = engine.url.database
    if not database or database == ":memory:":
        raise ValueError("an in-memory SQLite database cannot be shared: no lock needed or possible")
    return FileLock(Path(database).with_name(Path(database).name + ".lock"))
