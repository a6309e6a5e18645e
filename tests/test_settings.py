"""Settings: defaults, MEDIAWATCH_ environment, .env files, masking, User-Agent (pipeline/settings.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import SecretStr

from pipeline.errors import ConfigError
from pipeline.settings import DEFAULT_CONTACT, Settings, load_settings


def test_defaults_use_a_sqlite_file_under_var() -> None:
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert s.database_url == ""
    assert s.data_dir == Path("var")
    assert s.db_url == "sqlite:///var/mediawatch.db"
    assert s.allow_private_networks is False
    assert s.per_host_delay > 0


def test_db_url_follows_data_dir(tmp_path: Path) -> None:
    s = Settings(_env_file=None, data_dir=tmp_path / "data")  # type: ignore[call-arg]
    assert s.db_url == f"sqlite:///{tmp_path / 'data' / 'mediawatch.db'}"


def test_explicit_database_url_wins_over_sqlite() -> None:
    url = "postgresql+psycopg://127.0.0.1/test"
    s = Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]
    assert s.db_url == url


def test_environment_variables_with_prefix_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDIAWATCH_WORKERS", "9")
    monkeypatch.setenv("MEDIAWATCH_DATABASE_URL", "postgresql+psycopg://127.0.0.1/test")
    monkeypatch.setenv("MEDIAWATCH_ALLOW_PRIVATE_NETWORKS", "true")
    s = load_settings()
    assert s.workers == 9
    assert s.db_url == "postgresql+psycopg://127.0.0.1/test"
    assert s.allow_private_networks is True


def test_unprefixed_environment_variables_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKERS", "9")
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://elsewhere/db")
    s = load_settings()
    assert s.workers == Settings.model_fields["workers"].default
    assert s.database_url == ""


def test_dotenv_file_in_working_directory_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "MEDIAWATCH_WORKERS=7\nMEDIAWATCH_CONTACT=press-bot@example.org\n", encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    s = load_settings()
    assert s.workers == 7
    assert s.contact == "press-bot@example.org"


def test_environment_beats_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("MEDIAWATCH_WORKERS=7\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MEDIAWATCH_WORKERS", "3")
    assert load_settings().workers == 3


def test_explicit_overrides_beat_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDIAWATCH_WORKERS", "3")
    assert load_settings(workers=12).workers == 12


def test_masked_hides_database_password() -> None:
    s = Settings(_env_file=None, database_url="postgresql+psycopg://u:secret@h/db")  # type: ignore[call-arg]
    shown = s.masked()
    assert shown["database_url"] == "postgresql+psycopg://u:********@h/db"
    assert not any("secret" in str(v) for v in shown.values())


def test_masked_hides_password_containing_at_sign() -> None:
    s = Settings(_env_file=None, database_url="postgresql://u:p@ss@db.example/mw")  # type: ignore[call-arg]
    shown = s.masked()["database_url"]
    assert shown == "postgresql://u:********@db.example/mw"
    assert "p@ss" not in shown


def test_masked_hides_smtp_password_and_secrets() -> None:
    s = Settings(  # type: ignore[call-arg]
        _env_file=None,
        smtp_url="smtp://mailer:hunter2@mail.example:587",
        smtp_password=SecretStr("topsecret-pw"),
        secret_key=SecretStr("session-signing-key"),
    )
    shown = s.masked()
    dumped = json.dumps(list(shown.values()))
    for secret in ("hunter2", "topsecret-pw", "session-signing-key"):
        assert secret not in dumped
    assert shown["smtp_url"] == "smtp://mailer:********@mail.example:587"
    assert shown["smtp_password"] == "********"
    assert shown["secret_key"] == "********"


def test_masked_leaves_unset_secrets_empty_and_urls_without_password_alone() -> None:
    s = Settings(_env_file=None, database_url="postgresql+psycopg://u@h/db")  # type: ignore[call-arg]
    shown = s.masked()
    assert shown["secret_key"] == ""
    assert shown["smtp_password"] == ""
    assert shown["database_url"] == "postgresql+psycopg://u@h/db"


def test_masked_is_json_serialisable_and_lists_every_setting() -> None:
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    shown = s.masked()
    json.dumps(shown)  # paths and secrets are turned into plain values
    assert set(Settings.model_fields) <= set(shown)
    assert shown["data_dir"] == "var"
    assert shown["user_agent"] == s.user_agent


def test_user_agent_names_contact_and_project_never_a_browser() -> None:
    s = Settings(_env_file=None, contact="watch@example.org")  # type: ignore[call-arg]
    ua = s.user_agent
    assert ua.startswith("MediaWatch/")
    assert "watch@example.org" in ua
    assert s.project_url in ua
    assert "Mozilla" not in ua


def test_default_user_agent_carries_default_contact() -> None:
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert DEFAULT_CONTACT in s.user_agent
    assert "Mozilla" not in s.user_agent


def test_contact_may_be_a_url() -> None:
    s = load_settings(contact="https://example.org/contact")
    assert "https://example.org/contact" in s.user_agent


def test_invalid_contact_in_environment_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDIAWATCH_CONTACT", "nobody")
    with pytest.raises(ConfigError, match="MEDIAWATCH_CONTACT"):
        load_settings()


def test_invalid_contact_override_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="MEDIAWATCH_CONTACT"):
        load_settings(contact="just a name")


def test_invalid_number_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDIAWATCH_WORKERS", "lots")
    with pytest.raises(ConfigError, match="MEDIAWATCH_WORKERS"):
        load_settings()


def test_out_of_range_threshold_is_refused() -> None:
    with pytest.raises(ConfigError, match="MEDIAWATCH_ALERT_THRESHOLD"):
        load_settings(alert_threshold=1.5)


def test_threshold_uses_praise_threshold_for_good_coverage_and_overrides() -> None:
    s = Settings(  # type: ignore[call-arg]
        _env_file=None,
        alert_threshold=0.4,
        praise_threshold=0.7,
        category_thresholds={"factual_error": 0.9},
    )
    assert s.threshold("loaded_language") == 0.4
    assert s.threshold("good_coverage") == 0.7
    assert s.threshold("factual_error") == 0.9
