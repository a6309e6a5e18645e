"""Shared fixtures: real local HTTP servers, a temporary SQLite file per test, settings."""

from __future__ import annotations

from collections.abc import Iterator
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
