"""rules test|check: which keyword rules fire where; each rule against its example and near miss."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from ..cli import AGE, echo_json, opened_store, require_file, settings_of
from ..errors import InputError


@click.group("rules")
def rules() -> None:
    """Try the keyword rules of alerts/rules.yaml.

    \b
    Example:
      mediawatch rules test articles.jsonl --rule loaded-clashes
      mediawatch rules test --since 7d --format json
      mediawatch rules check
    """


def _load(ctx: click.Context, rules_file: Path | None, only: tuple[str, ...]) -> Any:
    from ..rules import load_rules

    path = rules_file or settings_of(ctx).alerts_dir / "rules.yaml"
    ruleset = load_rules(path)
    unknown = [r for r in only if r not in ruleset.by_id]
    if unknown:
        raise InputError(f"--rule: unknown rule id {', '.join(repr(u) for u in unknown)} in {path}")
    return ruleset.only(list(only)) if only else ruleset


def _from_file(path: Path) -> Iterator[tuple[str, str, str, str | None]]:
    from pydantic import BaseModel, ConfigDict

    from ..jsonl import read_lines

    class RuleTestLine(BaseModel):
        model_config = ConfigDict(extra="ignore")
        id: str | int | None = None
        title: str = ""
        text: str
        language: str | None = None

    for n, line in enumerate(read_lines(path, RuleTestLine), 1):
        yield (str(line.id) if line.id is not None else f"line {n}", line.title, line.text, line.language)


def _context(body: str, start: int, end: int, width: int = 50) -> str:
    left = body[max(0, start - width) : start]
    right = body[end : end + width]
    return " ".join(f"…{left}[{body[start:end]}]{right}…".split())


@rules.command("test")
@click.argument("file", required=False, type=click.Path(path_type=Path))
@click.option("--since", type=AGE, help="Re-run over stored articles first seen this recently: 24h, 7d, 2w.")
@click.option(
    "--rules", "rules_file", type=click.Path(path_type=Path), help="Rules file [alerts/rules.yaml]."
)
@click.option("--rule", "only", multiple=True, help="Only this rule id (repeatable).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_context
def rules_test(
    ctx: click.Context,
    file: Path | None,
    since: timedelta | None,
    rules_file: Path | None,
    only: tuple[str, ...],
    fmt: str,
) -> None:
    """Show which rules fire where, in a file or in stored articles, with a count per rule.

    FILE is JSON Lines, one object per line: {"id"?, "title"?, "text", "language"?} (``-`` reads
    standard input); a line without language runs every rule. A bad line stops with a one-line
    error naming the file, line and field (exit 2).

    \b
    Example:
      echo '{"id": "a1", "text": "Clashes erupted in the West Bank.", "language": "en"}' > a.jsonl
      mediawatch rules test a.jsonl
      mediawatch rules test --since 7d --rule loaded-clashes --format json
    """
    if (file is None) == (since is None):
        raise InputError("give either FILE or --since (not both)")
    ruleset = _load(ctx, rules_file, only)
    fired: Counter[str] = Counter()
    matches: list[dict[str, Any]] = []
    texts = 0

    def run(items: Iterator[tuple[str, str, str, str | None]]) -> None:
        nonlocal texts
        for ident, title, text, language in items:
            texts += 1
            for ev in ruleset.match(title, text, language):
                rule_id = ev.source.removeprefix("rule:")
                fired[rule_id] += 1
                body = title if ev.field == "title" else text
                row = {"id": ident, "field": ev.field, "rule": rule_id, "category": ev.category}
                row |= {"quote": ev.quote, "start": ev.start, "end": ev.end}
                row["context"] = _context(body, ev.start, ev.end)
                matches.append(row)
                if fmt == "text":
                    click.echo(f"{ident}  {ev.field:<5} {rule_id}  ({ev.category})  {row['context']}")

    if file is not None:
        run(_from_file(require_file(file)))
    else:
        with opened_store(settings_of(ctx)) as store:
            stored = store.articles_since(datetime.now(UTC) - (since or timedelta(0)))
            run((f"article {a.article_id}", a.title, a.text, a.language) for a in stored)
    counts = {r.spec.id: fired.get(r.spec.id, 0) for r in ruleset.rules}
    if fmt == "json":
        echo_json({"texts": texts, "matches": matches, "counts": counts})
    else:
        _summary(ruleset, counts, texts, len(matches))


def _summary(ruleset: Any, counts: dict[str, int], texts: int, matches: int) -> None:
    click.echo(f"\n{texts} texts, {matches} matches")
    click.echo(f"{'rule':<40} {'category':<22} fired")
    for r in sorted(ruleset.rules, key=lambda r: (-counts[r.spec.id], r.spec.id)):
        if counts[r.spec.id]:
            click.echo(f"{r.spec.id:<40} {r.spec.category:<22} {counts[r.spec.id]:>5}")
    silent = [r.spec.id for r in ruleset.rules if not counts[r.spec.id]]
    if silent:
        click.echo(f"never fired ({len(silent)}): {', '.join(silent)}")


@rules.command("check")
@click.option(
    "--rules", "rules_file", type=click.Path(path_type=Path), help="Rules file [alerts/rules.yaml]."
)
@click.option("--rule", "only", multiple=True, help="Only this rule id (repeatable).")
@click.pass_context
def rules_check(ctx: click.Context, rules_file: Path | None, only: tuple[str, ...]) -> None:
    """Run each rule on its example (it must fire) and near miss (it must not); exit 1 on a failure.

    \b
    Example:
      mediawatch rules check
      mediawatch rules check --rules my-rules.yaml --rule loaded-clashes
    """
    ruleset = _load(ctx, rules_file, only)
    failures = 0
    for rule in ruleset.rules:
        spec = rule.spec
        for label, sentence, want in (("example", spec.example, True), ("near_miss", spec.near_miss, False)):
            if not sentence:
                continue
            title, text = (sentence, "") if spec.headline_only else ("", sentence)
            got = any(e.source == f"rule:{spec.id}" for e in ruleset.match(title, text, spec.language))
            if got != want:
                failures += 1
                verb = "does not fire on" if want else "fires on"
                click.echo(f"FAIL {spec.id}: {verb} its {label}: {sentence}")
    click.echo(f"{len(ruleset)} rules checked, {failures} failures")
    if failures:
        ctx.exit(1)


COMMANDS = [rules]
