"""mediawatch report: a coverage report for a period, as self-contained HTML or PDF."""

from __future__ import annotations

from pathlib import Path

import click

from ..cli import opened_store, settings_of
from ..errors import InputError


@click.command()
@click.option("--from", "start", required=True, help="First day of the period (YYYY-MM-DD, UTC).")
@click.option("--to", "end", required=True, help="Last day of the period, included (YYYY-MM-DD, UTC).")
@click.option("--outlet", "outlets", multiple=True, help="Outlet id (repeatable); default all.")
@click.option("--language", default="en", show_default=True, help="Report text language: en or fr.")
@click.option("--format", "fmt", default="html", show_default=True, help="html or pdf (PDF needs Chromium).")
@click.option("-o", "--output", "out", required=True, type=click.Path(path_type=Path), help="File to write.")
@click.pass_context
def report(
    ctx: click.Context,
    start: str,
    end: str,
    outlets: tuple[str, ...],
    language: str,
    fmt: str,
    out: Path,
) -> None:
    """Coverage report: volume, issue categories, casualty language, sourcing, alert funnel.

    Totals equal the rows of `mediawatch export` for the same --from/--to/--outlet.

    \b
    Example:
      mediawatch report --from 2024-10-01 --to 2024-10-31 --format html --output var/oct.html
      mediawatch report --from 2024-10-01 --to 2024-10-07 --outlet maple-ledger --language fr \\
          --format pdf --output var/week.pdf
    """
    from ..coverage import FORMATS, LANGUAGES, generate
    from ..exports import parse_when

    if fmt not in FORMATS:
        raise InputError(f"--format: '{fmt}' is not html or pdf")
    if language not in LANGUAGES:
        raise InputError(f"--language: '{language}' is not en or fr")
    begin, finish = parse_when("--from", start, False), parse_when("--to", end, True)
    assert begin is not None and finish is not None
    with opened_store(settings_of(ctx)) as store:
        known = dict(store.outlet_names())
        for o in outlets:
            if o not in known:
                raise InputError(f"--outlet: unknown outlet '{o}'")
        data = generate(store, begin, finish, out, outlets, language, fmt)
    click.echo(f"report written to {out} ({data.articles} articles, {data.alerts} alerts)")


COMMANDS = [report]
