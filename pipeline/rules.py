"""Keyword and linguistic rules (alerts/rules.yaml): validated at load, compiled once."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .records import CATEGORIES, Evidence
from .yamlfile import Loc, read_yaml, refuse_duplicates, validate


class Near(BaseModel):
    model_config = ConfigDict(extra="forbid")
    words: int = Field(default=20, ge=1, le=200)
    terms: list[str] = Field(min_length=1)


class RuleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    category: str
    language: Literal["en", "fr"]
    patterns: list[str] = Field(default_factory=list)
    phrases: list[str] = Field(default_factory=list)
    near: Near | None = None
    not_preceded_by: list[str] = Field(default_factory=list)
    headline_only: bool = False
    weight: float = Field(gt=0, le=1)
    explanation: str = Field(min_length=1)
    replacement: str | None = None
    example: str | None = None
    near_miss: str | None = None

    @field_validator("category")
    @classmethod
    def _known_category(cls, value: str) -> str:
        if value not in CATEGORIES:
            raise ValueError(f"unknown category (known: {', '.join(CATEGORIES)})")
        return value

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, value: list[str]) -> list[str]:
        for p in value:
            try:
                re.compile(p)
            except re.error as exc:
                raise ValueError(f"pattern {p!r} is not a valid regular expression: {exc}") from exc
        return value

    @model_validator(mode="after")
    def _has_something_to_match(self) -> RuleSpec:
        if not self.patterns and not self.phrases:
            raise ValueError("a rule needs at least one of patterns or phrases")
        return self


class RulesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rules: list[RuleSpec]


@dataclass(frozen=True, slots=True)
class Rule:
    spec: RuleSpec
    regex: re.Pattern[str]
    near: re.Pattern[str] | None
    cancel: re.Pattern[str] | None


def _compile(spec: RuleSpec) -> Rule:
    parts = list(spec.patterns) + [rf"\b{re.escape(p)}\b" for p in spec.phrases]
    near = None
    if spec.near:
        near = re.compile("|".join(rf"\b(?:{t})\b" for t in spec.near.terms), re.I)
    cancel = None
    if spec.not_preceded_by:
        alts = "|".join(re.escape(w) for w in spec.not_preceded_by)
        cancel = re.compile(rf"\b(?:{alts})\W*$", re.I)
    return Rule(spec, re.compile("|".join(f"(?:{p})" for p in parts), re.I), near, cancel)


class RuleSet:
    """Compiled rules; ``match`` returns evidence with character offsets."""

    def __init__(self, specs: list[RuleSpec]) -> None:
        self.rules = [_compile(s) for s in specs]
        self.by_id = {r.spec.id: r for r in self.rules}

    def __len__(self) -> int:
        return len(self.rules)

    def match(self, title: str, text: str, language: str | None) -> list[Evidence]:
        found: list[Evidence] = []
        for rule in self.rules:
            if language and rule.spec.language != language:
                continue
            fields = [("title", title)] if rule.spec.headline_only else [("title", title), ("text", text)]
            for field, body in fields:
                found.extend(_matches(rule, field, body))
        return found


def _window_ok(rule: Rule, body: str, start: int, end: int) -> bool:
    if rule.near is None or rule.spec.near is None:
        return True
    n = rule.spec.near.words
    before = body[max(0, start - 12 * n) : start].split()[-n:]
    after = body[end : end + 12 * n].split()[:n]
    return rule.near.search(" ".join([*before, body[start:end], *after])) is not None


def _matches(rule: Rule, field: str, body: str) -> list[Evidence]:
    out = []
    for m in rule.regex.finditer(body):
        if rule.cancel and rule.cancel.search(body[max(0, m.start() - 40) : m.start()]):
            continue
        if not _window_ok(rule, body, m.start(), m.end()):
            continue
        out.append(
            Evidence(
                category=rule.spec.category,
                quote=m.group(0),
                start=m.start(),
                end=m.end(),
                source=f"rule:{rule.spec.id}",
                explanation=rule.spec.explanation,
                replacement=rule.spec.replacement,
                field=field,
            )
        )
    return out


def _rule_label(data: Any, loc: Loc) -> str | None:
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
        try:
            return f"rule '{data['rules'][loc[1]].get('id', '#' + str(loc[1]))}'"
        except (KeyError, IndexError, TypeError, AttributeError):
            return f"rule #{loc[1]}"
    return None


def load_rules(path: Path) -> RuleSet:
    """Read, validate and compile a rules file; errors name the file, line, rule and field."""
    data, lines = read_yaml(path)
    specs = validate(RulesFile, data, lines, path, _rule_label).rules
    refuse_duplicates(path, lines, "rules", "rule", [r.id for r in specs])
    return RuleSet(specs)
