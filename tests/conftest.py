"""Shared fixtures: real local HTTP servers, a fresh database per test, settings.

The database: by default each test gets its own SQLite file under ``tmp_path``. With

    MEDIAWATCH_TEST_DATABASE_URL=postgresql+psycopg://root@127.0.0.1:5432/test pytest -n 2

(``make pytest-pg``) each test that asks for ``settings`` (and so ``store``, the web app and the
CLI runs and subprocesses that take ``MEDIAWATCH_DATABASE_URL`` from ``settings.db_url``) gets a
fresh PostgreSQL database instead: the migrations run once per pytest process (each xdist
worker) into a template database ``mwt_<pid>_tpl``, and every test gets ``CREATE DATABASE
mwt_<pid>_<n> TEMPLATE mwt_<pid>_tpl`` (made one test ahead on a background thread), dropped with
its connections when the test ends. The URL only names the server and a user allowed to create
databases; its own database is used for administration only. Databases left by a killed run
(their process gone) are dropped at the next start. An unreachable server is an error (exit 4,
one line naming the URL), never a silent skip.

Markers: ``sqlite_only(reason)`` for tests about SQLite itself (WAL, PRAGMAs, the file on disk,
the online backup API), skipped on PostgreSQL; ``postgres_only(reason)`` for PostgreSQL's own
(GIN index, server-side cursors, concurrent writers), skipped on SQLite; ``empty_database`` for
migration tests that start from no table at all.

Fixtures for tests that need more than one database: ``database_url`` (the test's own, '' on
SQLite) and ``databases`` (``new_url()`` for a module-wide database, ``copy(source, target)``).
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from pipeline.demo.server import SITE, LocalSite
from pipeline.settings import Settings
from pipeline.store import Store

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"

# Read before _isolated_env clears MEDIAWATCH_* from each test's environment.
TEST_DATABASE_URL = os.environ.get("MEDIAWATCH_TEST_DATABASE_URL", "").strip()
ON_POSTGRES = TEST_DATABASE_URL.startswith("postgresql")
DB_PREFIX = "mwt_"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only(reason): about SQLite itself; skipped on PostgreSQL")
    config.addinivalue_line("markers", "postgres_only(reason): the PostgreSQL counterpart; skipped on SQLite")
    config.addinivalue_line("markers", "empty_database: the test's database starts without any table")
    if TEST_DATABASE_URL and not ON_POSTGRES:
        raise pytest.UsageError(
            f"MEDIAWATCH_TEST_DATABASE_URL must be a postgresql+psycopg:// URL, not {TEST_DATABASE_URL!r}"
        )
    if ON_POSTGRES:
        _check_reachable()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_name = "sqlite_only" if ON_POSTGRES else "postgres_only"
    backend = "PostgreSQL" if ON_POSTGRES else "SQLite"
    for item in items:
        marker = item.get_closest_marker(skip_name)
        if marker is not None:
            why = marker.args[0] if marker.args else marker.kwargs.get("reason", "")
            item.add_marker(pytest.mark.skip(reason=f"{skip_name} (not run on {backend}): {why}"))


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No MEDIAWATCH_* variable or .env from the developer's shell leaks into a test."""
    import os

    for key in list(os.environ):
        if key.startswith("MEDIAWATCH_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(ROOT)


def _url_for(database: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(TEST_DATABASE_URL).set(database=database).render_as_string(hide_password=False)


def _admin(*statements: str) -> list[tuple[object, ...]]:
    """Run statements in autocommit on the URL's own database; the last one's rows."""
    import psycopg
    from sqlalchemy.engine import make_url

    conninfo = make_url(TEST_DATABASE_URL).set(drivername="postgresql").render_as_string(False)
    rows: list[tuple[object, ...]] = []
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=10) as conn:
        for statement in statements:
            cur = conn.execute(statement)  # type: ignore[arg-type]
            rows = cur.fetchall() if cur.description else []
    return rows


def _check_reachable() -> None:
    try:
        _admin("SELECT 1")
    except Exception as exc:
        shown = Settings(_env_file=None, database_url=TEST_DATABASE_URL).masked()["database_url"]  # type: ignore[call-arg]
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise pytest.UsageError(
            f"MEDIAWATCH_TEST_DATABASE_URL={shown}: PostgreSQL is unreachable ({first}); start it"
            " (e.g. pg_ctlcluster --skip-systemctl-redirect 15 main start) or unset the variable"
        ) from None


def _drop_database(name: str) -> None:
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _drop_orphans() -> None:
    """Drop test databases whose pytest process is gone (a killed run leaves them behind)."""
    rows = _admin(f"SELECT datname FROM pg_database WHERE datname LIKE '{DB_PREFIX}%'")
    for (name,) in rows:
        pid = str(name)[len(DB_PREFIX) :].split("_", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            with contextlib.suppress(Exception):  # another worker dropped it first
                _drop_database(str(name))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _PgDatabases:
    """This process's test databases: a migrated template, and copies of it made one ahead.

    Creating a copy takes a few hundred milliseconds of mostly I/O on the server, so the next
    test's copy is made, and the last test's dropped, on a background thread while tests run."""

    def __init__(self) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.prefix = f"{DB_PREFIX}{os.getpid()}_"
        self.template = f"{self.prefix}tpl"
        self.numbers = itertools.count(1)
        self.background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mwt-db")
        _drop_orphans()
        _drop_database(self.template)
        _admin(f'CREATE DATABASE "{self.template}"')
        Store.open(_url_for(self.template)).close()  # the migrations, once per process
        self.ahead = self.background.submit(self._copy)

    def _copy(self) -> str:
        name = f"{self.prefix}{next(self.numbers)}"
        _admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        return name

    def take(self, empty: bool = False) -> str:
        """A fresh migrated copy, or with *empty* a database without any table."""
        if empty:
            name = f"{self.prefix}{next(self.numbers)}"
            _admin(f'CREATE DATABASE "{name}" TEMPLATE template0')
            return name
        name = self.ahead.result()
        self.ahead = self.background.submit(self._copy)
        return name

    def give_back(self, name: str) -> None:
        self.background.submit(_drop_database, name)

    def close(self) -> None:
        self.background.shutdown(wait=True)
        rows = _admin(f"SELECT datname FROM pg_database WHERE datname LIKE '{self.prefix}%'")
        for (name,) in rows:
            _drop_database(str(name))


@pytest.fixture(scope="session")
def _pg_databases() -> Iterator[_PgDatabases]:
    """This process's test databases (PostgreSQL runs only)."""
    databases = _PgDatabases()
    yield databases
    databases.close()


class Databases:
    """For tests that build a database once and hand each test a copy (``databases`` fixture)."""

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self.request = request

    def new_url(self) -> str:
        """A database for a longer-lived fixture: '' on SQLite (the Settings' own file), or a fresh
        migrated PostgreSQL database kept to the end of the session."""
        if not ON_POSTGRES:
            return ""
        databases: _PgDatabases = self.request.getfixturevalue("_pg_databases")
        return _url_for(databases.take())

    def copy(self, source_url: str, target_url: str) -> None:
        """Make *target_url* an exact copy of *source_url* (no connection may be open to either)."""
        from sqlalchemy.engine import make_url

        source, target = make_url(source_url), make_url(target_url)
        if source.get_backend_name() == "sqlite":
            import shutil

            Path(str(target.database)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(str(source.database), str(target.database))
            return
        _drop_database(str(target.database))
        _admin(f'CREATE DATABASE "{target.database}" TEMPLATE "{source.database}"')


@pytest.fixture(scope="session")
def databases(request: pytest.FixtureRequest) -> Databases:
    return Databases(request)


@pytest.fixture
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """The test's database URL: '' (the SQLite file under data_dir) or a fresh PostgreSQL database,
    migrated, or without any table for tests marked ``empty_database`` (migration tests)."""
    if not ON_POSTGRES:
        yield ""
        return
    databases: _PgDatabases = request.getfixturevalue("_pg_databases")
    name = databases.take(empty=request.node.get_closest_marker("empty_database") is not None)
    yield _url_for(name)
    databases.give_back(name)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """Settings for a test: its own database, local fetching allowed, no politeness delay."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        data_dir=tmp_path / "var",
        feeds_file=ROOT / "feeds.yaml",
        alerts_dir=ROOT / "alerts",
        models_dir=ROOT / "models",
        allow_private_networks=True,
        per_host_delay=0.0,
        connect_timeout=2.0,
        read_timeout=5.0,
        total_timeout=10.0,
    )


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    s = Store.open(settings.db_url)
    yield s
    s.close()


@pytest.fixture
def demo_site() -> Iterator[LocalSite]:
    """The bundled fictional news site, served on 127.0.0.1 on a free port."""
    with LocalSite(SITE) as site:
        yield site


@pytest.fixture
def local_site(tmp_path: Path) -> Iterator[LocalSite]:
    """An empty site under tmp_path; tests add files or overrides."""
    root = tmp_path / "site"
    root.mkdir()
    with LocalSite(root) as site:
        yield site


@pytest.fixture
def make_alert(settings: Settings, store: Store):  # type: ignore[no-untyped-def]
    """Factory: store an article with an alerting score and its alert; returns the alert id."""
    from pipeline.alert import ArticleInfo, draft_alert
    from pipeline.config import load_feeds
    from pipeline.demo import DEMO_FEEDS
    from pipeline.letters import LetterTemplates, load_talking_points
    from pipeline.records import Evidence, Extracted, Score

    feeds = load_feeds(DEMO_FEEDS, "http://127.0.0.1:1")
    store.sync_outlets(feeds)
    templates = LetterTemplates(settings.alerts_dir / "templates")
    points = load_talking_points(settings.alerts_dir / "talking_points.yaml")
    counter = iter(range(1, 1_000_000))

    def make(
        title: str = "Five dead in Gaza strike",
        text: str = "Five Palestinians died in Gaza on Tuesday. The figures could not be verified.",
        language: str = "en",
        outlet: str = "maple-ledger",
        cap: int = 3,
        severity: float = 0.9,
        published: datetime | None = None,
    ) -> int:
        url = f"http://127.0.0.1:1/story-{next(counter)}"
        doc = Extracted(url, title, text, language=language)
        aid = store.save_article(outlet, url, doc, "", published, None)
        start = 0
        ev = Evidence("agentless_casualties", text[start : start + 30], start, start + 30, "rule:x")
        score = Score(str(aid), True, 0.9, {"agentless_casualties": 0.9}, True, "complaint", severity, [ev])
        sid = store.save_score(aid, score)
        conf = feeds.outlet(outlet).model_dump(mode="json")  # the outlet's own letters rules
        info = ArticleInfo(title, text, url, published, language)
        draft = draft_alert(score, info, conf, templates, points)
        assert draft is not None
        alert_id = store.create_alert(aid, sid, draft, cap)
        assert alert_id is not None
        return alert_id

    return make


@pytest.fixture
def sign_in():  # type: ignore[no-untyped-def]
    """Factory: create a user with *role* and sign the TestClient in as them (session cookie and
    the CSRF header htmx would send). The client must use an https base_url: cookies are Secure."""
    from datetime import timedelta

    from pipeline.web.auth import SESSION_COOKIE, hash_password

    def sign(client, role: str = "analyst", email: str | None = None, language: str = "en"):  # type: ignore[no-untyped-def]
        store = client.app.state.store
        email = email or f"{role}-{len(store.users())}@example.org"
        found = store.user_login(email)
        uid = (
            found[0].id
            if found
            else store.create_user(
                email,
                role,
                hash_password("correct horse battery"),
                name=email.split("@")[0],
                language=language,
            )
        )
        token, csrf = store.create_session(uid, timedelta(hours=1))
        client.cookies.set(SESSION_COOKIE, token)
        client.headers["X-CSRF-Token"] = csrf
        return store.user(uid)

    return sign
