"""Nightly backups of a SQLite database with SQLite's online backup API.

The copy is written beside its final name, checked (it opens, ``PRAGMA quick_check`` says ok and
it has the schema's revision) and only then renamed into place, so a half-written backup never
looks like a good one. The newest ``keep`` backups are kept. PostgreSQL is backed up with
``pg_dump`` by the operator (docs/operations.md); the job says so and does nothing.
"""

from __future__ import annotations

import logging
import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger(__name__)
PREFIX = "mediawatch-"
SUFFIX = ".db"


class BackupError(Exception):
    """The copy could not be made or did not check out."""


def backup_sqlite(database: Path, backup_dir: Path, keep: int, now: datetime | None = None) -> Path:
    """Copy *database* into *backup_dir* as ``mediawatch-YYYYmmddTHHMMSSZ.db``; verify; prune."""
    if not database.is_file():
        raise BackupError(f"{database}: no such database file")
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    backup_dir.mkdir(parents=True, exist_ok=True)
    target = backup_dir / f"{PREFIX}{stamp}{SUFFIX}"
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        with closing(sqlite3.connect(database, timeout=30)) as src, closing(sqlite3.connect(partial)) as dst:
            src.backup(dst)  # a consistent snapshot, while others keep writing (WAL)
        verify(partial)
    except (sqlite3.Error, BackupError) as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"{database}: backup failed: {exc}") from exc
    partial.replace(target)
    prune(backup_dir, keep)
    return target


def verify(path: Path) -> None:
    """Raise BackupError unless *path* is a sound MediaWatch database."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        check = db.execute("PRAGMA quick_check").fetchone()
        if not check or check[0] != "ok":
            raise BackupError(f"{path}: quick_check says {check[0] if check else 'nothing'}")
        try:
            revision = db.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.Error as exc:
            raise BackupError(f"{path}: not a MediaWatch database ({exc})") from exc
        if not revision:
            raise BackupError(f"{path}: no schema revision recorded")


def backups(backup_dir: Path) -> list[Path]:
    """The finished backups in *backup_dir*, oldest first (the names sort by time)."""
    if not backup_dir.is_dir():
        return []
    return sorted(p for p in backup_dir.glob(f"{PREFIX}*{SUFFIX}") if p.is_file())


def prune(backup_dir: Path, keep: int) -> list[Path]:
    old = backups(backup_dir)[:-keep] if keep > 0 else []
    for path in old:
        path.unlink(missing_ok=True)
        log.info("backup pruned path=%s", path)
    return old
