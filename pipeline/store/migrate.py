"""Apply Alembic migrations programmatically (`mediawatch db upgrade`, and on every start)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.types import TypeDecorator

MIGRATIONS = Path(__file__).parent / "migrations"
# PostgreSQL advisory lock held by a migration's transaction (any fixed number; "mwmigr" in ASCII)
MIGRATION_LOCK = 0x6D776D69677200


def render_item(type_: str, obj: Any, _autogen_context: Any) -> str | Literal[False]:
    """Alembic autogenerate hook: schema.py's own column types (String and Text without NUL,
    CheckedInteger, UTCDateTime) are plain SQL types in the database, so new migrations spell
    them as ``sa.String(length=64)`` and never import the package."""
    if type_ == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl_instance!r}"
    return False


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return cfg


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision(engine: Engine | None = None) -> str | None:
    """The newest migration's revision (the engine is not needed to know it)."""
    cfg = alembic_config(engine) if engine is not None else Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(cfg).get_current_head()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to *revision*; a no-op when already there.

    On PostgreSQL the migration holds an advisory lock for its transaction: web, scheduler and
    workers started together after an upgrade apply it once, the others then find it done.

    SQLite alters tables by copying them, which foreign keys would refuse while rows point at
    them; so they are switched off for the migration (outside its transaction, where SQLite
    allows it), checked afterwards, and switched back on."""
    cfg = alembic_config(engine)
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            conn.commit()
        try:
            with conn.begin():
                if conn.dialect.name == "postgresql":  # processes starting at once migrate one by one
                    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
                if sqlite and conn.exec_driver_sql("PRAGMA foreign_key_check").first() is not None:
                    raise RuntimeError("migration left rows pointing at missing rows; rolled back")
        finally:
            if sqlite:
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                conn.commit()
