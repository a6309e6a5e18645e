"""search words: PostgreSQL's full-text index reads text as plain words, as FTS5 does

PostgreSQL's default text-search parser recognises HTML tags, e-mail addresses, URLs, host
names, file paths, signed numbers and hyphenated words, and indexes each as one token or not at
all: ``<script>`` was not indexed, ``www.example.com`` could not be found by ``example``. FTS5
(``unicode61``) reads every run of letters and digits as a word. ``mw_article_tsv`` now turns
the characters behind those special tokens into spaces first, so both backends find the same
articles for the same query (search's parser already splits queries the same way), and the GIN
index is rebuilt. SQLite: nothing changes.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# Characters that make the default parser see a tag, an e-mail, a URL, a host, a path, an
# entity, a signed or decimal number or a hyphenated word; each becomes a space.
SPECIAL = "<>@/\\.:&;=?#%~_-"


def _tsv(body: str) -> None:
    op.execute(
        "CREATE OR REPLACE FUNCTION mw_article_tsv(text, text) RETURNS tsvector"
        " LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $func$"
        f" SELECT to_tsvector('simple'::regconfig, {body}) $func$"
    )
    op.execute("REINDEX INDEX ix_articles_fts")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        spaces = " " * len(SPECIAL)
        _tsv(
            "translate(mw_unaccent(coalesce($1, '') || ' ' || coalesce($2, '')),"
            f" '{SPECIAL}', '{spaces}')"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _tsv("mw_unaccent(coalesce($1, '') || ' ' || coalesce($2, ''))")
