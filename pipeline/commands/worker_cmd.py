"""worker (distributed mode), quarantine."""

from __future__ import annotations

import getpass
import logging
import os
import sys
import time
from typing import TYPE_CHECKING, Any

import click

from ..cli import echo_json, opened_store, settings_of
from ..errors import ConfigError, InputError

if TYPE_CHECKING:
    from ..distributed.watchdog import Ending

log = logging.getLogger(__name__)

QUEUES = ("poll", "fetch", "score", "revisit")


def _queues(value: str) -> list[str]:
    names = [q.strip() for q in value.split(",") if q.strip()]
    unknown = [q for q in names if q not in QUEUES]
    if unknown or not names:
        raise InputError(f"--queues '{value}': choose among {', '.join(QUEUES)} (comma-separated)")
    return names


def check_redis(url: str) -> None:
    """A clear one-line error when Redis is not set or not reachable."""
    if not url:
        raise ConfigError(
            "setting MEDIAWATCH_REDIS_URL is empty: `mediawatch worker` needs Redis "
            "(e.g. MEDIAWATCH_REDIS_URL=redis://127.0.0.1:6379/0)"
        )
    import redis

    from ..settings import _mask_url

    try:
        redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3).ping()
    except (redis.exceptions.RedisError, OSError, ValueError) as exc:
        raise ConfigError(
            f"setting MEDIAWATCH_REDIS_URL: cannot reach Redis at {_mask_url(url)}: {exc}"
        ) from exc


@click.command()
@click.option(
    "-c",
    "--concurrency",
    type=click.IntRange(1, 256),
    default=None,
    help="Worker processes (default: the number of CPUs).",
)
@click.option(
    "-Q",
    "--queues",
    default=",".join(QUEUES),
    show_default=True,
    help="Queues to take tasks from, comma-separated.",
)
@click.option(
    "--loglevel", type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"]), default="INFO", show_default=True
)
@click.option(
    "--stall-seconds",
    type=click.FloatRange(1),
    default=90.0,
    show_default=True,
    help="Start afresh when idle this long while its queues hold messages (a consumer that "
    "stopped taking tasks after Redis came back).",
)
@click.pass_context
def worker(
    ctx: click.Context, concurrency: int | None, queues: str, loglevel: str, stall_seconds: float
) -> None:
    """Run a Celery worker for distributed mode (Redis broker, shared database).

    The scheduler (`mediawatch run` with MEDIAWATCH_REDIS_URL set) enqueues poll, fetch, score
    and revisit tasks; any number of workers on any machines take them.

    \b
    Example:
      MEDIAWATCH_REDIS_URL=redis://127.0.0.1:6379/0 \\
      MEDIAWATCH_DATABASE_URL=postgresql+psycopg://db/mediawatch mediawatch worker -c 2
    """
    settings = settings_of(ctx)
    names = _queues(queues)
    check_redis(settings.redis_url)
    with opened_store(settings):  # brings the schema up to date before any task runs
        pass
    from ..distributed.app import configure
    from ..distributed.watchdog import Ending, Watchdog

    app = configure(settings)
    watchdog = Watchdog(settings.redis_url, names, stall_seconds)
    watchdog.install()
    ending = Ending()
    ending.install()
    argv = [
        "worker",
        f"--concurrency={concurrency or os.cpu_count() or 1}",
        f"--queues={','.join(names)}",
        f"--loglevel={loglevel}",
        f"--hostname=mediawatch-{os.getpid()}@%h",
        "--optimization=fair",
        "--without-gossip",
        "--without-mingle",
    ]
    try:
        app.worker_main(argv=argv)
    finally:
        watchdog.stop()
    if watchdog.stalled:  # stopped warmly because it took nothing: start afresh, same arguments
        _start_afresh({})
    if ending.failed():
        _restart_after_failure(ending)


def _start_afresh(env: dict[str, str]) -> None:
    os.execve(sys.executable, [sys.executable, "-m", "pipeline", *sys.argv[1:]], {**os.environ, **env})


