"""JSON Lines in and out for the command-line contract, with errors naming file, line and field.

Writing lives in ``outfile`` (no pydantic), so commands that only write stay light."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import InputError
from .outfile import dumps, output, write_lines

__all__ = ["dumps", "output", "write_lines"]

M = TypeVar("M", bound=BaseModel)


class ScoreLine(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str | int
    title: str
    text: str
    url: str | None = None
    outlet: str | None = None
    published: str | None = None
    language: str | None = None


class SentenceLine(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str | int
    text: str
    # Optional context for the casualty model: the article's headline, the sentence before this
    # one, and an article key grouping consecutive lines of one article (each line then gets the
    # previous casualty sentence of its article as context unless it gives ``before``).
    title: str | None = None
    before: str | None = None
    article: str | int | None = None


class LabelledSentenceLine(SentenceLine):
    victim: str
    responsible: str


def read_lines(path: Path, model: type[M]) -> Iterator[M]:
    """Validate each non-blank line of *path* (``-`` is standard input) as *model*."""
    name = "<stdin>" if str(path) == "-" else str(path)
    try:
        fh: IO[str] = sys.stdin if name == "<stdin>" else path.open(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{name}: cannot read: {exc.strerror or exc}") from exc
    with fh if fh is not sys.stdin else _noop(fh):
        try:
            for n, line in enumerate(fh, 1):
                if line.strip():
                    yield _parse(name, n, line, model)
        except UnicodeDecodeError as exc:
            raise InputError(f"{name}: not UTF-8 text ({exc.reason})") from exc


@contextmanager
def _noop(fh: IO[str]) -> Iterator[IO[str]]:
    yield fh


def _parse(name: str, n: int, line: str, model: type[M]) -> M:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(f"{name}:{n}: not valid JSON: {exc.msg} (column {exc.colno})") from exc
    if not isinstance(data, dict):
        raise InputError(f"{name}:{n}: expected a JSON object, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "(object)"
        raise InputError(f"{name}:{n}: field '{field}': {err['msg']}") from exc
