"""article search: a full-text index over articles' title and text

SQLite: an FTS5 table ``article_fts`` reading its content from ``articles`` (external content,
so the text is stored once), kept in step by triggers on insert, update and delete, with the
``unicode61 remove_diacritics 2`` tokenizer so "deplaces" finds "déplacés" and the reverse.
Existing articles are indexed by a rebuild.

PostgreSQL: an expression GIN index over ``mw_article_tsv(title, text)``: the 'simple'
configuration over text passed through ``unaccent`` when the extension can be created, as is
otherwise (``mw_unaccent`` is then the identity). Both functions are IMMUTABLE, as an index
expression must be.

The index, its shadow tables and its triggers are not in schema.py's metadata: see
``pipeline.store.search.SEARCH_OBJECTS``. A later migration that rebuilds ``articles`` on SQLite
(``batch_alter_table``) drops the triggers with the old table: it must call
``create_sqlite_triggers()`` and rebuild the index again.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

SQLITE_TRIGGERS = (
    "CREATE TRIGGER article_fts_insert AFTER INSERT ON articles BEGIN"
    " INSERT INTO article_fts(rowid, title, text) VALUES (new.id, new.title, new.text); END",
    "CREATE TRIGGER article_fts_delete AFTER DELETE ON articles BEGIN"
    " INSERT INTO article_fts(article_fts, rowid, title, text)"
    " VALUES ('delete', old.id, old.title, old.text);"
    " END",
    "CREATE TRIGGER article_fts_update AFTER UPDATE OF title, text ON articles BEGIN"
    " INSERT INTO article_fts(article_fts, rowid, title, text)"
    " VALUES ('delete', old.id, old.title, old.text);"
    " INSERT INTO article_fts(rowid, title, text) VALUES (new.id, new.title, new.text); END",
)


def create_sqlite_triggers() -> None:
    for statement in SQLITE_TRIGGERS:
        op.execute(statement)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE article_fts USING fts5(title, text, content='articles',"
            " content_rowid='id', tokenize='unicode61 remove_diacritics 2')"
        )
        create_sqlite_triggers()
        op.execute("INSERT INTO article_fts(article_fts) VALUES ('rebuild')")
    elif dialect == "postgresql":
        _postgresql_upgrade()


def _postgresql_upgrade() -> None:
    conn = op.get_bind()
    unaccent = False
    try:
        with conn.begin_nested():  # a savepoint: lacking the right to create it is not fatal
            conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS unaccent"))
        unaccent = True
    except sa.exc.DBAPIError:
        unaccent = False
    body = "SELECT public.unaccent('public.unaccent'::regdictionary, $1)" if unaccent else "SELECT $1"
    op.execute(
        "CREATE OR REPLACE FUNCTION mw_unaccent(text) RETURNS text"
        f" LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $func$ {body} $func$"
    )
    op.execute(
        "CREATE OR REPLACE FUNCTION mw_article_tsv(text, text) RETURNS tsvector"
        " LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $func$"
        " SELECT to_tsvector('simple'::regconfig, mw_unaccent(coalesce($1, '') || ' ' || coalesce($2, '')))"
        " $func$"
    )
    op.execute("CREATE INDEX ix_articles_fts ON articles USING gin (mw_article_tsv(title, text))")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in ("article_fts_update", "article_fts_delete", "article_fts_insert"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS article_fts")
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_articles_fts")
        op.execute("DROP FUNCTION IF EXISTS mw_article_tsv(text, text)")
        op.execute("DROP FUNCTION IF EXISTS mw_unaccent(text)")
