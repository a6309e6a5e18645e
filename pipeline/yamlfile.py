"""Load YAML files and validate them with pydantic, naming file, line and field on error."""

from __future__ import annotations

import re
from pathlib import Path
from re import _compiler, _parser  # type: ignore[attr-defined]
from re import _constants as _c  # type: ignore[attr-defined]
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from .errors import ConfigError

M = TypeVar("M", bound=BaseModel)
# libyaml's safe loader when PyYAML was built with it (6x faster on alerts/rules.yaml)
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
Loc = tuple[int | str, ...]


def _index_lines(node: yaml.Node, path: Loc, out: dict[Loc, int]) -> None:
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            out[(*path, key.value)] = key.start_mark.line + 1
            _index_lines(value, (*path, key.value), out)
            out[(*path, key.value)] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index_lines(item, (*path, i), out)


def read_yaml(path: Path) -> tuple[Any, dict[Loc, int]]:
    """Parse *path*; return the data and a map from key paths to 1-based line numbers."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    loader = _Loader(text)
    try:  # parsed once: the nodes give the lines, the same nodes give the data
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else "?"
        raise ConfigError(f"{path}:{line}: invalid YAML: {exc.problem}") from exc
    finally:
        loader.dispose()
    lines: dict[Loc, int] = {}
    if node is not None:
        _index_lines(node, (), lines)
    return data, lines


def _line_for(loc: Loc, lines: dict[Loc, int]) -> int | str:
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return "?"


def _field_name(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def validate(model: type[M], data: Any, lines: dict[Loc, int], path: Path, entry_label: Any = None) -> M:
    """Validate *data* as *model*; turn the first error into a one-line ``ConfigError``.

    *entry_label* maps an error location to a human name for the entry (for example the
    outlet id) so the message names the entry as well as the field.
    """
    try:
        return model.model_validate(data if data is not None else {})
    except ValidationError as exc:
        err = exc.errors()[0]
        loc: Loc = tuple(err["loc"])
        where = f"{path}:{_line_for(loc, lines)}"
        entry = entry_label(data, loc) if entry_label else None
        prefix = f"{entry}: " if entry else ""
        raise ConfigError(f"{where}: {prefix}field '{_field_name(loc)}': {err['msg']}") from exc


def refuse_duplicates(path: Path, lines: dict[Loc, int], section: str, kind: str, ids: list[str]) -> None:
    """Raise for the first id that repeats, naming the line of its second use."""
    seen: set[str] = set()
    for i, value in enumerate(ids):
        if value in seen:
            line = _line_for((section, i, "id"), lines)
            raise ConfigError(f"{path}:{line}: {kind} '{value}' appears twice (field '{section}[{i}].id')")
        seen.add(value)


def check_regexes(patterns: list[str]) -> list[str]:
    """A pydantic field check: every item compiles as a Python regular expression, and none has
    a repeat without an upper bound inside another (``(?:\\w+\\s?)*``): ``re`` tries every way of
    sharing the text between the two, which on a text where the pattern fails takes time
    exponential in its length, and one such rule would stall the scoring of every article."""
    for p in patterns:
        try:
            parsed = _parser.parse(p)
            _compiler.compile(parsed, 0)  # parsed once for both checks
        except re.error as exc:
            raise ValueError(f"pattern {p!r} is not a valid regular expression: {exc}") from exc
        if _nested_repeat(parsed, False):
            raise ValueError(
                f"pattern {p!r} has a repeat without an upper bound inside another: matching it can "
                "take time exponential in the text's length; give the outer repeat a bound "
                "({0,5}) or make it possessive (*+)"
            )
    return patterns


_REPEATS = (_c.MAX_REPEAT, _c.MIN_REPEAT)
_ON_ITS_OWN = (_c.POSSESSIVE_REPEAT, _c.ATOMIC_GROUP, _c.ASSERT, _c.ASSERT_NOT)


def _nested_repeat(nodes: Any, inside: bool) -> bool:
    """Whether *nodes* hold an unbounded repeat (greedy or lazy) inside another (*inside*: they
    lie in one). Possessive repeats, atomic groups and lookarounds give back nothing once
    matched, so what they hold is checked on its own."""
    for op, av in nodes:
        within = inside
        if op in _REPEATS:
            unbounded = av[1] == _c.MAXREPEAT
            if unbounded and inside:
                return True
            within = inside or unbounded
        elif op in _ON_ITS_OWN:
            within = False
        if any(_nested_repeat(part, within) for part in held(op, av)):
            return True
    return False


def held(op: Any, av: Any) -> list[Any]:
    """The sequences one node of a parsed ``re`` pattern holds: a group's, each choice's, each
    branch of a conditional, a lookaround's, an atomic group's, a repeat's (none for a node that
    holds nothing)."""
    if op is _c.SUBPATTERN:
        return [av[3]]
    if op is _c.BRANCH:
        return list(av[1])
    if op is _c.GROUPREF_EXISTS:
        return [branch for branch in av[1:] if branch is not None]
    if op is _c.ASSERT or op is _c.ASSERT_NOT:
        return [av[1]]
    if op is _c.ATOMIC_GROUP:
        return [av]
    if op in _REPEATS or op is _c.POSSESSIVE_REPEAT:
        return [av[2]]
    return []
