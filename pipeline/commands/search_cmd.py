"""search: full-text search over stored articles."""

from __future__ import annotations

from datetime import date

import click

from ..cli import echo_json, opened_store, settings_of
from ..errors import InputError


def _day(option: str, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{option}: '{value}' is not a date like 2026-11-01") from None


@click.command()
@click.argument("query")
@click.option("--outlet", "outlets", multiple=True, help="Outlet id (repeatable).")
@click.option("--language", type=click.Choice(["en", "fr"]))
@click.option("--from", "start", help="Published on or after this date (YYYY-MM-DD).")
@click.option("--to", "end", help="Published on or before this date (YYYY-MM-DD).")
@click.option("--category", "categories", multiple=True, help="Alert category (repeatable).")
@click.option("--min-score", type=click.FloatRange(0, 1), help="Minimum severity of the latest score, 0-1.")
@click.option("--alert-status", help="new, open, claimed, sent, closed, dismissed or merged.")
@click.option("--limit", type=click.IntRange(1, 500), default=50, show_default=True)
@click.option("--offset", type=click.IntRange(0), default=0, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_context
def search(
    ctx: click.Context,
    query: str,
    outlets: tuple[str, ...],
    language: str | None,
    start: str | None,
    end: str | None,
    categories: tuple[str, ...],
    min_score: float | None,
    alert_status: str | None,
    limit: int,
    offset: int,
    fmt: str,
) -> None:
    """Search stored articles' titles and text, best match first (accents ignored).

    QUERY: words (all must match), "a phrase", a OR b, and prefix* (e.g. déplac*).

    \b
    Example:
      mediawatch search '"five palestinians" gaza'
      mediawatch search 'déplacés OR deplaces' --language fr --from 2026-10-01 --format json
      mediawatch search 'strike*' --outlet maple-ledger --category agentless_casualties
    """
    from ..records import CATEGORIES
    from ..store.search import MARK_END, MARK_START
    from ..store.workspace import STATUSES as ALERT_STATUSES

    for c in categories:
        if c not in CATEGORIES:
            raise InputError(f"--category: unknown category '{c}' (known: {', '.join(CATEGORIES)})")
    if alert_status is not None and alert_status not in ALERT_STATUSES:
        raise InputError(
            f"--alert-status: unknown status '{alert_status}' (known: {', '.join(ALERT_STATUSES)})"
        )
    date_from, date_to = _day("--from", start), _day("--to", end)
    with opened_store(settings_of(ctx)) as store:
        known = dict(store.outlet_names())
        for o in outlets:
            if o not in known:
                raise InputError(f"--outlet: unknown outlet '{o}'")
        hits = store.search_articles(
            query,
            outlets=list(outlets) or None,
            language=language,
            date_from=date_from,
            date_to=date_to,
            categories=list(categories) or None,
            min_score=min_score,
            alert_status=alert_status,
            limit=limit,
            offset=offset,
        )
    if fmt == "json":
        echo_json([h.as_dict() for h in hits])
        return
    for h in hits:
        day = h.published_at.date().isoformat() if h.published_at else "----------"
        alert = f"  alert {h.alert_id}" if h.alert_id else ""
        click.echo(f"{h.article_id:>6}  {day}  {h.outlet_id:<20} {h.title[:70]}{alert}")
        click.echo(f"        {h.snippet.replace(MARK_START, '[').replace(MARK_END, ']')}")
    if not hits:
        click.echo("no matching articles")


COMMANDS = [search]
