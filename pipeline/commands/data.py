"""alerts list|show, export, sources health."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from ..cli import echo_json, opened_store, settings_of
from ..errors import InputError


@click.group()
def alerts() -> None:
    """List and show alerts.

    \b
    Example:
      mediawatch alerts list --format json
      mediawatch alerts show 3 --format json
    """


@alerts.command("list")
@click.option("--status", help="new, open, claimed, sent, closed, dismissed.")
@click.option("--outlet", help="Outlet id from feeds.yaml.")
@click.option("--category", help="Taxonomy category id.")
@click.option("--language", type=click.Choice(["en", "fr"]))
@click.option("--limit", type=click.IntRange(1, 10000), default=200, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
def alerts_list(
    ctx: click.Context,
    status: str | None,
    outlet: str | None,
    category: str | None,
    language: str | None,
    limit: int,
    fmt: str,
) -> None:
    """Alerts by priority, highest first.

    \b
    Example:
      mediawatch alerts list --category agentless_casualties --format json
    """
    from ..records import CATEGORIES

    if category and category not in CATEGORIES:
        raise InputError(f"--category: unknown category '{category}' (known: {', '.join(CATEGORIES)})")
    with opened_store(settings_of(ctx)) as store:
        if outlet and outlet not in dict(store.outlet_names()):
            raise InputError(f"--outlet: unknown outlet '{outlet}'")
        rows = store.list_alerts(status, outlet, category, language, limit=limit)
    if fmt == "json":
        echo_json([r.as_dict() for r in rows])
        return
    for r in rows:
        click.echo(
            f"{r.id:>5}  {r.priority:5.2f}  {r.kind:<9} {r.outlet_id:<20} "
            f"{r.title[:60]}  [{', '.join(r.categories)}]"
        )
    if not rows:
        click.echo("no alerts")


@alerts.command("show")
@click.argument("alert_id", type=int)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_context
def alerts_show(ctx: click.Context, alert_id: int, fmt: str) -> None:
    """One alert with its evidence and letter draft.

    \b
    Example:
      mediawatch alerts show 1 --format json
    """
    with opened_store(settings_of(ctx)) as store:
        detail = store.alert_detail(alert_id)
    if detail is None:
        raise InputError(f"no alert with id {alert_id}")
    if fmt == "json":
        echo_json(detail.as_dict())
        return
    a = detail.alert
    click.echo(f"#{a.id} {a.kind} severity={a.severity:.2f} priority={a.priority:.2f} {a.status}")
    click.echo(f"{a.title}\n{a.outlet_name} · {a.url}\n")
    for e in detail.evidence:
        click.echo(f'- [{e["category"]}] "{e["quote"]}" ({e["source"]})')
    for letter in detail.letters[:1]:
        click.echo(f"\nTo: {letter.recipient}\nSubject: {letter.subject}\n\n{letter.body}\n")
        click.echo(f"({letter.word_count} words, limit {letter.word_limit or 'none'})")


@click.command()
@click.option("--format", "fmt", type=click.Choice(["csv"]), default="csv", show_default=True)
@click.option("-o", "--output", "out", type=click.Path(path_type=Path), required=True, help="File to write.")
@click.pass_context
def export(ctx: click.Context, fmt: str, out: Path) -> None:
    """Export articles with scores and alerts.

    \b
    Example:
      mediawatch export --format csv --output var/articles.csv
    """
    from ..report import export_csv

    with opened_store(settings_of(ctx)) as store:
        n = export_csv(store.export_articles(), out)
    click.echo(f"{n} articles written to {out}")


@click.group()
def sources() -> None:
    """Feed sources and their health.

    \b
    Example:
      mediawatch sources health
    """


@sources.command("health")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
def sources_health(ctx: click.Context, fmt: str) -> None:
    """Every source: errors, last success, warnings.

    \b
    Example:
      mediawatch sources health --format json
    """
    with opened_store(settings_of(ctx)) as store:
        rows = store.source_health(datetime.now(UTC))
    if fmt == "json":
        echo_json(rows)
        return
    for r in rows:
        state = "disabled" if not r["enabled"] else (r["warning"] or "ok")
        click.echo(f"{r['outlet']:<20} {state:<22} errors={r['errors']} {r['url']}")


COMMANDS = [alerts, export, sources]