def _restart_after_failure(ending: Ending) -> None:
    """Celery stopped on an error nobody asked for: start afresh after a pause, unless it keeps
    failing soon after each start (then exit 1 and leave it to the supervisor and the logs)."""
    from ..distributed.watchdog import MAX_QUICK_FAILURES, QUICK_FAILURES_ENV, pause_before_restart

    failures = ending.next_quick_failures(dict(os.environ))
    if failures >= MAX_QUICK_FAILURES:
        log.error("worker failed %d times in a row soon after starting; giving up", failures)
        sys.exit(1)
    pause = pause_before_restart(failures)
    log.error("worker stopped on an unrecoverable error; starting afresh in %.0fs", pause)
    time.sleep(pause)
    _start_afresh({QUICK_FAILURES_ENV: str(failures)})


@click.group()
def quarantine() -> None:
    """Poison inputs: items whose task failed too often or with an error retrying cannot fix.

    \b
    Example:
      mediawatch quarantine list
      mediawatch quarantine show 3
      mediawatch quarantine replay 3     # back in the queue for the next cycle
      mediawatch quarantine drop 3       # forget it (the audit log keeps the error)
    """


def _fmt(item: dict[str, Any]) -> str:
    error = item["error"].splitlines()[0] if item["error"] else ""
    when = f"{item['quarantined_at']:%Y-%m-%d %H:%M}"
    return (
        f"{item['id']:>5}  {when}  {item['task']:<8} {item['item_id']:>8}  x{item['attempts']}  {error[:80]}"
    )


@quarantine.command("list")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--limit", type=click.IntRange(1, 10_000), default=200, show_default=True)
@click.pass_context
def quarantine_list(ctx: click.Context, fmt: str, limit: int) -> None:
    """Items in quarantine, newest first.

    \b
    Example:
      mediawatch quarantine list --format json
    """
    with opened_store(settings_of(ctx)) as store:
        items = store.quarantine_list(limit)
    if fmt == "json":
        echo_json(items)
        return
    if not items:
        click.echo("quarantine is empty")
    for item in items:
        click.echo(_fmt(item))


def _get(store: Any, qid: int) -> dict[str, Any]:
    item = store.quarantine_item(qid)
    if item is None:
        raise InputError(f"quarantine item {qid}: no such item (see `mediawatch quarantine list`)")
    return item  # type: ignore[no-any-return]


@quarantine.command("show")
@click.argument("qid", type=int)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_context
def quarantine_show(ctx: click.Context, qid: int, fmt: str) -> None:
    """One item with its error and traceback.

    \b
    Example:
      mediawatch quarantine show 3
    """
    with opened_store(settings_of(ctx)) as store:
        item = _get(store, qid)
    if fmt == "json":
        echo_json(item)
        return
    for key in ("id", "task", "item_id", "args", "attempts", "first_failed_at", "quarantined_at", "error"):
        click.echo(f"{key}: {item[key]}")
    if item["traceback"]:
        click.echo("traceback:\n" + item["traceback"])


@quarantine.command("replay")
@click.argument("qid", type=int)
@click.option("--by", default=None, help="Who replays it (audit log; default: your user name).")
@click.pass_context
def quarantine_replay(ctx: click.Context, qid: int, by: str | None) -> None:
    """Put an item back in the queue with fresh attempts; the next cycle takes it.

    \b
    Example:
      mediawatch quarantine replay 3 --by alice
    """
    with opened_store(settings_of(ctx)) as store:
        _get(store, qid)
        item = store.replay_quarantined(qid, by or getpass.getuser())
    assert item is not None
    click.echo(f"replayed {item['task']} {item['item_id']}: back in the queue for the next cycle")


@quarantine.command("drop")
@click.argument("qid", type=int)
@click.option("--by", default=None, help="Who drops it (audit log; default: your user name).")
@click.pass_context
def quarantine_drop(ctx: click.Context, qid: int, by: str | None) -> None:
    """Forget an item for good (an entry stays failed; the audit log keeps the error).

    \b
    Example:
      mediawatch quarantine drop 3
    """
    with opened_store(settings_of(ctx)) as store:
        _get(store, qid)
        item = store.drop_quarantined(qid, by or getpass.getuser())
    assert item is not None
    click.echo(f"dropped {item['task']} {item['item_id']}")


COMMANDS = [worker, quarantine]
