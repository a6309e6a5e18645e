"""mediawatch status: the scheduler, its jobs, failing sources and the queues."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click

from ..cli import echo_json, opened_store, settings_of


@click.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="A table for people, or one JSON object for scripts.",
)
@click.pass_context
def status(ctx: click.Context, fmt: str) -> None:
    """Last run of each scheduled job, lagging jobs, failing sources and queue depth.

    A job lags when its next run time passed more than MEDIAWATCH_MISFIRE_GRACE_MINUTES ago.
    Exit code 0 whatever the state (use /healthz for monitoring).

    \b
    Example:
      mediawatch status
      mediawatch status --format json | jq .lagging
    """
    settings = settings_of(ctx)  # first: it sets the log format the imports may already log in
    from ..service.status import status as service_status

    with opened_store(settings) as store:
        found = service_status(store, settings, datetime.now(UTC))
    if fmt == "json":
        echo_json(found)
    else:
        click.echo("\n".join(_text(found)))


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if isinstance(value, datetime) else "-"


def _text(found: dict[str, Any]) -> list[str]:
    sched = found["scheduler"]
    holder = sched.get("holder") or {}
    lines = [f"scheduler: {sched['state']}" + (f" ({sched['problem']})" if sched["problem"] else "")]
    if holder:
        age = sched.get("heartbeat_age_seconds")
        lines.append(f"  pid {holder.get('pid')} on {holder.get('host')}, heartbeat {age} s ago")
    lines += ["", f"{'job':<15} {'last':<12} {'started (UTC)':<20} {'next (UTC)':<20} lag"]
    for j in found["jobs"]:
        lag = f"{j['lag_seconds'] / 60:.0f} min LATE" if j["lag_seconds"] is not None else ""
        nxt = _when(j["next_run_at"]) if j["scheduled"] else "not scheduled"
        last = j["last_status"] or "never"
        lines.append(f"{j['job']:<15} {last:<12} {_when(j['last_started_at']):<20} {nxt:<20} {lag}".rstrip())
        if j["last_status"] == "failed" and j["last_error"]:
            lines.append(f"  error: {j['last_error']}")
    lines.append("")
    lines.append(f"lagging jobs: {', '.join(found['lagging']) or 'none'}")
    failing = found["failing_sources"]
    lines.append(f"failing sources: {len(failing) or 'none'}")
    for s in failing:
        lines.append(f"  {s['outlet']} {s['url']}: {s['errors']} error(s); {s['warning'] or s['last_error']}")
    q = found["queue"]
    lines.append(
        f"queue: {q['entries_pending']} entries pending ({q['entries_waiting_retry']} waiting to retry), "
        f"{q['alerts_new']} new alerts, {q['alerts_open']} open"
    )
    if found["leased"]:  # distributed mode
        held = ", ".join(f"{n} {task}" for task, n in sorted(found["leased"].items()))
        lines.append(f"with workers: {held}")
    lines.append(f"quarantine: {found['quarantined'] or 'empty'}")
    return lines


COMMANDS = [status]
