"""run, extract, score, sentences."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..cli import opened_store, require_file, settings_of
from ..errors import InputError
from ..outfile import output, write_lines
from ..progress import progress_bar, step_progress

if TYPE_CHECKING:
    from ..records import Selectors


@click.command()
@click.option("--once", is_flag=True, help="Run one full cycle and exit.")
@click.option(
    "--feeds", "feeds_file", type=click.Path(path_type=Path), help="Feeds file (default: settings)."
)
@click.option(
    "--no-wait",
    is_flag=True,
    help="If another `run` holds the scheduler lock, exit (code 2) instead of waiting as a standby.",
)
@click.pass_context
def run(ctx: click.Context, once: bool, feeds_file: Path | None, no_wait: bool) -> None:
    """Poll feeds, extract, score and raise alerts: with --once one cycle, otherwise a service.

    The service runs scheduled jobs (polls, processing, revisits, notices, reports, gated
    retraining, retention, backups) with its job store in the database. One process per
    database schedules; another waits as a standby and takes over when it stops (or exits with
    --no-wait). SIGTERM or Ctrl-C: the running job finishes, then exit 0.

    \b
    Example:
      mediawatch run --once
      MEDIAWATCH_POLL_INTERVAL_MINUTES=10 mediawatch run
    """
    from ..orchestrate import build, run_cycle

    settings = settings_of(ctx)
    with opened_store(settings) as store:
        if once:
            p = build(settings, store, feeds_file)
            with step_progress() as progress:
                stats = run_cycle(p, progress)
            click.echo(" ".join(f"{k}={v}" for k, v in sorted(stats.items())) or "nothing to do")
        else:
            from ..logs import service_logging
            from ..service import run_service

            service_logging()
            run_service(settings, store, feeds_file, wait=not no_wait)


@click.command()
@click.argument("url")
@click.option("--outlet", help="Outlet id from feeds.yaml (default: matched on the URL's host).")
@click.option("--title", default="", help="Headline, if known (the page's own title is used otherwise).")
@click.option("--by", "by", default=None, help="Who submitted it, for the audit log (default: your login).")
@click.option("--now", "process_now", is_flag=True, help="Fetch, score and alert right away.")
@click.pass_context
def submit(
    ctx: click.Context, url: str, outlet: str | None, title: str, by: str | None, process_now: bool
) -> None:
    """Queue an article a person found; it takes the same path as feed items.

    \b
    Example:
      mediawatch submit https://www.example-news.ca/world/story-123 --now
    """
    import getpass

    from ..orchestrate import build, process_entries
    from ..submit import submit_url

    settings = settings_of(ctx)
    with opened_store(settings) as store:
        p = build(settings, store)
        result = submit_url(p, url, outlet, title, by or getpass.getuser())
        click.echo(result.message)
        if process_now and result.created:
            process_entries(p)
            click.echo(f"processed: {store.entry_status(result.entry_id)}")


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["jsonl"]), default="jsonl", show_default=True)
@click.option("-o", "--output", "out", type=click.Path(path_type=Path), help="Write here instead of stdout.")
@click.option("--outlet", "outlet_id", help="Apply this outlet's extraction selectors from the feeds file.")
@click.option(
    "--feeds",
    "feeds_file",
    type=click.Path(path_type=Path),
    help="Feeds file for --outlet (default: settings).",
)
@click.pass_context
def extract(
    ctx: click.Context,
    files: tuple[Path, ...],
    fmt: str,
    out: Path | None,
    outlet_id: str | None,
    feeds_file: Path | None,
) -> None:
    """Extract article text and metadata from HTML files (.html or .html.gz).

    One JSON object per file: source, title, text, published, language, authors.
    With --outlet, the outlet's CSS selectors (feeds.yaml `extraction:`) apply to every file.

    \b
    Example:
      mediawatch extract page.html other.html.gz --format jsonl > articles.jsonl
      mediawatch extract story.html --outlet national-post
    """
    from ..extract import extract_file

    if feeds_file is not None and outlet_id is None:
        raise InputError("--feeds names the feeds file for --outlet: give --outlet too")
    for f in files:
        require_file(f)
    selectors = _outlet_selectors(ctx, outlet_id, feeds_file) if outlet_id is not None else None

    def rows() -> Iterator[dict[str, object]]:
        for f in progress_bar(files, "extracting"):
            d = extract_file(f, selectors)
            yield {
                "source": d.source,
                "title": d.title,
                "text": d.text,
                "published": d.published,
                "language": d.language,
                "authors": d.authors,
            }

    with output(out) as fh:
        write_lines(rows(), fh)


def _outlet_selectors(ctx: click.Context, outlet_id: str, feeds_file: Path | None) -> Selectors:
    """The outlet's selectors; the feeds file (and pydantic) load only when --outlet asks for them."""
    from ..config import load_feeds

    path = feeds_file if feeds_file is not None else settings_of(ctx).feeds_file
    return load_feeds(path).outlet(outlet_id).extraction.selectors()


