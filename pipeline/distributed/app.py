"""The Celery application: Redis broker, tasks acknowledged late, one queue per stage.

Nothing here is the source of truth: every task's work is leased in the database first
(``task_leases``), so a message lost with a killed worker or a restarted Redis is sent again by
the next ``enqueue_due`` once its lease has expired.
"""

from __future__ import annotations

import contextlib
from typing import Any

from celery import Celery

from ..errors import ConfigError
from ..settings import Settings

QUEUES = ("poll", "fetch", "score", "revisit")
VISIBILITY_S = 3600  # Redis hands an unacknowledged message to another worker after this

app = Celery("mediawatch", set_as_current=True)
_state: dict[str, Any] = {}


def celery_config(settings: Settings) -> dict[str, Any]:
    return {
        "broker_url": settings.redis_url,
        "broker_connection_retry_on_startup": True,
        "broker_connection_max_retries": None,  # a worker waits for Redis to come back
        "broker_transport_options": {"visibility_timeout": VISIBILITY_S},
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_ignore_result": True,
        "task_serializer": "json",
        "accept_content": ["json"],
        "task_default_queue": "fetch",
        "task_routes": {f"mediawatch.{q}": {"queue": q} for q in QUEUES},
        "task_publish_retry_policy": {
            "max_retries": 3,
            "interval_start": 0.2,
            "interval_step": 0.5,
            "interval_max": 1.0,
        },
        "worker_prefetch_multiplier": 1,
        "worker_hijack_root_logger": False,
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        "enable_utc": True,
    }


def configure(settings: Settings) -> Celery:
    """Point the app at the settings' Redis (once per process and URL) and remember the
    settings for the tasks."""
    if not settings.redis_url:
        raise ConfigError("setting MEDIAWATCH_REDIS_URL: empty; distributed mode needs a Redis URL")
    if _state.get("broker") != settings.redis_url:
        if "broker" in _state:  # another Redis before (tests): drop connections pooled to it
            _forget_connections()
        app.conf.update(celery_config(settings))
        _state["broker"] = settings.redis_url
    _state["settings"] = settings
    from . import tasks  # noqa: F401  (registers the tasks on the app)

    return app


def _forget_connections() -> None:
    """Close the connection and producer pools made for the previous broker (as Celery itself
    does after a fork), so the next message goes to the broker now configured."""
    pool = app._pool
    if pool is not None:
        with contextlib.suppress(Exception):  # the old server may be gone
            pool.force_close_all()
    app._pool = None
    amqp = app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None


def configured_settings() -> Settings:
    settings = _state.get("settings")
    if settings is None:  # a worker started another way (``celery -A``): read the environment
        from ..settings import load_settings

        settings = load_settings()
        configure(settings)
    return settings  # type: ignore[no-any-return]
