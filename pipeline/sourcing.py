"""Who is quoted, and for which side: sourcing balance for ``one_sided_sourcing`` (EN and FR).

An *attribution* is a cue ("said", "told", "according to", "in a statement", "a spokesperson
for"; "a déclaré", "selon", "affirme", "porte-parole de"...) with its speaker: the name found
closest to the cue in the same clause, before it ("the Israeli military said") or after it when
the cue follows a quotation or a comma (", said the IDF.") or introduces its speaker ("according
to", "selon"). Speakers are looked up in ``alerts/gazetteer.yaml`` (affiliation -> side);
pronouns and unknown names give no attribution.

    quotes(text, language) -> list[Quote]
    sourcing_balance(text, language) -> Balance
    sourcing_evidence(title, text, language) -> list[Evidence]

``sourcing_evidence`` yields one ``one_sided_sourcing`` item (source ``rule:sourcing-balance``,
quoting the first attribution of the dominant side, offsets into *text*) when the piece is about
the war or its casualties (``WAR_TERMS_MIN`` distinct war terms in title + text), quotes one side
at least ``ONE_SIDE_MIN`` times and the other side never, and quotes independent sources (UN
agencies, aid and rights groups, experts) less often than the dominant side.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

import ahocorasick
from pydantic import BaseModel, ConfigDict, Field, field_validator

from .records import Evidence
from .rules import RuleSet, RuleSpec, fold
from .yamlfile import check_regexes, read_yaml, validate

GAZETTEER = Path(__file__).resolve().parents[1] / "alerts" / "gazetteer.yaml"
ONE_SIDE_MIN = 3  # attributions to one side before its silence on the other counts as one-sided
WAR_TERMS_MIN = 2  # distinct war/casualty terms that make a piece "about the war"
WINDOW = 120  # characters searched for a speaker on either side of a cue
SOURCE = "rule:sourcing-balance"
Side = Literal["israeli", "palestinian", "independent", "other"]

_CUES = {
    "en": """said says told tells stated added adds claimed claims alleged announced confirmed warned
        wrote explained noted insisted|according to|in a statement|spokesperson for|spokesman for
        |spokeswoman for""",
    "fr": """a déclaré|ont déclaré|déclare|a dit|ont dit|affirme|affirment|a affirmé|ont affirmé|selon
        |a indiqué|ont indiqué|indique|a précisé|précise|a ajouté|ajoute|a expliqué|explique
        |a assuré|assure|a confié|estime|a estimé|a annoncé|annonce|a dénoncé|dénonce|a averti
        |a souligné|souligne|dans un communiqué|porte-parole de|porte-parole du|porte-parole d’
        |porte-parole d'""",
}


def _cue_list(language: str) -> list[str]:
    text = _CUES[language]
    if language == "en":
        first, *rest = text.split("|")
        return first.split() + [" ".join(c.split()) for c in rest]
    return [" ".join(c.split()) for c in text.split("|")]


# cues whose speaker comes after them
_FORWARD = re.compile(r"according\sto|spokes|selon|porte-parole", re.I)
_WAR_TERMS = {
    "en": (
        "killed",
        "strike",
        "airstrike",
        "bombard",
        "offensive",
        "war ",
        "casualt",
        "death toll",
        "hostage",
        "gaza",
        "west bank",
        "rafah",
        "ceasefire",
        "wounded",
        "militar",
    ),
    "fr": (
        "tué",
        "frappe",
        "bombard",
        "offensive",
        "guerre",
        "victime",
        "bilan",
        "otage",
        "gaza",
        "cisjordanie",
        "rafah",
        "cessez-le-feu",
        "blessé",
        "militaire",
    ),
}
_CLAUSE_END = re.compile(r"[.;!?\n]")
_INVERTED = re.compile(r"[,\"”»]\s*$")
_PRONOUN = re.compile(r"\b(?:he|she|they|il|elle|ils|elles)\s*$", re.I)


class Aliases(BaseModel):
    model_config = ConfigDict(extra="forbid")
    aliases: list[str] = Field(default_factory=list)
    patterns: list[str] = Field(default_factory=list)

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, value: list[str]) -> list[str]:
        return check_regexes(value)


class Affiliation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    side: Side
    en: Aliases = Field(default_factory=Aliases)
    fr: Aliases = Field(default_factory=Aliases)