@click.command()
@click.option(
    "--input",
    "inp",
    required=True,
    type=click.Path(path_type=Path),
    help="JSON Lines: {id, title, text, url?, outlet?, published?, language?}.",
)
@click.option("-o", "--output", "out", type=click.Path(path_type=Path), help="Write here instead of stdout.")
@click.pass_context
def score(ctx: click.Context, inp: Path, out: Path | None) -> None:
    """Score articles: relevance, categories, alert, kind, severity and evidence.

    \b
    Example:
      mediawatch score --input articles.jsonl --output scores.jsonl
    """
    from ..jsonl import ScoreLine, read_lines
    from ..records import ScoreInput
    from ..score import build_scorer

    path = require_file(inp)
    if str(path) == "-":  # standard input can be read once: hold it, so a bad line writes nothing
        lines: Iterable[ScoreLine] = list(read_lines(path, ScoreLine))
    else:  # a file is checked whole first, then scored in batches: memory stays flat
        for _line in read_lines(path, ScoreLine):
            pass
        lines = read_lines(path, ScoreLine)
    scorer = build_scorer(settings_of(ctx))

    def rows() -> Iterator[dict[str, object]]:
        pending = iter(lines)
        while batch := list(itertools.islice(pending, 64)):
            items = [
                ScoreInput(str(x.id), x.title, x.text, x.url, x.outlet, x.published, x.language)
                for x in batch
            ]
            for s in scorer.score_many(items):
                yield s.as_dict()

    with output(out) as fh:
        write_lines(rows(), fh)


@click.command()
@click.option(
    "--input",
    "inp",
    required=True,
    type=click.Path(path_type=Path),
    help="JSON Lines: {id, text, title?, before?, article?}, one sentence each.",
)
@click.option("-o", "--output", "out", type=click.Path(path_type=Path), help="Write here instead of stdout.")
@click.option(
    "--probabilities", is_flag=True, help="Add each label's probabilities (sentences with a casualty word)."
)
def sentences(inp: Path, out: Path | None, probabilities: bool) -> None:
    """Label casualty sentences: victim (israeli|palestinian|both|neither) and responsible
    (israel|hamas|both|neither), the perpetrator the sentence names.

    Optional context per line makes the labels better: `title` (the headline), `before` (the
    previous sentence), `article` (a key shared by consecutive lines of one article: each line
    then gets the article's previous casualty sentence as context).

    \b
    Example:
      echo '{"id": 1, "text": "Five Palestinians were killed in Gaza."}' > s.jsonl
      mediawatch sentences --input s.jsonl --probabilities
    """
    from ..casualty import Item
    from ..jsonl import SentenceLine, read_lines
    from ..sentences import is_casualty_sentence, label_items

    lines = list(read_lines(require_file(inp), SentenceLine))
    items: list[Item] = []
    last: dict[str | None, str] = {}
    for x in lines:
        key = None if x.article is None else str(x.article)
        before = x.before if x.before is not None else last.get(key, "") if key is not None else ""
        items.append(Item(x.text, before, x.title or ""))
        if key is not None and is_casualty_sentence(x.text):
            last[key] = x.text

    def rows() -> Iterator[dict[str, object]]:
        for k in range(0, len(items), 256):
            ids = [str(x.id) for x in lines[k : k + 256]]
            for label in label_items(ids, items[k : k + 256]):
                d = label.as_dict()
                if not probabilities:
                    d.pop("probabilities", None)
                yield d

    with output(out) as fh:
        write_lines(rows(), fh)


COMMANDS = [run, submit, extract, score, sentences]
