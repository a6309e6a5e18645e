"""Alembic environment: runs with the connection the Store hands over (see migrate.py)."""

from __future__ import annotations

from alembic import context

from pipeline.store.migrate import render_item
from pipeline.store.schema import Base
from pipeline.store.service import include_name

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # `alembic` CLI use: build an engine from the ini's URL
    from sqlalchemy import create_engine

    connection = create_engine(config.get_main_option("sqlalchemy.url") or "").connect()

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    render_item=render_item,  # schema.py's own types as plain sa types
    include_name=include_name,  # not the full-text index (raw SQL), nor APScheduler's job table
)
with context.begin_transaction():
    context.run_migrations()
