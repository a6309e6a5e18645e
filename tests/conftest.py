"""Shared fixtures: real local HTTP servers, a temporary SQLite file per test, settings."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from pipeline.demo.server import SITE, LocalSite
from pipeline.settings import Settings
from pipeline.store import Store

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No MEDIAWATCH_* variable or .env from the developer's shell leaks into a test."""
    import os

    for key in list(os.environ):
        if key.startswith("MEDIAWATCH_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(ROOT)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings for a test: its own SQLite file, local fetching allowed, no politeness delay."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
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
