"""db upgrade, config show, train, evaluate."""

from __future__ import annotations

from pathlib import Path

import click

from ..cli import echo_json, opened_store, require_file, settings_of


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
@click.pass_context
def train(ctx: click.Context) -> None:
    """Rebuild the shipped classifier from its recorded corpora and print its metrics.

    \b
    Example:
      mediawatch train
    """
    from ..train import train as train_models

    model, metrics = train_models(settings_of(ctx).models_dir)
    click.echo(f"model {model.version} trained on {model.meta['documents']} documents")
    echo_json(metrics)


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


COMMANDS = [db, config, train, evaluate]
