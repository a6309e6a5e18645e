"""Settings, declared once. Built by the CLI or the app factory and passed down.

Every field can be set in the environment with the ``MEDIAWATCH_`` prefix or in a ``.env``
file, e.g. ``MEDIAWATCH_DATABASE_URL=postgresql+psycopg://127.0.0.1/test``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from . import __version__
from .errors import ConfigError

DEFAULT_CONTACT = "mediawatch-admin@example.org"
HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"  # a local time of day
QUERY_SECRET = re.compile(r"\b(password|passwd|pass|pwd)=[^&]*", re.I)


class Settings(BaseSettings):
    """MediaWatch settings. ``mediawatch config show`` prints them, secrets masked."""

    model_config = SettingsConfigDict(
        env_prefix="MEDIAWATCH_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = Field(
        default="", description="SQLAlchemy URL; empty means a SQLite file in data_dir."
    )
    data_dir: Path = Field(default=Path("var"), description="Where the SQLite file and exports live.")
    feeds_file: Path = Field(default=Path("feeds.yaml"), description="Outlets and sources.")
    alerts_dir: Path = Field(
        default=Path("alerts"), description="rules.yaml, talking_points.yaml, templates/."
    )
    models_dir: Path = Field(default=Path("models"), description="Trained classifiers and model cards.")

    contact: str = Field(default=DEFAULT_CONTACT, description="Contact address sent in the User-Agent.")
    project_url: str = Field(
        default="https://mediawatch.example.org/bot", description="Page describing the crawler."
    )
    connect_timeout: float = Field(default=5.0, gt=0, description="Seconds to connect.")
    read_timeout: float = Field(default=20.0, gt=0, description="Seconds between bytes.")
    total_timeout: float = Field(default=60.0, gt=0, description="Seconds for a whole response.")
    max_response_bytes: int = Field(
        default=5_000_000, gt=0, description="Larger responses are cut off and refused."
    )
    max_redirects: int = Field(default=5, ge=0, description="Redirects followed per request.")
    workers: int = Field(
        default=16, ge=1, le=128, description="Requests in flight at once, across all hosts."
    )
    per_host_connections: int = Field(default=2, ge=1, le=16, description="Requests in flight per host.")
    per_host_delay: float = Field(
        default=1.0, ge=0, description="Seconds between request starts to one host (robots Crawl-delay wins)."
    )
    max_retry_after_hours: float = Field(
        default=24.0, gt=0, description="Longest Retry-After honoured; longer asks are cut to this."
    )
    allow_private_networks: bool = Field(
        default=False, description="Allow fetching loopback/private addresses (demo, tests)."
    )
    respect_robots: bool = Field(default=True, description="Check robots.txt before fetching article pages.")
    poll_interval_minutes: int = Field(
        default=5, ge=1, description="How often `mediawatch run` looks for sources that are due."
    )
    poll_min_minutes: float = Field(
        default=10.0, gt=0, description="Shortest interval between polls of one source."
    )
    poll_max_minutes: float = Field(
        default=360.0, gt=0, description="Longest interval between polls of one source."
    )
    max_backoff_minutes: float = Field(
        default=1440.0, gt=0, description="Longest wait after repeated failures (backoff cap)."
    )
    redirect_moves_after: int = Field(
        default=3, ge=1, description="Permanent redirects seen in a row before a source's URL is updated."
    )
    failing_warning_hours: float = Field(
        default=24.0, gt=0, description="A source failing this long is a health warning."
    )
    quiet_factor: float = Field(
        default=3.0,
        gt=1,
        description="A source silent for this many times its usual gap is a health warning.",
    )
    page_attempts: int = Field(
        default=5, ge=1, description="Tries for an article page before it is marked failed."
    )
    revisit_schedule_hours: list[float] = Field(
        default_factory=lambda: [1.0, 6.0, 24.0, 72.0, 168.0, 720.0],
        description="Hours after first sight at which watched articles are fetched again, e.g. [1, 6, 24].",
    )
    revisit_sample: float = Field(
        default=0.05, ge=0, le=1, description="Share of articles without an alert that are watched too."
    )
    keep_raw_pages: bool = Field(
        default=True, description="Store each article page as fetched (gzip) as evidence."
    )
    raw_page_days: int = Field(default=90, ge=0, description="Days raw pages are kept (0 = for ever).")
    raw_page_alerted_days: int = Field(
        default=0, ge=0, description="Days raw pages of alerted articles are kept (0 = for ever)."
    )
    max_entries_per_cycle: int = Field(default=500, ge=1, description="Entries processed per cycle.")
    processes: int = Field(
        default=0,
        ge=0,
        le=64,
        description="Processes that extract and score pages in a cycle: 0 = one per core when a cycle "
        "has 200 pages or more, 1 = only the main process.",
    )

    relevance_threshold: float = Field(
        default=0.5, ge=0, le=1, description="Relevance probability for 'relevant'."
    )
    alert_threshold: float = Field(
        default=0.5, ge=0, le=1, description="Category probability that raises a complaint alert."
    )
    praise_threshold: float = Field(
        default=0.7, ge=0, le=1, description="good_coverage probability that raises a praise alert."
    )
    model_only_threshold: float = Field(
        default=0.7, ge=0, le=1, description="Model probability needed to flag a category no rule supports."
    )
    category_thresholds: dict[str, float] = Field(
        default_factory=dict, description="Per-category overrides of alert_threshold."
    )

    letter_cap: int = Field(
        default=3,
        ge=1,
        le=50,
        description="Letters per outlet per alert (feeds.yaml letters.cap overrides).",
    )
    similarity_threshold: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="Warn when a letter is this close to the draft or to another.",
    )
    digest_time: str = Field(default="10:30", description="Local time of the daily digest (HH:MM).")
    immediate_priority: float = Field(
        default=0.8, ge=0, description="Alerts at or above this priority are announced at once."
    )
    webhook_urls: list[str] = Field(
        default_factory=list, description="Slack-compatible webhooks for digests and urgent alerts."
    )
    mail_from: str = Field(default="", description="Sender of digests and invitations (default: contact).")
    app_url: str = Field(default="", description="Public address of the web app, for links in mail.")
    session_hours: float = Field(default=24 * 14, gt=0, description="How long a sign-in lasts.")
    cookie_secure: bool = Field(
        default=True, description="Send session cookies over HTTPS only (browsers allow 127.0.0.1)."
    )
    login_attempts: int = Field(
        default=5, ge=1, description="Failed sign-ins per account per 15 minutes before a pause."
    )
    web_threads: int = Field(
        default=4, ge=1, le=100, description="Threads serving web requests at once (SQLite prefers few)."
    )
    web_host: str = Field(default="127.0.0.1", description="Address `mediawatch serve` listens on.")
    web_port: int = Field(default=8000, ge=0, le=65535, description="Port `mediawatch serve` listens on.")
    secret_key: SecretStr = Field(default=SecretStr(""), description="Signs sessions; set it in production.")
    smtp_url: str = Field(default="", description="SMTP server for digests, e.g. smtp://host:25.")
    smtp_password: SecretStr = Field(default=SecretStr(""), description="SMTP password.")
    timezone: str = Field(default="America/Toronto", description="Local time zone for digests and reports.")

    # -- service (`mediawatch run`): logs, backups, scheduled jobs
    log_format: Literal["text", "json"] = Field(
        default="text", description="Log lines as key=value text or as JSON objects."
    )
    backup_dir: Path | None = Field(
        default=None, description="Where SQLite backups go (default: data_dir/backups)."
    )
    backup_keep: int = Field(default=7, ge=1, description="Backups kept; older ones are deleted.")
    backup_time: str = Field(default="02:30", pattern=HHMM, description="Local time of the nightly backup.")
    retrain_time: str = Field(
        default="03:30", pattern=HHMM, description="Local time of the nightly gated retraining."
    )
    nightly_retrain: bool = Field(
        default=True, description="Retrain nightly (kept only if validation macro-F1 does not drop)."
    )
    retention_time: str = Field(
        default="04:30", pattern=HHMM, description="Local time of the nightly retention clean-up."
    )
    report_time: str = Field(
        default="06:00",
        pattern=HHMM,
        description="Local time of the weekly (Monday) and monthly (1st) coverage reports.",
    )
    process_interval_minutes: int = Field(
        default=5, ge=1, description="How often `mediawatch run` processes new entries."
    )
    revisit_interval_minutes: int = Field(
        default=15, ge=1, description="How often `mediawatch run` looks for articles due a revisit."
    )
    notice_interval_minutes: int = Field(
        default=5, ge=1, description="How often urgent alerts, digests and reminders are checked."
    )
    misfire_grace_minutes: int = Field(
        default=15, ge=1, description="A job late by more than this skips to its next time (and lags)."
    )
    runs_keep_days: int = Field(default=90, ge=1, description="Days rows of the runs table are kept.")
    heartbeat_seconds: float = Field(
        default=30.0, gt=0, description="How often the scheduler says it is alive; /healthz allows 3 beats."
    )
    lock_retry_seconds: float = Field(
        default=10.0, gt=0, description="How often a standby `mediawatch run` tries to take over."
    )
    metrics_token: SecretStr = Field(
        default=SecretStr(""), description="Bearer token /metrics requires (empty: no token)."
    )

    # -- distributed mode (`mediawatch worker`): empty redis_url means embedded, one process
    redis_url: str = Field(
        default="", description="Redis for Celery and shared per-host limits, e.g. redis://127.0.0.1:6379/0."
    )
    task_lease_seconds: float = Field(
        default=900.0,
        gt=0,
        description="Distributed: how long a task may wait and run before its work is handed out again.",
    )
    task_max_attempts: int = Field(
        default=5, ge=1, description="Distributed: starts without finishing (workers lost) before quarantine."
    )
    task_max_retries: int = Field(
        default=10,
        ge=0,
        description="Distributed: retries (exponential backoff, jitter) of transient errors.",
    )

    @field_validator("contact")
    @classmethod
    def _contact(cls, value: str) -> str:
        if "@" not in value and not value.startswith("http"):
            raise ValueError("must be an e-mail address or URL publishers can reach")
        return value

    @property
    def user_agent(self) -> str:
        """An honest User-Agent: who we are and how to reach us. Never a browser's."""
        return f"MediaWatch/{__version__} (+{self.project_url}; {self.contact})"

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'mediawatch.db'}"

    def threshold(self, category: str) -> float:
        if category == "good_coverage":
            return self.category_thresholds.get(category, self.praise_threshold)
        return self.category_thresholds.get(category, self.alert_threshold)

    def masked(self) -> dict[str, Any]:
        """Settings as plain values with secrets (and passwords in URLs) masked."""
        out: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = "********" if value.get_secret_value() else ""
            elif isinstance(value, Path):
                value = str(value)
            elif name == "database_url":
                value = _mask_url(self.db_url)
            elif name in ("smtp_url", "redis_url"):
                value = _mask_url(value)
            out[name] = value
        out["user_agent"] = self.user_agent
        return out


def _mask_url(url: str) -> str:
    """Hide the password in ``scheme://user:password@host`` and in ``?password=...``."""
    url = QUERY_SECRET.sub(r"\1=********", url)
    if "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    netloc, sep, tail = rest.partition("/")
    if "@" in netloc:
        creds, host = netloc.rsplit("@", 1)
        if ":" in creds:
            netloc = f"{creds.split(':', 1)[0]}:********@{host}"
    return f"{scheme}://{netloc}{sep}{tail}"


def load_settings(**overrides: Any) -> Settings:
    """Build settings from the environment and .env; errors name the setting."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        raise ConfigError(f"setting MEDIAWATCH_{field.upper()}: {err['msg']}") from exc