class Gazetteer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    affiliations: dict[str, Affiliation]


@dataclass(frozen=True, slots=True)
class Quote:
    """One attribution: the speaker's name as written (``text[start:end]``), its affiliation and
    side, and the span of the whole attribution (speaker and cue)."""

    speaker: str
    start: int
    end: int
    affiliation: str
    side: Side
    span: tuple[int, int]


@dataclass(frozen=True, slots=True)
class Balance:
    israeli: int = 0
    palestinian: int = 0
    independent: int = 0
    other: int = 0
    by_affiliation: dict[str, int] = field(default_factory=dict)

    def count(self, side: str) -> int:
        return int(getattr(self, side))


@dataclass(frozen=True, slots=True)
class _Lexicon:
    # ahocorasick.Automaton over folded text: cue -> (length, "", None);
    # alias -> (length, affiliation, the alias as written when it is an acronym)
    automaton: Any
    patterns: RuleSet  # the gazetteer's patterns, one rule per affiliation ("gz-<affiliation>")
    sides: dict[str, Side]


def load_gazetteer(path: Path = GAZETTEER) -> Gazetteer:
    """Read and validate the gazetteer; errors name the file, line and field."""
    data, lines = read_yaml(path)
    return validate(Gazetteer, data, lines, path)


def _acronym(name: str) -> bool:
    return name.isupper() and name.isalpha() and len(name) <= 6


@cache
def _lexicon(language: str, path: Path = GAZETTEER) -> _Lexicon:
    gazetteer = load_gazetteer(path)
    automaton = ahocorasick.Automaton()
    for cue in _cue_list(language):
        automaton.add_word(fold(cue), (len(cue), "", None))
    specs = []
    for name, aff in gazetteer.affiliations.items():
        lists: Aliases = aff.fr if language == "fr" else aff.en
        for alias in lists.aliases:
            key = fold(alias)
            if key not in automaton:  # the first affiliation listing an alias keeps it
                automaton.add_word(key, (len(key), name, alias if _acronym(alias) else None))
        if lists.patterns:
            spec = {"id": f"gz-{name.replace('_', '-')}", "category": "one_sided_sourcing"}
            spec |= {"language": language, "weight": "1", "explanation": name}
            spec["patterns"] = lists.patterns  # type: ignore[assignment]
            specs.append(RuleSpec.model_validate(spec))
    automaton.make_automaton()
    sides = {name: aff.side for name, aff in gazetteer.affiliations.items()}
    return _Lexicon(automaton, RuleSet(specs), sides)


Name = tuple[int, int, str]  # start, end, affiliation


def _scan(lex: _Lexicon, text: str, folded: str, language: str) -> tuple[list[tuple[int, int]], list[Name]]:
    """The cues (start, end) and the gazetteer names in *text*, left to right; where names
    overlap, the longest."""
    cues: list[tuple[int, int]] = []
    found: list[Name] = []
    n = len(folded)
    for end, (length, aff, written) in lex.automaton.iter(folded):
        s, e = end - length + 1, end + 1
        if (s and folded[s - 1].isalnum()) or (e < n and folded[e].isalnum()):
            continue  # part of a longer word
        if not aff:
            cues.append((s, e))
        elif written is None or text[s:e] == written:  # acronyms as written ("WHO", not "who")
            found.append((s, e, aff))
    if cues:
        for ev in lex.patterns.match("", folded, language):
            found.append((ev.start, ev.end, ev.explanation))
    found.sort(key=lambda s: (s[0], -(s[1] - s[0])))
    names: list[Name] = []
    for s in found:
        if names and s[0] < names[-1][1]:
            if s[1] - s[0] > names[-1][1] - names[-1][0]:
                names[-1] = s
            continue
        names.append(s)
    cues.sort()
    return cues, names


def _clause(text: str, cue_start: int, cue_end: int) -> tuple[int, int]:
    before = text[max(0, cue_start - WINDOW) : cue_start]
    ends = [m.end() for m in _CLAUSE_END.finditer(before)]
    a = max(0, cue_start - WINDOW) + (ends[-1] if ends else 0)
    m = _CLAUSE_END.search(text, cue_end, cue_end + WINDOW)
    b = m.start() if m else min(len(text), cue_end + WINDOW)
    return a, b


