"""Letter drafts from the Jinja2 templates in alerts/templates/{en,fr}/, sandboxed.

A template renders a ``Subject:`` line, a blank line, then paragraphs separated by blank lines.
A paragraph starting with ``[optional]`` may be dropped, last first, to fit the word limit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field

from .errors import ConfigError
from .records import LetterDraft
from .yamlfile import read_yaml, validate

OPTIONAL = "[optional]"
QUOTE_WORDS = 35
KINDS = ("complaint", "praise")
LANGUAGES = ("en", "fr")
LABELS = {
    "en": {
        "agentless_casualties": "deaths reported without saying who caused them",
        "casualty_doubt": "doubt cast on casualty figures for one side only",
        "missing_context": "missing context",
        "one_sided_sourcing": "one-sided sourcing",
        "loaded_language": "loaded or euphemistic language",
        "dehumanization": "dehumanizing language",
        "protest_smear": "an unsupported smear of protesters",
        "islamophobia": "Islamophobic framing",
        "double_standard": "a double standard in how each side is described",
        "headline_framing": "a headline that hides who did what",
        "factual_error": "a possible factual error",
        "good_coverage": "careful, contextual reporting",
    },
    "fr": {
        "agentless_casualties": "des morts rapportées sans dire qui les a causées",
        "casualty_doubt": "un doute jeté sur les bilans d'un seul camp",
        "missing_context": "un contexte manquant",
        "one_sided_sourcing": "des sources d'un seul côté",
        "loaded_language": "un vocabulaire orienté ou euphémique",
        "dehumanization": "un langage déshumanisant",
        "protest_smear": "une accusation sans preuve contre des manifestants",
        "islamophobia": "un cadrage islamophobe",
        "double_standard": "un deux poids, deux mesures entre les deux camps",
        "headline_framing": "un titre qui cache qui a fait quoi",
        "factual_error": "une possible erreur factuelle",
        "good_coverage": "un reportage rigoureux et mis en contexte",
    },
}


class TalkingPoint(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    categories: list[str] = Field(min_length=1)
    language: str = Field(pattern=r"^(en|fr)$")
    text: str = Field(min_length=1)
    source: str = Field(min_length=1)
    url: str | None = None


class TalkingPoints(BaseModel):
    model_config = ConfigDict(extra="forbid")
    talking_points: list[TalkingPoint]

    def for_categories(self, language: str, categories: list[str], limit: int = 3) -> list[TalkingPoint]:
        ranked = [
            tp
            for c in categories
            for tp in self.talking_points
            if tp.language == language and c in tp.categories
        ]
        seen: dict[str, TalkingPoint] = {}
        for tp in ranked:
            seen.setdefault(tp.id, tp)
        return list(seen.values())[:limit]


def load_talking_points(path: Path) -> TalkingPoints:
    data, lines = read_yaml(path)
    return validate(TalkingPoints, data, lines, path)


def count_words(text: str) -> int:
    return len(re.findall(r"\w+(?:['’-]\w+)*", text))


def short_quote(quote: str, words: int = QUOTE_WORDS) -> str:
    parts = " ".join(quote.split()).split(" ")
    return " ".join(parts[:words]) + (" …" if len(parts) > words else "")


@dataclass(slots=True)
class LetterContext:
    """Everything a template may use."""

    kind: str
    language: str
    outlet: dict[str, Any]
    recipient: str | None
    article: dict[str, Any]
    issues: list[dict[str, Any]]
    talking_points: list[dict[str, Any]]
    wire: dict[str, Any] | None = None


class LetterTemplates:
    """All templates compiled at load: a broken one is a ``ConfigError`` naming the file."""

    def __init__(self, directory: Path) -> None:
        self.env = SandboxedEnvironment(
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            autoescape=False,
            keep_trailing_newline=False,
        )
        self.templates = {}
        for lang in LANGUAGES:
            for kind in KINDS:
                path = directory / lang / f"{kind}.txt.j2"
                try:
                    self.templates[(lang, kind)] = self.env.from_string(path.read_text("utf-8"))
                except OSError as exc:
                    raise ConfigError(f"{path}: cannot read letter template: {exc.strerror}") from exc
                except TemplateSyntaxError as exc:
                    raise ConfigError(f"{path}:{exc.lineno}: template error: {exc.message}") from exc

    def render(self, ctx: LetterContext, word_limit: int | None) -> LetterDraft:
        template = self.templates[(ctx.language, ctx.kind)]
        try:
            raw = template.render(
                **{k: getattr(ctx, k) for k in LetterContext.__slots__}, labels=LABELS[ctx.language]
            )
        except TemplateError as exc:
            raise ConfigError(f"letter template {ctx.language}/{ctx.kind}.txt.j2: {exc}") from exc
        subject, paragraphs = _split(raw)
        dropped = 0
        while word_limit and count_words("\n\n".join(p for _, p in paragraphs)) > word_limit:
            optional = [i for i, (opt, _) in enumerate(paragraphs) if opt]
            if not optional:
                break
            paragraphs.pop(optional[-1])
            dropped += 1
        body = "\n\n".join(p for _, p in paragraphs)
        return LetterDraft(
            ctx.language, ctx.kind, subject, body, count_words(body), word_limit, ctx.recipient, dropped
        )


def _split(raw: str) -> tuple[str, list[tuple[bool, str]]]:
    blocks = [b.strip() for b in re.split(r"\n\s*\n", raw.strip()) if b.strip()]
    subject = ""
    if blocks and blocks[0].lower().startswith(("subject:", "objet :", "objet:")):
        subject = blocks.pop(0).split(":", 1)[1].strip()
    out = []
    for b in blocks:
        optional = b.startswith(OPTIONAL)
        text = b.removeprefix(OPTIONAL).strip() if optional else b
        out.append((optional, text))
    return subject, out
