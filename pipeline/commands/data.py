"""alerts list|show, export, sources health."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..cli import echo_json, opened_store, settings_of
from ..errors import InputError
from ..outfile import write_bytes_atomically
from ..records import ALERT_STATUSES as STATUSES

if TYPE_CHECKING:
    pass


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
@click.option(
    "--dataset", default="articles", show_default=True, help="articles, alerts, letters or outcomes."
)
@click.option("--format", "fmt", default="csv", show_default=True, help="csv, jsonl, parquet or xlsx.")
@click.option("-o", "--output", "out", type=click.Path(path_type=Path), help="File to write.")
@click.option("--from", "start", help="Articles published on or after this date (YYYY-MM-DD).")
@click.option("--to", "end", help="Articles published on or before this date (YYYY-MM-DD).")
@click.option("--outlet", "outlets", multiple=True, help="Outlet id (repeatable).")
@click.option("--language", help="en or fr.")
@click.option("--category", "categories", multiple=True, help="Alert category (repeatable).")
@click.option("--min-score", help="Minimum severity, 0-1.")
@click.option("--alert-status", help=f"{', '.join(STATUSES)}.")
@click.option(
    "--text", default="excerpt", show_default=True, help="Article text: none, excerpt (300 chars) or full."
)
@click.option(
    "--query", help='Only articles matching this full-text query (words, "a phrase", a OR b, prefix*).'
)
@click.option("--dictionary", is_flag=True, help="Print the data dictionary (Markdown) and exit.")
@click.pass_context
def export(
    ctx: click.Context,
    dataset: str,
    fmt: str,
    out: Path | None,
    start: str | None,
    end: str | None,
    outlets: tuple[str, ...],
    language: str | None,
    categories: tuple[str, ...],
    min_score: str | None,
    alert_status: str | None,
    text: str,
    query: str | None,
    dictionary: bool,
) -> None:
    """Export articles, alerts, letters or outcomes (columns: `--dictionary`, docs/exports.md).

    \b
    Example:
      mediawatch export --format csv --output var/articles.csv
      mediawatch export --dataset alerts --format parquet --from 2024-10-01 --to 2024-10-31 -o a.parquet
      mediawatch export --dataset articles --format xlsx --outlet maple-ledger --text none -o a.xlsx
      mediawatch export --query '"khan younès" OR rafah' --language fr -o rafah.csv
    """
    from ..exports import DATASETS, FORMATS, dictionary_markdown
    from ..exports import export as write_export

    if dictionary:
        click.echo(dictionary_markdown())
        return
    if dataset not in DATASETS:
        raise InputError(f"--dataset: unknown dataset '{dataset}' (known: {', '.join(DATASETS)})")
    if fmt not in FORMATS:
        raise InputError(f"--format: unknown format '{fmt}' (known: {', '.join(FORMATS)})")
    if out is None:
        raise InputError("--output: required (the file to write)")
    from ..exports import filters_from_options

    filters = filters_from_options(
        start, end, outlets, language, categories, min_score, alert_status, text, query
    )
    with opened_store(settings_of(ctx)) as store:
        known = dict(store.outlet_names())
        for o in outlets:
            if o not in known:
                raise InputError(f"--outlet: unknown outlet '{o}'")
        n = write_export(store.export_articles(filters, dataset), out, dataset, fmt, text)
    click.echo(f"{n} {dataset} written to {out}")


@alerts.command("verdict")
@click.argument("alert_id", type=int)
@click.argument("verdict", type=click.Choice(["valid", "not-valid", "wrong-category"]))
@click.option("--category", "categories", multiple=True, help="For wrong-category: a category that applies.")
@click.option("--not-relevant", is_flag=True, help="For not-valid: the article is off-topic too.")
@click.option("--by", required=True, help="Who judges (name or email).")
@click.option("--note", default="", help="Why, for the record.")
@click.pass_context
def alerts_verdict(
    ctx: click.Context,
    alert_id: int,
    verdict: str,
    categories: tuple[str, ...],
    not_relevant: bool,
    by: str,
    note: str,
) -> None:
    """Judge an alert; the verdict becomes a training label for `mediawatch train`.

    \b
    Example:
      mediawatch alerts verdict 3 valid --by "Analyst A"
      mediawatch alerts verdict 4 wrong-category --category loaded_language --by "Analyst A"
      mediawatch alerts verdict 5 not-valid --not-relevant --by "Analyst A" --note "sports story"
    """
    with opened_store(settings_of(ctx)) as store:
        store.record_verdict(alert_id, verdict, by, list(categories), not not_relevant, note)
    click.echo(f"alert {alert_id}: {verdict} recorded")


@click.group()
def article() -> None:
    """Stored articles.

    \b
    Example:
      mediawatch article history 12
      mediawatch article pages 12
      mediawatch article page 12 --out copy.html
    """


@article.command("history")
@click.argument("article_id", type=int)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_context
def article_history(ctx: click.Context, article_id: int, fmt: str) -> None:
    """Every stored version of an article, with word diffs and correction notes.

    Removed words show as [-...-], added words as {+...+}.

    \b
    Example:
      mediawatch article history 12 --format json
    """
    with opened_store(settings_of(ctx)) as store:
        versions = store.versions(article_id)
    if not versions:
        raise InputError(f"article {article_id}: no such article (see `mediawatch alerts list`)")
    if fmt == "json":
        echo_json(versions)
        return
    for n, v in enumerate(versions, 1):
        flag = "  [correction or editor's note added]" if v["correction_note"] else ""
        click.echo(f"version {n}  {v['fetched_at']:%Y-%m-%d %H:%M} UTC  {v['title']}{flag}")
        for line in (v["diff"] or "").splitlines():
            click.echo(f"    {line}")


@article.command("pages")
@click.argument("article_id", type=int)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_context
def article_pages(ctx: click.Context, article_id: int, fmt: str) -> None:
    """The stored copies of an article's page (as fetched, gzip-compressed in the database).

    \b
    Example:
      mediawatch article pages 12 --format json
    """
    with opened_store(settings_of(ctx)) as store:
        pages = store.raw_pages(article_id)
    if fmt == "json":
        echo_json([p.as_dict() for p in pages])
        return
    if not pages:
        click.echo(f"article {article_id}: no stored pages (kept for RAW_PAGE_DAYS; see the README)")
    for p in pages:
        changed = f"  version {p.version_id}" if p.version_id else ""
        click.echo(
            f"page {p.id}  {p.fetched_at:%Y-%m-%d %H:%M} UTC  HTTP {p.http_status}  "
            f"{p.size:,} bytes ({p.stored:,} stored){changed}  {p.url}"
        )


@article.command("page")
@click.argument("article_id", type=int)
@click.option("--id", "raw_id", type=int, help="Which stored page (default: the latest).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write here, not to stdout.")
@click.pass_context
def article_page(ctx: click.Context, article_id: int, raw_id: int | None, out: Path | None) -> None:
    """Write a stored page exactly as it was fetched.

    \b
    Example:
      mediawatch article page 12 --out article-12.html
    """
    with opened_store(settings_of(ctx)) as store:
        pages = store.raw_pages(article_id)
        chosen = [p for p in pages if raw_id is None or p.id == raw_id]
        if not chosen:
            which = f"page {raw_id}" if raw_id is not None else "pages"
            raise InputError(
                f"article {article_id}: no stored {which} (see `mediawatch article pages {article_id}`)"
            )
        found = store.raw_page(chosen[-1].id)
    assert found is not None
    body = found[1]
    if out is None:
        sys.stdout.buffer.write(body)
        sys.stdout.flush()
    else:
        write_bytes_atomically(out, body)
        click.echo(f"{len(body):,} bytes written to {out}", err=True)


@click.group()
def sources() -> None:
    """Feed sources and their health.

    \b
    Example:
      mediawatch sources health
    """


@sources.command("health")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--strict", is_flag=True, help="Exit with status 1 when any source has a warning.")
@click.pass_context
def sources_health(ctx: click.Context, fmt: str, strict: bool) -> None:
    """Every source: errors, last success, last new item, next check, warnings.

    A source that has failed for a day (MEDIAWATCH_FAILING_WARNING_HOURS), or has been quiet
    for several times its usual gap between items (MEDIAWATCH_QUIET_FACTOR), is a warning.

    \b
    Example:
      mediawatch sources health
      mediawatch sources health --format json --strict
    """
    from ..config import load_feeds
    from ..poll import source_health

    settings = settings_of(ctx)
    with opened_store(settings) as store:
        store.sync_outlets(load_feeds(settings.feeds_file))  # list sources not polled yet too
        rows = source_health(store, settings, datetime.now(UTC))
    if fmt == "json":
        echo_json(rows)
    else:
        _health_table(rows)
    if strict and any(r["warning"] for r in rows):
        ctx.exit(1)


def _health_table(rows: list[dict[str, object]]) -> None:
    """One line per source, then each warning or disabled reason in full."""
    click.echo(f"{'state':<6} {'outlet':<20} {'errors':>6} {'last ok':>9} {'new item':>9} {'every':>8}  url")
    notes = []
    for r in rows:
        state = "off" if not r["enabled"] else ("WARN" if r["warning"] else "ok")
        click.echo(
            f"{state:<6} {r['outlet']!s:<20} {r['errors']!s:>6} {_ago(r['last_success']):>9}"
            f" {_ago(r['last_new_item']):>9} {float(str(r['poll_minutes'])):>5.0f} min  {r['url']}"
        )
        if r["warning"] or not r["enabled"]:
            notes.append(f"  {r['outlet']} {r['url']}: {r['warning'] or r['disabled_reason']}")
    warned = sum(1 for r in rows if r["warning"])
    click.echo(f"{len(rows)} sources, {warned} with warnings")
    for note in notes:
        click.echo(note)


def _ago(when: object) -> str:
    if not isinstance(when, datetime):
        return "never"
    minutes = (datetime.now(UTC) - when).total_seconds() / 60
    if minutes < 120:
        return f"{minutes:.0f} min ago"
    return f"{minutes / 60:.0f} h ago" if minutes < 2880 else f"{minutes / 1440:.0f} d ago"


COMMANDS = [alerts, article, export, sources]
