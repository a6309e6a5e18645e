"""The store on a real SQLite file: migrations, validators, de-duplication, idempotent alerts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from pipeline.config import load_feeds
from pipeline.demo import DEMO_FEEDS
from pipeline.records import AlertDraft, Entry, Extracted, LetterDraft, Score
from pipeline.settings import Settings
from pipeline.store import Store
from pipeline.store.migrate import head_revision
from pipeline.store.views import PollRecord

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


@pytest.fixture
def synced(store: Store) -> Store:
    store.sync_outlets(load_feeds(DEMO_FEEDS, "http://127.0.0.1:9"))
    return store


def _draft() -> AlertDraft:
    letter = LetterDraft("en", "complaint", "Subject", "Body text", 2, 150, "letters@x.example")
    return AlertDraft("complaint", 0.8, 0.7, ["loaded_language"], "complaint: x", [], letter)


@pytest.mark.empty_database
def test_fresh_database_is_migrated(settings: Settings) -> None:
    store = Store.open(settings.db_url)
    assert store.schema_revision() == head_revision() == "0013"
    tables = set(inspect(store.engine).get_table_names())
    assert {
        "outlets",
        "sources",
        "entries",
        "articles",
        "article_versions",
        "scores",
        "alerts",
        "letters",
        "users",
        "claims",
        "outcomes",
        "audit_log",
        "runs",
    } <= tables
    store.close()


@pytest.mark.sqlite_only("WAL and the busy timeout are SQLite PRAGMAs")
def test_sqlite_file_uses_wal_and_a_busy_timeout(settings: Settings) -> None:
    store = Store.open(settings.db_url)
    with store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30000
    store.close()


def test_validators_survive_a_restart(settings: Settings, synced: Store) -> None:
    source = synced.due_sources(NOW)[0]
    rec = PollRecord(200, etag='"abc"', last_modified="Fri, 20 Nov", next_check=NOW + timedelta(minutes=30))
    synced.record_poll(source.id, rec)
    synced.close()
    reopened = Store.open(settings.db_url)
    due = {s.id: s for s in reopened.due_sources(NOW + timedelta(hours=1))}
    assert (due[source.id].etag, due[source.id].last_modified) == ('"abc"', "Fri, 20 Nov")
    assert source.id not in {s.id for s in reopened.due_sources(NOW)}
    reopened.close()


def test_failed_poll_counts_errors_and_keeps_validators(synced: Store) -> None:
    source = synced.due_sources(NOW)[0]
    synced.record_poll(source.id, PollRecord(200, etag='"v1"', next_check=NOW))
    synced.record_poll(source.id, PollRecord(500, error="HTTP 500", next_check=NOW))
    health = {h["id"]: h for h in synced.source_health(NOW)}[source.id]
    assert health["errors"] == 1 and health["last_error"] == "HTTP 500"
    assert {s.id: s for s in synced.due_sources(NOW)}[source.id].etag == '"v1"'


def test_entries_are_deduplicated_by_guid_and_by_url(synced: Store) -> None:
    source = synced.due_sources(NOW)[0]
    a = Entry("guid-1", "http://127.0.0.1:9/a", "A")
    assert synced.add_entries(source.id, [a]) == 1
    assert synced.add_entries(source.id, [a]) == 0
    # the publisher changed the GUID but the URL is the same story
    assert synced.add_entries(source.id, [Entry("guid-2", "http://127.0.0.1:9/a", "A")]) == 0
    assert synced.add_entries(source.id, [Entry("guid-3", "http://127.0.0.1:9/b", "B")]) == 1


def test_sources_removed_from_feeds_file_are_disabled_not_deleted(synced: Store) -> None:
    before = {s["url"] for s in synced.source_health(NOW)}
    feeds = load_feeds(DEMO_FEEDS, "http://127.0.0.1:9")
    trimmed = feeds.model_copy(update={"outlets": feeds.outlets[:1]})
    synced.sync_outlets(trimmed)
    rows = synced.source_health(NOW)
    assert {r["url"] for r in rows} == before
    assert sum(r["enabled"] for r in rows) == len(trimmed.outlets[0].sources)
    assert {r["disabled_reason"] for r in rows if not r["enabled"]} == {"removed from the feeds file"}


def test_alert_is_raised_once_per_article(synced: Store) -> None:
    doc = Extracted("u", "Title", "Text of the article.", language="en")
    aid = synced.save_article("maple-ledger", "http://127.0.0.1:9/a", doc, "", None, None)
    assert synced.save_article("maple-ledger", "http://127.0.0.1:9/a", doc, "", None, None) == aid
    score = Score(str(aid), True, 0.9, {"loaded_language": 0.8}, True, "complaint", 0.8, [], "v1")
    sid = synced.save_score(aid, score)
    assert synced.save_score(aid, score) == sid
    first = synced.create_alert(aid, sid, _draft())
    assert first is not None
    assert synced.create_alert(aid, sid, _draft()) is None
    assert synced.counts()["alerts"] == 1
    detail = synced.alert_detail(first)
    assert detail is not None and detail.letters[0].recipient == "letters@x.example"


@pytest.mark.empty_database
def test_raise_alerts_in_one_batch_keeps_one_alert_per_wire_story_and_watches(synced: Store) -> None:
    """A batch of scored articles raises its alerts in one transaction: the second copy of a wire
    story in the same batch joins the first copy's alert (it sees the alert raised before it);
    alerted and sampled articles go on the revisit schedule, the rest do not; the letter is
    drafted with the wire story; an article that already has an alert (before the batch, or
    earlier in it) gets no second one."""
    from pipeline.store.alerts import AlertRequest

    ids = []
    for name in ("first", "copy", "other", "sampled", "quiet"):
        doc = Extracted("u", name, f"Text of the {name} article.", language="en")
        ids.append(synced.save_article("maple-ledger", f"http://127.0.0.1:9/{name}", doc, "", None, None))
    first, copy, other, sampled, quiet = ids
    synced.join_cluster(copy, first)
    score = Score("x", True, 0.9, {"loaded_language": 0.8}, True, "complaint", 0.8, [], "v1")
    sid = {a: synced.save_score(a, score) for a in ids}
    requests = [
        AlertRequest(first, sid[first], True),
        AlertRequest(copy, sid[copy], True),
        AlertRequest(other, sid[other], True, letter_cap=5),
        AlertRequest(sampled, sid[sampled], False, sample=True),
        AlertRequest(quiet, sid[quiet], False),
        AlertRequest(other, sid[other], True),  # the same article twice in a batch: one alert
    ]
    wires: list[object] = []

    def draft(request: AlertRequest, wire: object) -> AlertDraft:
        wires.append(wire)
        return _draft()

    outcomes = synced.raise_alerts(requests, draft, [6.0, 24.0])
    assert [o.alert_id is not None for o in outcomes] == [True, False, True, False, False, False]
    assert outcomes[1].joined == outcomes[0].alert_id
    assert len(wires) == 2 and wires[1] is None and wires[0] is not None  # the story, for the letter
    assert synced.counts()["alerts"] == 2
    assert {t.article_id for t in synced.revisit_targets(datetime.now(UTC) + timedelta(hours=7))} == {
        first,
        other,
        sampled,
    }
    alert = synced.alert_detail(outcomes[2].alert_id or 0)
    assert alert is not None and alert.alert.letter_cap == 5
    again = synced.raise_alerts([AlertRequest(first, sid[first], True)], draft, [6.0])
    assert again[0].alert_id is None and synced.counts()["alerts"] == 2


@pytest.mark.empty_database
def test_a_batch_that_conflicts_with_another_writer_is_raised_one_by_one(
    synced: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If another process raised one of the batch's alerts meanwhile (a unique-key conflict), the
    batch is rolled back and each article tried on its own: the others still get their alerts."""
    from sqlalchemy.exc import IntegrityError

    from pipeline.store.alerts import AlertRequest, AlertsStore

    ids = []
    for name in ("a", "b", "c"):
        doc = Extracted("u", name, f"Text {name}.", language="en")
        ids.append(synced.save_article("maple-ledger", f"http://127.0.0.1:9/{name}", doc, "", None, None))
    score = Score("x", True, 0.9, {"loaded_language": 0.8}, True, "complaint", 0.8, [], "v1")
    requests = [AlertRequest(a, synced.save_score(a, score), True) for a in ids]
    real = AlertsStore._raise

    def conflicting(self: Store, s: object, r: AlertRequest, *args: object) -> object:
        if r.article_id == ids[1]:  # as if another process had just raised b's alert
            raise IntegrityError("INSERT INTO alerts", {}, Exception("UNIQUE constraint failed"))
        return real(self, s, r, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(AlertsStore, "_raise", conflicting)
    outcomes = synced.raise_alerts(requests, lambda r, wire: _draft(), [])
    assert [o.alert_id is not None for o in outcomes] == [True, False, True]
    assert synced.counts()["alerts"] == 2


def test_text_is_stored_without_nul_characters_on_every_backend(synced: Store) -> None:
    """PostgreSQL cannot store NUL at all: a hostile page carrying one is kept without it, and a
    query value carrying one is no error (same on SQLite)."""
    doc = Extracted("u", "Gaza\x00 strike", "Text\x00 of the article.", language="en")
    aid = synced.save_article("maple-ledger", "http://127.0.0.1:9/nul\x00", doc, "", None, None)
    with synced.session() as s:
        title, body, url = s.execute(text(f"SELECT title, text, url FROM articles WHERE id = {aid}")).one()
    assert (title, body, url) == ("Gaza strike", "Text of the article.", "http://127.0.0.1:9/nul")
    assert synced.list_alerts(outlet="maple-ledger\x00", category="x\x00") == []


@pytest.mark.parametrize("huge", [2**31, -(2**31) - 1, 2**63, 2**70])
def test_an_id_too_large_for_the_column_is_an_overflow_error_on_every_backend(
    synced: Store, huge: int
) -> None:
    """The web app answers 404 to an OverflowError: the id names nothing that can exist."""
    with pytest.raises(OverflowError):
        synced.alert_detail(huge)
    assert synced.alert_detail(2**31 - 1) is None


@pytest.mark.postgres_only("workers on several machines write one PostgreSQL at once; SQLite has one writer")
def test_an_article_and_its_score_stored_by_two_workers_at_once_are_stored_once(
    synced: Store, settings: Settings
) -> None:
    """The other worker's insert is not committed when we look, so ours waits on the unique key
    and then fails: the store answers with the other's row instead of an error."""
    import threading

    from sqlalchemy import insert

    from pipeline.store.schema import Article, ScoreRow

    url = "http://127.0.0.1:9/raced"
    other = Store.open(settings.db_url, upgrade=False)
    mine: dict[str, object] = {}
    with other.engine.connect() as conn:
        conn.execute(
            insert(Article).values(
                url=url, outlet_id="maple-ledger", content_hash="h", first_seen_at=NOW, last_fetched_at=NOW
            )
        )
        doc = Extracted("u", "Title", "Text.", language="en")
        worker = threading.Thread(
            target=lambda: mine.update(id=synced.save_article("maple-ledger", url, doc, "", None, None))
        )
        worker.start()
        _wait_for_a_lock_wait(conn)
        conn.commit()
        worker.join(timeout=30)
        theirs = conn.execute(text("SELECT id FROM articles WHERE url = :u"), {"u": url}).scalar_one()
        assert mine["id"] == theirs
        score = Score(str(theirs), True, 0.9, {}, False, None, 0.1, [], "v1")
        conn.execute(
            insert(ScoreRow).values(
                article_id=theirs,
                model_version="v1",
                content_hash="h",
                relevant=True,
                relevance=0.9,
                categories={},
                alert=False,
                severity=0.1,
                evidence=[],
                created_at=NOW,
            )
        )
        worker = threading.Thread(target=lambda: mine.update(score=synced.save_score(theirs, score)))
        worker.start()
        _wait_for_a_lock_wait(conn)
        conn.commit()
        worker.join(timeout=30)
        assert mine["score"] == conn.execute(text("SELECT id FROM scores")).scalar_one()
    other.close()


@pytest.mark.empty_database
@pytest.mark.postgres_only("processes on several machines start together on one PostgreSQL")
def test_processes_starting_together_migrate_once(settings: Settings) -> None:
    """Web, scheduler and workers restarted after an upgrade all open the store at once."""
    import threading

    stores = [Store.open(settings.db_url, upgrade=False) for _ in range(3)]
    start, errors = threading.Barrier(len(stores)), []

    def upgrade(store: Store) -> None:
        start.wait()
        try:
            store.upgrade()
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=upgrade, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert {s.schema_revision() for s in stores} == {head_revision()}
    for s in stores:
        s.close()


def _wait_for_a_lock_wait(conn: object) -> None:
    """Until another session of this database waits on a lock (ours holds it)."""
    import time

    query = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    deadline = time.monotonic() + 30
    while not conn.execute(query).scalar() and time.monotonic() < deadline:  # type: ignore[attr-defined]
        time.sleep(0.05)


def test_revisit_stores_a_version_only_when_text_changes(synced: Store) -> None:
    doc = Extracted("u", "Title", "Old text.", language="en")
    aid = synced.save_article("maple-ledger", "http://127.0.0.1:9/a", doc, "", None, None)
    schedule = [1.0, 6.0]
    assert synced.record_revisit(aid, schedule, ("Title", "Old text.", None, False)).changed is False
    changed = synced.record_revisit(aid, schedule, ("Title", "New text. Correction: fixed.", "diff", True))
    assert changed.changed and changed.outcome_id is None  # no alert, no letter: no outcome
    versions = synced.versions(aid)
    assert [(v["diff"], v["correction_note"]) for v in versions] == [(None, False), ("diff", True)]


def test_naive_datetimes_are_refused(synced: Store) -> None:
    source = synced.due_sources(NOW)[0]
    with pytest.raises(Exception, match="naive datetime"):
        synced.record_poll(source.id, PollRecord(200, next_check=datetime(2026, 1, 1)))


def test_dates_come_back_in_utc(synced: Store, tmp_path: Path) -> None:
    source = synced.due_sources(NOW)[0]
    toronto = datetime(2026, 11, 20, 7, tzinfo=UTC).astimezone(
        __import__("zoneinfo").ZoneInfo("America/Toronto")
    )
    synced.record_poll(source.id, PollRecord(200, next_check=toronto))
    health = {h["id"]: h for h in synced.source_health(NOW)}[source.id]
    assert health["next_check"] == datetime(2026, 11, 20, 7, tzinfo=UTC)
    assert health["next_check"].tzinfo is not None


def test_migrations_match_the_declared_tables(store: Store) -> None:
    """The schema the migrations build is the one schema.py declares (no forgotten migration)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from pipeline.service import make_scheduler
    from pipeline.settings import Settings
    from pipeline.store import service
    from pipeline.store.schema import Base

    scheduler = make_scheduler(Settings(_env_file=None), store)  # type: ignore[call-arg]
    scheduler.start(paused=True)  # APScheduler creates its job table in the same database
    scheduler.shutdown(wait=False)
    with store.engine.connect() as conn:
        # Not declared in schema.py: the search index (migration 0009, raw SQL) and the job table;
        # migrations/env.py leaves them out with the same include_name.
        context = MigrationContext.configure(conn, opts={"include_name": service.include_name})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_autogenerate_spells_the_stores_own_types_as_plain_sa_types(store: Store) -> None:
    """A new migration written with ``alembic revision --autogenerate`` never imports the package."""
    from alembic.autogenerate import produce_migrations, render_python_code
    from alembic.migration import MigrationContext
    from sqlalchemy import Column, MetaData, Table

    from pipeline.store.migrate import render_item
    from pipeline.store.schema import CheckedInteger, String, Text, UTCDateTime

    metadata = MetaData()
    columns = [Column("id", CheckedInteger(), primary_key=True), Column("name", String(64))]
    Table("extra", metadata, *columns, Column("body", Text()), Column("at", UTCDateTime()))
    only_extra = {"include_name": lambda name, type_, _parents: type_ != "table" or name == "extra"}
    with store.engine.connect() as conn:
        ops = produce_migrations(MigrationContext.configure(conn, opts=only_extra), metadata)
    code = render_python_code(ops.upgrade_ops, render_item=render_item)
    for plain in ("sa.Integer()", "sa.String(length=64)", "sa.Text()", "sa.DateTime(timezone=True)"):
        assert plain in code
    assert "pipeline" not in code


OLD_ROWS = (
    "INSERT INTO outlets (id, name, language, reach, enabled, config) VALUES ('o', 'O', 'en', 3, TRUE, '{}')",
    "INSERT INTO sources (id, outlet_id, url, kind, interval_minutes, enabled, error_count)"
    " VALUES (1, 'o', 'https://o.example/feed', 'feed', 30, TRUE, 0)",
    "INSERT INTO entries (id, source_id, guid, url, canonical_url, title, summary, date_flagged, fetched_at,"
    " status) VALUES (1, 1, 'g', 'https://o.example/a', 'https://o.example/a', 'A', '', FALSE,"
    " '2026-11-20 12:00:00', 'new')",
)


@pytest.mark.empty_database
def test_migration_0002_keeps_existing_sources_and_entries(settings: Settings) -> None:
    from pipeline.store import migrate

    store = Store.open(settings.db_url, upgrade=False)
    migrate.upgrade(store.engine, "0001")
    with store.engine.begin() as conn:
        for sql in OLD_ROWS:
            conn.execute(text(sql))
    store.upgrade()
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT listed_url, url, redirect_count FROM sources")).one() == (
            "https://o.example/feed",
            "https://o.example/feed",
            0,
        )
        assert conn.execute(text("SELECT title, fingerprint, attempts FROM entries")).one() == ("A", "", 0)
        if conn.dialect.name == "sqlite":
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1  # back on after the migration
    store.close()
