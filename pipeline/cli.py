"""`mediawatch` command line: each command is a few lines over a library function.

Errors a user can fix print one line (``mediawatch: error: FILE:LINE: ...``) and exit with 2.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import click

from . import __version__
from .errors import InputError, MediaWatchError

if TYPE_CHECKING:  # settings load pydantic; commands that need none (extract) stay light
    from .settings import Settings

EXIT_USAGE = 2


class Cli(click.Group):
    """Turns MediaWatchError into a one-line message and exit code 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MediaWatchError as exc:
            click.echo(f"mediawatch: error: {exc}", err=True)
            ctx.exit(EXIT_USAGE)


def settings_of(ctx: click.Context) -> Settings:
    obj = ctx.ensure_object(dict)
    if "settings" not in obj:
        from .settings import load_settings

        obj["settings"] = load_settings()
        if obj["settings"].log_format != "text":
            from .logs import use_format

            use_format(obj["settings"].log_format)
    return obj["settings"]  # type: ignore[no-any-return]


class Age(click.ParamType):  # type: ignore[type-arg]
    """A span back from now: ``7d``, ``24h``, ``2w`` or ``90m``."""

    name = "age"
    UNITS: ClassVar[dict[str, str]] = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> timedelta:
        if isinstance(value, timedelta):
            return value
        text = str(value).strip().lower()
        unit = self.UNITS.get(text[-1:]) if text else None
        if unit is None or not text[:-1].isdigit() or int(text[:-1]) == 0:
            self.fail(f"'{value}' is not a span like 7d, 24h, 2w or 90m", param, ctx)
        return timedelta(**{unit: int(text[:-1])})


AGE = Age()


@contextmanager
def opened_store(settings: Settings) -> Iterator[Any]:
    from .store import Store

    store = Store.open(settings.db_url)
    try:
        yield store
    finally:
        store.close()


@click.group(cls=Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mediawatch")
@click.option("-v", "--verbose", is_flag=True, help="Log progress (key=value lines on stderr).")
@click.pass_context
def main(ctx: click.Context, verbose: bool) -> None:
    """MediaWatch: watch news coverage, raise media alerts with evidence and letter drafts.

    \b
    Example:
      mediawatch demo            # bundled demo site -> full cycle -> web app
      mediawatch run --once      # one cycle over feeds.yaml
    """
    from .logs import configure

    configure(verbose)  # key=value text; settings_of() switches to JSON if log_format says so


def _register() -> None:
    from .commands import (
        data,
        ops,
        people,
        pipeline_cmds,
        report_cmd,
        rules_cmd,
        search_cmd,
        service_cmd,
        web,
        worker_cmd,
    )

    modules = (
        pipeline_cmds,
        data,
        ops,
        web,
        rules_cmd,
        people,
        search_cmd,
        report_cmd,
        service_cmd,
        worker_cmd,
    )
    for module in modules:
        for command in module.COMMANDS:
            main.add_command(command)


def echo_json(obj: Any) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, indent=2, default=str))


def require_file(path: Path) -> Path:
    if str(path) != "-" and not path.is_file():
        raise InputError(f"{path}: no such file")
    return path


_register()
