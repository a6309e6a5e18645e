"""db upgrade, config show, train, evaluate, uncertain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from ..cli import AGE, echo_json, opened_store, require_file, settings_of
from ..errors import InputError


@click.group()
def db() -> None:
    """Database schema (Alembic migrations).

    \b
    Example:
      mediawatch db upgrade
    """


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Apply migrations (every command also does this on a fresh database).

    \b
    Example:
      MEDIAWATCH_DATABASE_URL=postgresql+psycopg://127.0.0.1/test mediawatch db upgrade
    """
    with opened_store(settings_of(ctx)) as store:
        click.echo(f"schema at revision {store.schema_revision()}")


@click.group()
def config() -> None:
    """Settings, from MEDIAWATCH_* variables and .env.

    \b
    Example:
      mediawatch config show --format json
    """


@config.command("show")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_context
def config_show(ctx: click.Context, fmt: str) -> None:
    """Print the settings in force, secrets masked.

    \b
    Example:
      MEDIAWATCH_WORKERS=8 mediawatch config show
    """
    values = settings_of(ctx).masked()
    if fmt == "json":
        echo_json(values)
        return
    for k, v in values.items():
        click.echo(f"{k} = {v}")


@click.command()
@click.option(
    "--only",
    type=click.Choice(["all", "classifier", "casualty"]),
    default="all",
    show_default=True,
    help="Which shipped model to rebuild.",
)
@click.option(
    "--force", is_flag=True, help="Save the new classifier even if it loses macro-F1 on validation."
)
@click.option("--no-verdicts", is_flag=True, help="Train the classifier on the recorded corpora only.")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the casualty model's public data sets are (default: ../shared/data beside the repo).",
)
@click.pass_context
def train(ctx: click.Context, only: str, force: bool, no_verdicts: bool, data_dir: Path | None) -> None:
    """Rebuild every shipped model from its recorded sources: the article classifier (corpora in
    models/corpus plus people's verdicts) and the casualty sentence model (the public sentence
    sets recorded in models/casualty/casualty.json).

    The new classifier replaces the current one only if its macro-F1 on the fixed validation set
    (models/corpus/validation.jsonl) is at least the current model's; the report says why it was
    kept or refused (exit code 0 either way; "replaced" in the JSON says which).

    \b
    Example:
      mediawatch train
      mediawatch train --only classifier --no-verdicts --force
    """
    settings = settings_of(ctx)
    report: dict[str, object] = {}
    if only in ("all", "classifier"):
        from ..train import train as train_classifier

        verdicts: list[dict[str, object]] = []
        if not no_verdicts:
            with opened_store(settings) as store:
                verdicts = store.training_labels()
        result = train_classifier(settings.models_dir, verdicts, force=force)
        counts = result.documents
        click.echo(
            f"classifier {result.model.version}: {counts['corpus']} corpus documents + "
            f"{counts['verdicts']} verdicts; {result.reason}",
            err=True,
        )
        report["classifier"] = result.as_dict()
    if only in ("all", "casualty"):
        from .. import casualty

        folder = data_dir or casualty.DATA_DIR
        if not folder.is_dir():
            raise InputError(f"{folder}: the casualty model's data sets are not there (--data-dir)")
        metrics = casualty.train(settings.models_dir, folder)
        held = metrics["held_out"]
        click.echo(
            f"casualty model: held-out victim macro-F1 {held['victim']['macro_f1']:.3f}, "
            f"responsible {held['responsible']['macro_f1']:.3f}",
            err=True,
        )
        report["casualty"] = {"held_out": held, "split": metrics["split"]}
    echo_json(report)


@click.command()
@click.option(
    "--since", type=AGE, default="30d", show_default=True, help="Articles first seen this recently."
)
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_context
def uncertain(ctx: click.Context, since: timedelta, limit: int, fmt: str) -> None:
    """The stored articles the classifier is least sure about and nobody has judged yet: label
    these first (a verdict on their alert, or a line in a corpus file).

    \b
    Example:
      mediawatch uncertain --since 7d --limit 10
    """
    from ..classify import load_classifier
    from ..train import least_sure

    settings = settings_of(ctx)
    model = load_classifier(settings.models_dir)
    with opened_store(settings) as store:
        judged = store.labelled_article_ids()
        items = [
            (a.article_id, a.title, a.text)
            for a in store.articles_since(datetime.now(UTC) - since)
            if a.article_id not in judged
        ]
    rows = least_sure(model, items, settings.relevance_threshold, settings.alert_threshold, limit)
    if fmt == "json":
        echo_json(rows)
        return
    if not rows:
        click.echo("no unjudged articles in that span")
    for r in rows:
        click.echo(f"{r['article_id']:>6}  {r['label']:<22} p={r['probability']:.2f}  {r['title'][:70]}")


@click.command()
@click.option(
    "--data",
    required=True,
    type=click.Path(path_type=Path),
    help="JSON Lines: {id, title, text, relevant, categories}.",
)
@click.pass_context
def evaluate(ctx: click.Context, data: Path) -> None:
    """Per-category precision, recall and F1 of the shipped model on labelled data.

    \b
    Example:
      mediawatch evaluate --data models/corpus/seed.jsonl
    """
    from ..classify import load_classifier, read_corpus
    from ..train import evaluate as evaluate_model

    settings = settings_of(ctx)
    docs = read_corpus(require_file(data))
    echo_json(
        evaluate_model(
            load_classifier(settings.models_dir), docs, settings.relevance_threshold, settings.alert_threshold
        )
    )


COMMANDS = [db, config, train, evaluate, uncertain]