def quotes(text: str, language: str | None) -> list[Quote]:
    """Every attribution in *text* whose speaker the gazetteer knows, in text order."""
    lang = "fr" if language == "fr" else "en"
    lex = _lexicon(lang)
    cues, names = _scan(lex, text, fold(text), lang)
    starts = [n[0] for n in names]
    out = []
    used: set[int] = set()
    for cs, ce in cues:
        a, b = _clause(text, cs, ce)
        before = text[a:cs]
        forward = _FORWARD.match(text, cs) is not None
        if not forward and _PRONOUN.search(before):
            continue
        if forward or _INVERTED.search(before) or not before.strip():
            k = bisect_left(starts, ce)
            chosen = names[k] if k < len(names) and names[k][1] <= b else None
        else:
            k = bisect_left(starts, cs) - 1
            chosen = names[k] if k >= 0 and names[k][0] >= a and names[k][1] <= cs else None
        if chosen is None or chosen[0] in used:
            continue  # no known speaker, or one already counted ("a spokesperson for X told")
        used.add(chosen[0])
        s, e, aff = chosen
        out.append(Quote(text[s:e], s, e, aff, lex.sides[aff], (min(s, cs), max(e, ce))))
    return out


def sourcing_balance(text: str, language: str | None) -> Balance:
    """Attributions counted by side and by affiliation."""
    counts = {"israeli": 0, "palestinian": 0, "independent": 0, "other": 0}
    by_aff: dict[str, int] = {}
    for q in quotes(text, language):
        counts[q.side] += 1
        by_aff[q.affiliation] = by_aff.get(q.affiliation, 0) + 1
    return Balance(**counts, by_affiliation=by_aff)


def about_the_war(title: str, text: str, language: str | None) -> bool:
    folded = fold(f"{title}\n{text}")
    terms = _WAR_TERMS["fr" if language == "fr" else "en"]
    return sum(1 for t in terms if t in folded) >= WAR_TERMS_MIN


_SIDE_NAME = {
    "en": {"israeli": "Israeli", "palestinian": "Palestinian"},
    "fr": {"israeli": "israélien", "palestinian": "palestinien"},
}


def _explanation(side: str, other: str, mine: list[Quote], independent: int, language: str) -> str:
    n = len(mine)
    officials = all(q.affiliation.endswith("_official") for q in mine)
    if language == "fr":
        who = (
            f"des responsables {_SIDE_NAME['fr'][side]}s"
            if officials
            else f"des sources {_SIDE_NAME['fr'][side]}nes"
        )
        tail = f", {independent} à des sources indépendantes" if independent else " ni indépendantes"
        return (
            f"{n} attributions à {who}, aucune à des sources "
            f"{_SIDE_NAME['fr'][other]}nes{tail} : la version d'un seul camp reste sans réponse."
        )
    who = "officials" if officials else "sources"
    if independent:
        tail = f"none to {_SIDE_NAME['en'][other]} sources and {independent} to independent ones"
    else:
        tail = f"none to {_SIDE_NAME['en'][other]} or independent sources"
    return f"{n} attributions to {_SIDE_NAME['en'][side]} {who}, {tail}: one side's account goes unanswered."


def sourcing_evidence(
    title: str, text: str, language: str | None, quoted: list[Quote] | None = None
) -> list[Evidence]:
    """``one_sided_sourcing`` evidence for a war piece that quotes one side only (see module doc);
    *quoted* is ``quotes(text, language)`` when the caller has it already."""
    if not about_the_war(title, text, language):
        return []
    found = quotes(text, language) if quoted is None else quoted
    by_side: dict[str, list[Quote]] = {"israeli": [], "palestinian": [], "independent": []}
    for q in found:
        if q.side in by_side:
            by_side[q.side].append(q)
    lang = "fr" if language == "fr" else "en"
    for side, other in (("israeli", "palestinian"), ("palestinian", "israeli")):
        mine, theirs, indep = by_side[side], by_side[other], by_side["independent"]
        if len(mine) >= ONE_SIDE_MIN and not theirs and len(indep) < len(mine):
            a, b = mine[0].span
            return [
                Evidence(
                    "one_sided_sourcing",
                    text[a:b],
                    a,
                    b,
                    SOURCE,
                    _explanation(side, other, mine, len(indep), lang),
                    field="text",
                )
            ]
    return []
