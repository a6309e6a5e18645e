"""Keyword and linguistic rules (alerts/rules.yaml): validated at load, compiled once, run in one pass.

Two paths. The Hyperscan path (``pipeline.rulescan``, when the package is installed) scans the
text once with every rule's pattern relaxed into a form Hyperscan runs, which finds every place
where a match of the rule can start; the rule's own regular expression is then tried only there.
The keyword path (every rule, without Hyperscan; otherwise the rules Hyperscan cannot take: a
back-reference, a pattern that can match the empty string, a ``keywords`` gate) scans the text
once for every rule's *keywords* (literal strings derived from each rule's phrases and patterns,
or given by the rule's ``keywords`` field) with an Aho-Corasick automaton, then runs a rule's full
regular expression only around the places its keywords occur, starting no further back than the
rule's pattern allows. Rules that share a keyword are tried together, by one combined pattern,
and only where one of their *start literals* (the strings every match begins with) occurs. Either
way the evidence is identical to running every rule's regular expression over the whole text
(``RuleSet.match_reference``, kept as the reference the tests and the benchmark compare against).
"""

from __future__ import annotations

import _sre  # type: ignore[import-not-found]
import contextlib
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from re import _casefix, _compiler, _parser  # type: ignore[attr-defined]
from re import _constants as _c  # type: ignore[attr-defined]
from typing import Any, Literal

import ahocorasick
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from . import rulescan
from .records import CATEGORIES, Evidence
from .yamlfile import Loc, check_regexes, held, read_yaml, refuse_duplicates, validate

# ------------------------------------------------------------------ prefilter: required literals
#
# Each rule's regular expression is analysed once, at load (``re._parser``, the parser ``re``
# itself uses), for a *factor*: a small set of literal strings one of which every match contains,
# with a bound ``pre`` on how far after the match start that string can begin and a bound ``ext``
# on how far past the match start the regex engine may look (lookaheads, ``\b`` and ``$``
# included). ``None`` means unbounded. Literals and text are *folded* the way ``re.IGNORECASE``
# compares characters (simple lowercase plus the few extra equivalences of ``re._casefix``),
# every whitespace character becomes a space and every ASCII digit a 0, so that ``\s`` and
# ``[0-9]`` are literals. Unbounded runs
# of whitespace (``\s+``, ``\s*``) are counted as at most ``SPACE_RUN`` characters: a text with a
# longer run of whitespace (found by the same one-pass scan) is searched without the bounds.

SPACE_RUN = 10
_MAX_SET = 64  # largest literal set carried through an analysis (cross products grow fast)
_MAX_CLASS = 4  # largest character class ([’'], [- ]) treated as a set of literals
# Words so frequent in news text (or in this beat) that a literal equal to one of them is a
# poor prefilter: the choice between a rule's candidate literals avoids them.
_COMMON = frozenset(
    """a an the of in on at to by for and or but is are was were be been has have had it its as
    with from that this said says say told not no he she they his her their who which after over
    de la le les des du et à au aux un une en par pour dans sur est sont ont été qui que selon
    il elle ils ne pas l’ d’ l' d'""".split()  # noqa: SIM905 - a word list reads better as text
)
_FREQUENT = frozenset(
    """israel israeli israelis gaza hamas palestinian palestinians killed war people military
    government minister official officials international human health ministry attack attacks
    forces strike strikes west bank hospital children civilians according also would could more
    than other since dead died death deaths left took won food love fighting conflict violence
    crisis started center centre
    israël israélien israélienne israéliens israéliennes palestinien palestinienne palestiniens
    guerre gouvernement ministre armée personnes enfants civils internationale santé mort morts
    tué tués pris centre conflit terre zone culture selon gaza""".split()  # noqa: SIM905
)


def _fold_char(c: str) -> str:
    if c.isspace():
        return " "
    if "1" <= c <= "9":
        return "0"
    low = chr(_sre.unicode_tolower(ord(c)))
    return _CANON.get(low, low)


def _canon_table() -> dict[str, str]:
    """Each character ``re`` treats as equal to others under IGNORECASE -> one representative."""
    out: dict[str, str] = {}
    for key, others in _casefix._EXTRA_CASES.items():
        group = {key, *others}
        rep = chr(min(group))
        for cp in group:
            if cp != ord(rep):
                out[chr(cp)] = rep
    return out


_CANON = _canon_table()
# every character but " " that str.isspace() accepts (a test checks this against all of Unicode;
# scanning the 1.1 million code points here cost 0.13 s at every start)
_SPACES = [
    *"\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f\x85\xa0\u1680",
    *map(chr, range(0x2000, 0x200B)),
    *"\u2028\u2029\u202f\u205f\u3000",
]
_DIGITS = [(str(d), "0") for d in range(1, 10)]
_ASCII_FOLD = str.maketrans({c: " " for c in _SPACES if c.isascii()} | dict(_DIGITS))
_REPLACE = [(c, " ") for c in _SPACES] + _DIGITS + list(_CANON.items())


def fold(text: str) -> str:
    """*text* as the prefilter sees it, one character for one (offsets are kept): lowercase the way
    ``re.IGNORECASE`` compares characters, every whitespace character a space and every ASCII
    digit 0 (so that ``\\s`` and ``[0-9]`` are literals)."""
    if text.isascii():
        return text.lower().translate(_ASCII_FOLD)
    low = text.replace("\u0130", "i").lower()  # İ: the only full lowercase mapping longer than one
    for c, to in _REPLACE:
        if c in low:
            low = low.replace(c, to)
    return low


Pre = dict[str, int | None]  # literal -> it starts at most this many characters after the match start


@dataclass(frozen=True, slots=True)
class Factor:
    """Literal strings one of which every match contains, each with its ``pre``."""

    pre: Pre

    @property
    def strings(self) -> frozenset[str]:
        return frozenset(self.pre)

    @property
    def widest(self) -> int | None:
        values = list(self.pre.values())
        return None if None in values else max(v for v in values if v is not None)


@dataclass(frozen=True, slots=True)
class _Info:
    maxw: int | None  # most characters consumed
    ext: int | None  # most characters looked at past the start (lookaheads, \b, $)
    exact: frozenset[str] | None  # every string it can match, when few and known
    factor: Factor | None  # a required literal set, when one is known


_UNKNOWN1 = _Info(1, 1, None, None)
_EMPTY = frozenset({""})
_SPACE = frozenset({" "})


def _add(a: int | None, b: int | None) -> int | None:
    return None if a is None or b is None else a + b


def _cost(strings: frozenset[str]) -> float:
    """Rough expected hits per article: short strings and frequent words cost most."""
    total = 0.0
    for s in strings:
        word = s.strip(" '’-.,")
        frequent = word in _FREQUENT or not word.strip("0")  # folded numbers: years, counts
        weight = 25.0 if word in _COMMON else 6.0 if frequent else 1.0
        total += weight / max(1, len(s)) ** 2
    return total


def _simplify(pre: Pre) -> Pre:
    """Drop strings that contain a shorter member (the shorter one's ``pre`` grows by where it
    starts inside the longer)."""
    out: Pre = {}
    for s in sorted(pre, key=len):
        inside = [t for t in out if t in s]
        if inside:
            t = inside[0]
            old = out[t]
            grown = _add(pre[s], s.find(t))
            out[t] = None if old is None or grown is None else max(old, grown)
        else:
            out[s] = pre[s]
    return out


def _as_factor(strings: frozenset[str] | None, pre: int | None) -> Factor | None:
    if not strings or "" in strings:
        return None
    return Factor(_simplify(dict.fromkeys(strings, pre)))


def _best(a: Factor | None, b: Factor | None) -> Factor | None:
    if a is None or b is None:
        return a or b
    wa, wb = a.widest, b.widest
    ka = (_cost(a.strings) * (1 if wa is not None else 4), wa or 0)
    kb = (_cost(b.strings) * (1 if wb is not None else 4), wb or 0)
    return a if ka <= kb else b


def _class_literals(items: list[tuple[Any, Any]], digits: bool = False) -> frozenset[str] | None:
    """The folded characters a class matches, when few; *digits*: ``\\d`` counts as 0 (true only of
    texts without non-ASCII decimal digits, see ``_odd_digits``)."""
    chars: set[str] = set()
    for op, av in items:
        if op is _c.CATEGORY and av in (_c.CATEGORY_SPACE, _c.CATEGORY_UNI_SPACE):
            chars.add(" ")
        elif digits and op is _c.CATEGORY and av in (_c.CATEGORY_DIGIT, _c.CATEGORY_UNI_DIGIT):
            chars.add("0")
        elif op is _c.LITERAL:
            chars.add(_fold_char(chr(av)))
        elif op is _c.RANGE and av == (ord("0"), ord("9")):
            chars.add("0")
        else:
            return None
    return frozenset(chars) if len(chars) <= _MAX_CLASS else None


def _cross(a: frozenset[str], b: frozenset[str]) -> frozenset[str] | None:
    if len(a) * len(b) > _MAX_SET:
        return None
    return frozenset(x + y for x in a for y in b)


def _shifted(factor: Factor | None, offset: int | None) -> Factor | None:
    return factor and Factor({s: _add(offset, p) for s, p in factor.pre.items()})


def _extended(run: frozenset[str] | None, run_start: int | None, factor: Factor | None) -> Factor | None:
    """A factor that starts its node, joined to the exact strings just before it (longer literals)."""
    if run is None or run == _EMPTY or factor is None or any(p != 0 for p in factor.pre.values()):
        return None
    return _as_factor(_cross(run, factor.strings), run_start)


def _seq(nodes: Any) -> _Info:
    """A concatenation: exact strings of runs of exact nodes, or the best factor of a part."""
    offset: int | None = 0
    ext: int | None = 0
    run: frozenset[str] | None = _EMPTY
    run_start: int | None = 0
    all_exact = True
    best: Factor | None = None
    for node in nodes:
        info = _node(node)
        ext = None if ext is None or info.ext is None or offset is None else max(ext, offset + info.ext)
        joined = _cross(run, info.exact) if run is not None and info.exact is not None else None
        if joined is not None:
            run = joined
        else:
            best = _best(best, _as_factor(run, run_start))
            if info.exact is None:
                all_exact = False
                best = _best(best, _shifted(info.factor, offset))
                best = _best(best, _extended(run, run_start, info.factor))
            run, run_start = info.exact, offset if info.exact is not None else _add(offset, info.maxw)
            if run is None:
                run = _EMPTY
        offset = _add(offset, info.maxw)
    best = _best(best, _as_factor(run, run_start))
    exact = run if all_exact and run_start == 0 else None
    return _Info(offset, ext, exact, best)


def _branch(branches: list[Any]) -> _Info:
    infos = [_seq(b) for b in branches]
    widths = [i.maxw for i in infos]
    exts = [i.ext for i in infos]
    maxw = None if None in widths else max(w for w in widths if w is not None)
    ext = None if None in exts else max(e for e in exts if e is not None)
    exact: frozenset[str] | None = None
    if all(i.exact is not None for i in infos):
        union = frozenset().union(*(i.exact for i in infos if i.exact is not None))
        exact = union if len(union) <= _MAX_SET else None
    factors = [_best(i.factor, _as_factor(i.exact, 0)) for i in infos]
    factor = None
    if all(f is not None for f in factors):
        merged: Pre = {}
        for f in factors:
            for s, p in (f.pre if f else {}).items():
                old = merged.get(s, 0)
                merged[s] = None if old is None or p is None else max(old, p)
        factor = Factor(_simplify(merged))
    return _Info(maxw, ext, exact, factor)


def _repeat(lo: int, hi: int, sub: Any) -> _Info:
    inner = _seq(sub)
    if hi == _c.MAXREPEAT and inner.exact == _SPACE:
        hi = SPACE_RUN  # a longer run of whitespace makes the text use no bounds at all
    unbounded = hi == _c.MAXREPEAT
    maxw = None if unbounded or inner.maxw is None else inner.maxw * hi
    ext = None if maxw is None or inner.ext is None else maxw - (inner.maxw or 0) + inner.ext
    exact: frozenset[str] | None = None
    if inner.exact is not None and not unbounded and hi <= 3:
        acc: frozenset[str] | None = _EMPTY
        options: set[str] = set()
        for k in range(hi + 1):
            if k >= lo and acc is not None:
                options |= acc
            acc = _cross(acc, inner.exact) if acc is not None and k < hi else acc
        exact = frozenset(options) if len(options) <= _MAX_SET and acc is not None else None
    factor = _best(inner.factor, _as_factor(inner.exact, 0)) if lo >= 1 else None
    return _Info(maxw, ext, exact, factor)


def _node(node: tuple[Any, Any]) -> _Info:
    op, av = node
    if op is _c.LITERAL:
        return _Info(1, 1, frozenset({_fold_char(chr(av))}), None)
    if op is _c.IN:
        return _Info(1, 1, _class_literals(av), None)
    if op in (_c.NOT_LITERAL, _c.ANY, _c.CATEGORY):
        return _UNKNOWN1
    if op is _c.AT:
        peek = {_c.AT_BOUNDARY: 1, _c.AT_NON_BOUNDARY: 1, _c.AT_END: 2, _c.AT_END_LINE: 1}
        return _Info(0, peek.get(av, 2 if av is _c.AT_END_STRING else 0), _EMPTY, None)
    if op in (_c.ASSERT, _c.ASSERT_NOT):
        direction, sub = av
        return _Info(0, _seq(sub).ext if direction == 1 else 0, _EMPTY, None)
    if op is _c.SUBPATTERN:
        return _seq(av[3])
    if op is _c.ATOMIC_GROUP:
        return _seq(av)
    if op is _c.BRANCH:
        return _branch(av[1])
    if op in (_c.MAX_REPEAT, _c.MIN_REPEAT, _c.POSSESSIVE_REPEAT):
        return _repeat(*av)
    return _Info(None, None, None, None)  # back-references, conditionals: nothing known


def _word_char_class(op: Any, av: Any) -> bool:
    if op is _c.LITERAL:
        return chr(av).isalnum() or chr(av) == "_"
    if op is _c.RANGE:
        return av in ((ord("a"), ord("z")), (ord("A"), ord("Z")), (ord("0"), ord("9")))
    return op is _c.CATEGORY and av in (_c.CATEGORY_DIGIT, _c.CATEGORY_WORD)


def _word_start(nodes: list[Any], boundary: bool = False) -> bool:
    """Whether every match of *nodes* starts at the start of a word: a ``\\b`` comes before the
    first character consumed, which is a word character."""
    for k, (op, av) in enumerate(nodes):
        rest = nodes[k + 1 :]
        if op is _c.AT:
            boundary = boundary or av is _c.AT_BOUNDARY
        elif op in (_c.ASSERT, _c.ASSERT_NOT):
            continue
        elif op is _c.LITERAL:
            return boundary and _word_char_class(op, av)
        elif op is _c.IN:
            return boundary and all(_word_char_class(o, a) for o, a in av)
        elif op is _c.SUBPATTERN:
            return _word_start(list(av[3]) + rest, boundary)
        elif op is _c.BRANCH:
            return all(_word_start(list(alt) + rest, boundary) for alt in av[1])
        elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT, _c.POSSESSIVE_REPEAT):
            first = _word_start(list(av[2]) + rest, boundary)
            return first and (av[0] >= 1 or _word_start(rest, boundary))
        else:
            return False
    return False  # it can match the empty string


_MAX_STARTS = 64  # largest set of start literals kept for a rule


def _shrink(strings: frozenset[str]) -> frozenset[str]:
    """*strings* cut to their first characters until at most ``_MAX_STARTS`` remain (a prefix of
    a start literal is one too)."""
    size = max(map(len, strings), default=0)
    while len(strings) > _MAX_STARTS and size > 1:
        size -= 1
        strings = frozenset(s[:size] for s in strings)
    return strings


def _starts_node(node: tuple[Any, Any]) -> tuple[frozenset[str] | None, bool]:
    """Start literals of one node (see ``_starts_seq``)."""
    op, av = node
    if op is _c.LITERAL:
        return frozenset({_fold_char(chr(av))}), False
    if op is _c.IN:
        return _class_literals(av, digits=True), False
    if op is _c.AT or op in (_c.ASSERT, _c.ASSERT_NOT):
        return frozenset(), True
    if op is _c.SUBPATTERN:
        return _starts_seq(list(av[3]))
    if op is _c.ATOMIC_GROUP:
        return _starts_seq(list(av))
    if op is _c.BRANCH:
        out: set[str] = set()
        nullable = False
        for alt in av[1]:
            f, n = _starts_seq(list(alt))
            if f is None:
                return None, False
            out |= f
            nullable = nullable or n
        return _shrink(frozenset(out)), nullable
    if op in (_c.MAX_REPEAT, _c.MIN_REPEAT, _c.POSSESSIVE_REPEAT):
        lo, _, sub = av
        f, n = _starts_seq(list(sub))
        return f, n or lo == 0
    return None, False


def _starts_seq(nodes: list[Any]) -> tuple[frozenset[str] | None, bool]:
    """``(S, nullable)``: every non-empty match of *nodes* begins, in the folded text, with one of
    the non-empty strings *S* (None: no such set known); *nullable*: it can match the empty
    string. ``\\d`` counts as the folded digit 0."""
    acc: frozenset[str] = _EMPTY  # the exact strings the nodes so far can match
    for k, node in enumerate(nodes):
        exact = _node(node).exact
        joined = _cross(acc, exact) if exact is not None else None
        if joined is not None:
            acc = joined
            continue
        f, n = _starts_node(node)
        if f is not None and n:
            rest, n = _starts_seq(nodes[k + 1 :])
            f = None if rest is None else f | rest
        nonempty = acc - _EMPTY
        if f is None:
            return (acc, False) if "" not in acc else (None, False)
        out = _shrink(frozenset(a + b for a in acc for b in f))
        if n:  # the node and all after it can be empty: a match can be a string of acc
            return out | nonempty, "" in acc
        return out, False
    return acc - _EMPTY, "" in acc


def start_literals(pattern: str) -> frozenset[str] | None:
    """Folded strings one of which every match of *pattern* starts with (shortest kept: none is a
    prefix of another), or None. Sound for texts whose only decimal digits are ASCII."""
    found, nullable = _starts_seq(list(_parser.parse(pattern, re.IGNORECASE)))
    if found is None or nullable or not found:
        return None
    kept: list[str] = []
    for s in sorted(found, key=len):
        if not any(s.startswith(t) for t in kept):
            kept.append(s)
    return frozenset(kept)


def analyse(pattern: str) -> tuple[Factor | None, int | None, bool]:
    """The best required-literal factor of *pattern* (None: none found), its extent, and whether
    its matches always start at the start of a word."""
    parsed = _parser.parse(pattern, re.IGNORECASE)
    info = _seq(parsed)
    factor = _best(info.factor, _as_factor(info.exact, 0))
    return factor, info.ext, _word_start(list(parsed))


class Near(BaseModel):
    model_config = ConfigDict(extra="forbid")
    words: int = Field(default=20, ge=1, le=200)
    terms: list[str] = Field(min_length=1)

    @field_validator("terms")
    @classmethod
    def _compiles(cls, value: list[str]) -> list[str]:
        return _together(check_regexes(value), r"\b(?:{})\b")


def _together(patterns: list[str], each: str = "(?:{})") -> list[str]:
    """*patterns* (each valid) as the engine tries them, in one alternation: a group name used
    twice cannot be. (Compiled as ``_compile`` compiles it, so there ``re``'s cache has it.)"""
    try:
        re.compile("|".join(each.format(p) for p in patterns), re.IGNORECASE)
    except re.error as exc:
        raise ValueError(f"the patterns cannot be tried together: {exc}") from exc
    return patterns


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
    # validated after `example`, which it is checked against (so declared after it)
    keywords: list[str] = Field(default_factory=list)

    @field_validator("category")
    @classmethod
    def _known_category(cls, value: str) -> str:
        if value not in CATEGORIES:
            raise ValueError(f"unknown category (known: {', '.join(CATEGORIES)})")
        return value

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, value: list[str]) -> list[str]:
        return _together(check_regexes(value))

    @field_validator("keywords")
    @classmethod
    def _keywords_occur(cls, value: list[str], info: ValidationInfo) -> list[str]:
        if any(not k.strip() for k in value):
            raise ValueError("a keyword must not be empty")
        example = info.data.get("example")
        if value and example and not any(fold(k) in fold(example) for k in value):
            raise ValueError(f"none of the keywords {value} occurs in the rule's example")
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
    # prefilter: the literal strings (folded) one of which every match contains, each with how
    # far before it a match can start (None: anywhere before), and how far a match attempt looks
    # past its start (None: to the end); `gate`: the strings are the rule's `keywords` field,
    # which only decides whether the rule runs on a field at all
    keywords: Pre
    ext: int | None
    gate: bool
    word_start: bool  # every match starts at the start of a word
    # folded strings one of which every match starts with (None: not known), and the number of
    # capturing groups of `regex` when the rule can be tried together with others (None: alone)
    starts: frozenset[str] | None
    groups: int | None
    # literals one of which every match of `near` contains, as one case-sensitive pattern (searched
    # in the folded window), and the largest `pre` of them (None: unbounded); None: not known
    near_keys: tuple[re.Pattern[str], int | None] | None
    near_words: int  # the `near` window: words on each side of the match (0: no `near`)
    # the Hyperscan path: the relaxed pattern, written backwards (None: the keyword path), and
    # `regex` with lazy repeats in its negative lookaheads (the same matches, found sooner)
    scan: bytes | None
    quick: re.Pattern[str]
    label: str  # the evidence's source, "rule:<id>"


def _quick(source: str, regex: re.Pattern[str]) -> re.Pattern[str]:
    """*regex* made quicker to try, with the same matches:

    - its repeats inside negative lookaheads made lazy (outside atomic groups and possessive
      repeats): whether a negative lookahead holds does not depend on the order its paths are
      tried in, and tried from the left, a pattern like ``(?![^.]{0,250}\\bby\\b)`` stops at the
      first "by" instead of at the end of the sentence;
    - a one-character repeat followed by what can only start with one of a few characters
      gets a lookahead for them (``_guard_tails``): ``[^.!?]{0,250}?(?=[bi])\\b(?:by|Israel)``
      moves past each other character with one test instead of trying every alternative."""
    parsed = _parser.parse(source, re.IGNORECASE)
    lazy = _make_lazy(parsed, False)
    if not (_guard_tails(parsed) or lazy):
        return regex
    return _compiler.compile(parsed, re.IGNORECASE)  # type: ignore[no-any-return]


def _make_lazy(sub: Any, inside: bool) -> bool:
    """Turn the greedy repeats of *sub* that lie inside a negative lookahead lazy; whether any was."""
    changed = False
    for k, (op, av) in enumerate(sub.data):
        if op is _c.ASSERT_NOT or op is _c.ASSERT:
            changed |= _make_lazy(av[1], inside or (op is _c.ASSERT_NOT and av[0] == 1))
        elif op is _c.SUBPATTERN:
            changed |= _make_lazy(av[3], inside)
        elif op is _c.BRANCH:
            for alt in av[1]:
                changed |= _make_lazy(alt, inside)
        elif op is _c.MAX_REPEAT or op is _c.MIN_REPEAT:
            changed |= _make_lazy(av[2], inside)
            if inside and op is _c.MAX_REPEAT:
                sub.data[k] = (_c.MIN_REPEAT, av)
                changed = True
        # atomic groups and possessive repeats keep their first path: left as they are
    return changed


_ONE_CHAR = (_c.LITERAL, _c.NOT_LITERAL, _c.ANY, _c.IN, _c.CATEGORY)
_ANY_REPEAT = (_c.MAX_REPEAT, _c.MIN_REPEAT, _c.POSSESSIVE_REPEAT)


def _guard_tails(sub: Any) -> bool:
    """Put ``(?=[F])`` after each one-character repeat (greedy or lazy) of *sub* whose tail, the
    rest of its sequence, must start with a character of the set F (``_first_chars``): the
    repeat tries its tail at every character it may stop at, and where the next character is not
    in F the lookahead fails at once. A tail starting with a literal is left alone (``re``
    already looks for the literal itself). Whether any was put."""
    changed = False
    data = sub.data
    k = 0
    while k < len(data):
        op, av = data[k]
        if op in _ANY_REPEAT and len(av[2].data) == 1 and av[2].data[0][0] in _ONE_CHAR:
            tail = data[k + 1 :]
            first = _first_chars(tail) if tail and tail[0][0] is not _c.LITERAL else None
            if first is not None:
                guard = _parser.SubPattern(sub.state, [(_c.IN, first)])
                data.insert(k + 1, (_c.ASSERT, (1, guard)))
                changed = True
                k += 1
        else:
            for part in held(op, av):
                changed |= _guard_tails(part)
        k += 1
    return changed


def _first_chars(nodes: Any) -> list[tuple[Any, Any]] | None:
    """The characters (as items of a class) one of which a match of *nodes* must start with;
    None when that is not known or a match may be empty."""
    for op, av in nodes:
        if op not in (_c.AT, _c.ASSERT, _c.ASSERT_NOT):  # zero-width: the next node's character
            return _first_of(op, av)
    return None


def _first_of(op: Any, av: Any) -> list[tuple[Any, Any]] | None:
    """``_first_chars`` of one node that consumes characters."""
    if op is _c.LITERAL:
        return [(op, av)]
    if op is _c.IN:
        return None if av and av[0][0] is _c.NEGATE else list(av)
    if op is _c.SUBPATTERN:
        return None if av[1] or av[2] else _first_chars(av[3])  # no inline flags
    if op is _c.ATOMIC_GROUP:
        return _first_chars(av)
    if op is _c.BRANCH:
        items: list[tuple[Any, Any]] = []
        for alt in av[1]:
            got = _first_chars(alt)
            if got is None:
                return None
            items += [i for i in got if i not in items]
        return items
    if op in _ANY_REPEAT:
        return _first_chars(av[2]) if av[0] >= 1 else None
    return None  # any character, back-references, conditionals


def _groups(source: str) -> int | None:
    """Capturing groups of *source*, or None when it cannot join a combined pattern (named groups
    or back-references would clash or point elsewhere)."""
    parsed = _parser.parse(source, re.IGNORECASE)
    if parsed.state.groupdict or "GROUPREF" in repr(parsed.data):  # ops print by name, literals as numbers
        return None
    return int(parsed.state.groups) - 1


def _compile(spec: RuleSpec) -> Rule:
    parts = list(spec.patterns) + [rf"\b{re.escape(p)}\b" for p in spec.phrases]
    near = None
    near_keys = None
    if spec.near:
        near = re.compile("|".join(rf"\b(?:{t})\b" for t in spec.near.terms), re.I)
        near_factor = analyse(near.pattern)[0]
        if near_factor is not None:
            keys = sorted(near_factor.pre, key=len, reverse=True)
            pres = list(near_factor.pre.values())
            back = None if None in pres else max(p for p in pres if p is not None)
            near_keys = (re.compile("|".join(re.escape(k) for k in keys)), back)
    cancel = None
    if spec.not_preceded_by:
        alts = "|".join(re.escape(w) for w in spec.not_preceded_by)
        cancel = re.compile(rf"\b(?:{alts})\W*$", re.I)
    source = "|".join(f"(?:{p})" for p in parts)
    factor, ext, word_start = analyse(source)
    if spec.keywords:
        keywords: Pre = dict.fromkeys((fold(k) for k in spec.keywords), None)
    else:
        keywords = factor.pre if factor is not None else {}
    regex = re.compile(source, re.I)
    starts = start_literals(source)
    joins = not spec.keywords and keywords and None not in keywords.values() and starts is not None
    groups = _groups(source) if joins else None
    scan = None
    if not spec.keywords:  # a `keywords` gate decides whether the rule runs at all: keyword path
        with contextlib.suppress(rulescan.TranslationError):
            scan = rulescan.translate(source, re.IGNORECASE, _CLASSES, reverse=True)
    return Rule(
        spec,
        regex,
        near,
        cancel,
        keywords,
        ext,
        bool(spec.keywords),
        word_start,
        starts,
        groups,
        near_keys,
        spec.near.words if spec.near else 0,
        scan,
        _quick(source, regex) if scan is not None else regex,
        f"rule:{spec.id}",
    )


_CLASSES: dict[tuple[Any, ...], tuple[int, ...]] = {}  # rulescan's translated character classes, shared


_LONG_SPACE = " " * (SPACE_RUN + 1)
_SHORT_WINDOW = 8  # windows of fewer start positions are tried with match(), not search()
_WORD_START = re.compile(r"\b\w")


# Characters that may be non-ASCII decimal digits, which ``\\d`` matches and ``fold`` leaves alone
# (Latin-1, Latin Extended and General Punctuation have none): a text with one is searched without
# start literals (they read ``\\d`` as 0).
_MAYBE_DIGIT = re.compile(r"[^\x00-\u024f\u2000-\u206f]")


def _odd_digits(body: str) -> bool:
    """Whether *body* has a decimal digit that is not ASCII."""
    return not body.isascii() and any(m.group().isdecimal() for m in _MAYBE_DIGIT.finditer(body))


_LONG_RUN = -2  # group id of the long whitespace run in the automaton


@dataclass(frozen=True, slots=True)
class _Group:
    """Rules that share a keyword, tried together: only where one of their start literals occurs
    in the folded text, and there by one combined pattern for all of them."""

    rules: tuple[int, ...]
    starts: re.Pattern[str]  # their start literals, case-sensitive, searched in the folded text
    reach: int  # length of the longest start literal
    any: re.Pattern[str]  # matches where at least one of the rules matches
    each: re.Pattern[str]  # matches everywhere; each rule's group spans that rule's match, if any
    slots: tuple[tuple[int, int], ...]  # (rule index, its group in `each`)


def _group(rules: list[Rule], members: tuple[int, ...]) -> _Group:
    starts: set[str] = set()
    for i in members:
        starts |= rules[i].starts or frozenset()
    kept: list[str] = []
    for s in sorted(starts, key=len):
        if not any(s.startswith(t) for t in kept):
            kept.append(s)
    sources = [rules[i].regex.pattern for i in members]
    slots = []
    each = []
    group = 1
    for i, source in zip(members, sources, strict=True):
        slots.append((i, group))
        each.append(f"(?:(?=({source}))|)")
        group += 1 + (rules[i].groups or 0)
    return _Group(
        members,
        re.compile("|".join(re.escape(s) for s in kept)),
        max(map(len, kept)),
        re.compile("|".join(f"(?:{source})" for source in sources), re.I),
        re.compile("".join(each), re.I),
        tuple(slots),
    )


@dataclass(frozen=True, slots=True)
class _Plan:
    """The rules that can run on one field in one language, and their keyword automaton."""

    # ahocorasick.Automaton (no stubs): folded keyword -> (length, pre, group, alone): `group`
    # indexes `groups` (-1: none), tried in [offset - pre, offset]; `alone`: ((rule, pre), ...)
    # the rules tried one by one
    automaton: Any
    groups: tuple[_Group, ...]
    always: tuple[int, ...]  # rules with no keyword: run over the whole field
    size: int  # how many rules


def _plan(rules: list[Rule], indexes: list[int]) -> _Plan:
    joined: dict[str, list[tuple[int, int]]] = {}
    alone: dict[str, list[tuple[int, int | None]]] = {}
    always = []
    for i in indexes:
        rule = rules[i]
        if not rule.keywords:
            always.append(i)
        for k, pre in rule.keywords.items():
            if rule.groups is not None and pre is not None:
                joined.setdefault(k, []).append((i, pre))
            else:
                alone.setdefault(k, []).append((i, pre))
    automaton = ahocorasick.Automaton()
    ids: dict[tuple[int, ...], int] = {}
    for k in joined.keys() | alone.keys():
        members = joined.get(k, [])
        gid, pre = -1, 0
        if members:
            gid = ids.setdefault(tuple(sorted(i for i, _ in members)), len(ids))
            pre = max(p for _, p in members)
        automaton.add_word(k, (len(k), pre, gid, tuple(alone.get(k, ()))))
    automaton.add_word(_LONG_SPACE, (len(_LONG_SPACE), 0, _LONG_RUN, ()))
    automaton.make_automaton()
    return _Plan(automaton, tuple(_group(rules, members) for members in ids), tuple(always), len(indexes))


Span = tuple[int, int]


@dataclass(frozen=True, slots=True)
class _Scan:
    """The Hyperscan path for one language (None: all) and one kind of rule (headline-only or
    not): each id of its database, with the rule (and its index) it stands for."""

    scanner: rulescan.Scanner
    covered: frozenset[int]  # the rules Hyperscan took (the others take the keyword path)
    tries: tuple[tuple[int, Rule, Callable[[str, int], re.Match[str] | None]], ...]  # per id


def _scan_for(rules: list[Rule], indexes: list[int]) -> _Scan:
    chosen = tuple(i for i in indexes if rules[i].scan is not None)
    scanner = rulescan.scanner(tuple(rules[i].scan or b"" for i in chosen))
    covered = frozenset(i for k, i in enumerate(chosen) if k not in scanner.refused)
    return _Scan(scanner, covered, tuple((i, rules[i], rules[i].quick.match) for i in chosen))


class RuleSet:
    """Compiled rules; ``match`` returns evidence with character offsets.

    *hyperscan*: whether the rules whose patterns Hyperscan can scan take the Hyperscan path
    (``pipeline.rulescan``); None: when the package is installed. The others, and all of them
    without it, take the keyword path. Both give the evidence of ``match_reference``. The
    Hyperscan databases are compiled on first use, one per language matched (and one more for
    the headline-only rules); ``match`` may run in several threads at once."""

    def __init__(self, specs: list[RuleSpec], hyperscan: bool | None = None) -> None:
        if hyperscan and not rulescan.AVAILABLE:
            raise RuntimeError("the hyperscan package is not installed (or this build misses matches)")
        self.rules = [_compile(s) for s in specs]
        self.by_id = {r.spec.id: r for r in self.rules}
        self.hyperscan = rulescan.AVAILABLE if hyperscan is None else hyperscan
        self._asked = hyperscan
        self._plans: dict[tuple[str | None, str], _Plan] = {}
        self._scans: dict[tuple[str | None, bool], _Scan] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.rules)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as its rules (for a process pool): the databases are compiled (or read from
        the cache) where it is unpickled."""
        return (RuleSet, ([r.spec for r in self.rules], self._asked))

    def only(self, ids: list[str]) -> RuleSet:
        """The same rules restricted to *ids* (in file order)."""
        keep = set(ids)
        return RuleSet([r.spec for r in self.rules if r.spec.id in keep], self.hyperscan)

    def scanned(self, language: str | None) -> frozenset[int]:
        """The rules in *language* (every rule when None) that take the Hyperscan path."""
        scans = [self._scan_for(language, headline) for headline in (False, True)]
        return frozenset().union(*(s.covered for s in scans if s is not None))

    def _indexes(self, language: str | None, headline: bool) -> list[int]:
        return [
            i
            for i, r in enumerate(self.rules)
            if (not language or r.spec.language == language) and r.spec.headline_only == headline
        ]

    def _scan_for(self, language: str | None, headline: bool) -> _Scan | None:
        """The Hyperscan database of the rules in *language* that are headline-only or not."""
        if not self.hyperscan:
            return None
        key = (language, headline)
        scan = self._scans.get(key)
        if scan is None:
            with self._lock:
                scan = self._scans.get(key)
                if scan is None:
                    scan = self._scans[key] = _scan_for(self.rules, self._indexes(language, headline))
        return scan

    def _plan_for(self, language: str | None, field: str) -> _Plan:
        key = (language, field)
        plan = self._plans.get(key)
        if plan is None:
            indexes = self._indexes(language, False) + (
                self._indexes(language, True) if field == "title" else []
            )
            for headline in (False, True) if field == "title" else (False,):
                scan = self._scan_for(language, headline)
                if scan is not None:
                    indexes = [i for i in indexes if i not in scan.covered]
            plan = self._plans[key] = _plan(self.rules, sorted(indexes))
        return plan

    def match(self, title: str, text: str, language: str | None) -> list[Evidence]:
        """Evidence of every rule in *language* (every rule when None), rule by rule in file order,
        the title's before the text's, each in text order."""
        found: dict[int, list[Evidence]] = {}
        rules = self.rules
        for field, body in (("title", title), ("text", text)):
            memo: Memo = {}  # rules that differ only in their patterns share their near windows
            if self.hyperscan and body:
                _scanned_evidence(rules, self._scan_for(language, False), field, body, memo, found)
                if field == "title":
                    _scanned_evidence(rules, self._scan_for(language, True), field, body, memo, found)
            plan = self._plan_for(language, field)
            if plan.size:
                for i, got in _field_spans(rules, plan, body):  # each rule once per field
                    evidence = _evidence(rules[i], field, body, got, memo)
                    if evidence:
                        found.setdefault(i, []).extend(evidence)
        return [ev for i in sorted(found) for ev in found[i]]

    def match_reference(self, title: str, text: str, language: str | None) -> list[Evidence]:
        """The straightforward engine: every rule's regular expression over the whole field."""
        found: list[Evidence] = []
        for rule in self.rules:
            if language and rule.spec.language != language:
                continue
            fields = [("title", title)] if rule.spec.headline_only else [("title", title), ("text", text)]
            for field, body in fields:
                if rule.gate and not any(k in fold(body) for k in rule.keywords):
                    continue
                found.extend(_evidence(rule, field, body, _spans(rule.regex.finditer(body))))
        return found


Hits = list[tuple[int, int]]  # (earliest start of a match, keyword offset), sorted


def _scanned_evidence(
    rules: list[Rule], scan: _Scan | None, field: str, body: str, memo: Memo, found: dict[int, list[Evidence]]
) -> None:
    """Add to *found* the evidence in *body* of the rules on the Hyperscan path.

    The body is scanned backwards with the rules' relaxed patterns written backwards, so that
    each report is a place where a relaxed match starts. Every match of a rule's pattern is a
    match of its relaxed pattern, so it starts at one of these places: trying the pattern there,
    from the left, each next try at or after the end of the last match, gives what ``finditer``
    gives (no pattern on this path matches the empty string)."""
    if scan is None:
        return
    data = rulescan.to_bytes(body)[::-1]
    n = len(data)
    tries = scan.tries
    for k, ends in scan.scanner.scan(data).items():
        i, rule, match = tries[k]
        if len(ends) == 1:
            m = match(body, n - ends[0])
            if m is None:
                continue
            spans = [m.span()]
        else:
            spans = []
            lo = 0
            for start in sorted(map(n.__sub__, ends)):
                if start >= lo:
                    m = match(body, start)
                    if m is not None:
                        lo = m.end()
                        spans.append((start, lo))
            if not spans:
                continue
        evidence = _evidence(rule, field, body, spans, memo)
        if evidence:
            found.setdefault(i, []).extend(evidence)


def _spans(found: Iterable[re.Match[str]]) -> Iterator[Span]:
    return (m.span() for m in found)


def _field_spans(rules: list[Rule], plan: _Plan, body: str) -> Iterator[tuple[int, Iterable[Span]]]:
    """For each rule that can match *body*: its index and the spans ``finditer`` would yield.

    One Aho-Corasick pass over the folded body finds every keyword. A group's keyword at offset
    ``h`` means its rules can only start matches in ``[h - pre, h]``, and only where one of their
    start literals begins: there the group's combined pattern tells in one call whether any rule
    matches and, if one does, each rule's match. Every place where a rule matches is found this
    way (each of its matches holds one of its keywords), so chaining them from the left as
    ``finditer`` does (the next match starts at or after the end of the last) gives the same
    matches. Rules that cannot join a group (the ``keywords`` gate, unbounded or unknown
    starts, back-references) are tried one by one near their keywords (``_windowed``).
    """
    folded = fold(body) if body else ""
    windows, hits, bounded = _scan(plan, folded)
    for i in plan.always:
        yield i, _spans(rules[i].regex.finditer(body))
    for i, found in hits.items():
        rule = rules[i]
        runs = rule.regex.finditer(body) if rule.gate else _windowed(rule, body, sorted(found), bounded)
        yield i, _spans(runs)
    if not windows:
        return
    if not bounded or _odd_digits(body):
        # the pre bounds or the start literals do not hold: every rule of the groups found runs
        ran = {i for gid in windows for i in plan.groups[gid].rules}
        for i in sorted(ran):
            yield i, _spans(rules[i].regex.finditer(body))
        return
    spans: dict[int, list[Span]] = {}
    for gid, found_windows in windows.items():
        _group_spans(plan.groups[gid], body, folded, found_windows, spans)
    for i, got in spans.items():
        yield i, _chain(got)


Windows = dict[int, list[tuple[int, int]]]  # group -> (earliest start, keyword offset) per keyword hit


def _scan(plan: _Plan, folded: str) -> tuple[Windows, dict[int, Hits], bool]:
    """One pass of the automaton: each group's windows, each lone rule's hits, and whether the
    text has no whitespace run longer than ``SPACE_RUN`` (so the ``pre`` bounds hold)."""
    windows: Windows = {}
    hits: dict[int, Hits] = {}
    bounded = True
    if not folded:
        return windows, hits, bounded
    for end, (length, pre, gid, alone) in plan.automaton.iter(folded):
        h = end - length + 1
        if gid >= 0:
            at = windows.get(gid)
            if at is None:
                windows[gid] = [(h - pre, h)]
            else:
                at.append((h - pre, h))
        elif gid == _LONG_RUN:
            bounded = False
        for i, p in alone:
            hit = (-1 if p is None else h - p, h)
            got = hits.get(i)
            if got is None:
                hits[i] = [hit]
            else:
                got.append(hit)
    return windows, hits, bounded


def _group_spans(
    group: _Group, body: str, folded: str, windows: list[tuple[int, int]], out: dict[int, list[Span]]
) -> None:
    """Add to *out* every match of the group's rules that starts in one of *windows*."""
    search = group.starts.search
    any_match = group.any.match
    each = group.each.match
    reach = group.reach
    done = 0  # every start before `done` in the windows taken so far has been tried
    windows.sort()
    for a, h in windows:
        if a < done:
            a = done
        if a > h:
            continue
        done = h + 1
        m = search(folded, a, h + reach)
        while m is not None:
            p = m.start()
            if p > h:
                break
            if any_match(body, p) is not None:
                regs = each(body, p).regs  # type: ignore[union-attr]  # `each` matches everywhere
                for i, slot in group.slots:
                    s, e = regs[slot]
                    if s >= 0:
                        got = out.get(i)
                        if got is None:
                            out[i] = [(s, e)]
                        else:
                            got.append((s, e))
            m = search(folded, p + 1, h + reach)


def _chain(spans: list[Span]) -> list[Span]:
    """The matches ``finditer`` yields, given every place the regex matches (start, end): from the
    left, each next match the first that starts at or after the end of the last (matches of rules
    with start literals are never empty)."""
    spans.sort()
    out = []
    lo = 0
    for s, e in spans:
        if s >= lo:
            out.append((s, e))
            lo = e
    return out


def _windowed(rule: Rule, body: str, hits: Hits, bounded: bool) -> Iterator[re.Match[str]]:
    """The matches ``rule.regex.finditer(body)`` yields, trying only near keyword offsets.

    Every match contains a keyword at some offset ``h`` and starts in ``[h - pre, h]`` (``pre``
    of that keyword): the places the regex matches all lie in these windows. Taking the windows
    in order of their start, a search from the window's start (or from ``lo``, the end of the
    last match, or past the windows already found empty) returns the leftmost match at or after
    ``lo``, which is exactly the match ``finditer`` yields next. A search that only has to find
    a match starting by ``h`` needs to see no further than ``h + ext``, so it is cut there.
    Without bounds (``None``, or a text with a longer whitespace run than the bounds assume)
    a search runs to the end of the text, and its match is the next one wherever it is.
    """
    search = rule.regex.search
    n = len(body)
    ext = rule.ext if bounded else None
    lo = 0  # finditer has yielded every match that starts before lo
    clear = 0  # no match starts in [max(lo, window start), clear)
    for a, h in hits:
        while True:  # a window can hold more than one match (the first may hold another keyword)
            start = max(lo, clear, a if bounded else 0)
            if start > h:
                break
            if ext is None:
                m = search(body, start)
                if m is None:
                    return
            else:
                m = _first_by(rule, body, start, h, min(n, h + ext + 1))
                if m is None:
                    clear = h + 1
                    break
            yield m
            lo = m.end() if m.end() > m.start() else m.end() + 1


def _first_by(rule: Rule, body: str, start: int, h: int, cut: int) -> re.Match[str] | None:
    """The leftmost match starting in ``[start, h]``, looking no further than *cut*. A search
    would go on trying every position up to *cut*, so positions are tried one by one: every
    position of a short window, or the word starts of a longer one when matches start words."""
    match = rule.regex.match
    if h - start < _SHORT_WINDOW:
        positions: Iterable[int] = range(start, h + 1)
    elif rule.word_start:
        positions = (w.start() for w in _WORD_START.finditer(body, start, h + 1))
    else:
        m = rule.regex.search(body, start, cut)
        return m if m is not None and m.start() <= h else None
    for p in positions:
        m = match(body, p, cut)
        if m is not None:
            return m
    return None


Memo = dict[tuple[str, int, int, int], bool]  # (near pattern, words, start, end) -> near holds


def _window_ok(rule: Rule, body: str, start: int, end: int, memo: Memo | None = None) -> bool:
    """Whether one of the rule's `near` terms occurs within its number of words of the match
    (words: runs of non-whitespace; the window, joined by single spaces, includes the match)."""
    if rule.near is None:
        return True
    n = rule.near_words
    key = (rule.near.pattern, n, start, end)
    if memo is not None:
        known = memo.get(key)
        if known is not None:
            return known
    before = body[max(0, start - 12 * n) : start].rsplit(None, n)  # its last n words
    if len(before) > n:
        del before[0]
    after = body[end : end + 12 * n].split(None, n)[:n]
    window = " ".join([*before, body[start:end], *after])
    at = _near_from(rule, window)
    ok = at is not None and rule.near.search(window, at) is not None
    if memo is not None:
        memo[key] = ok
    return ok


def _near_from(rule: Rule, window: str) -> int | None:
    """Where a search for the near terms in *window* may start (None: no term can occur): no
    match starts before its literal's first occurrence less the literal's ``pre``."""
    if rule.near_keys is None:
        return 0
    keys, back = rule.near_keys
    folded = fold(window)
    first = keys.search(folded)
    if first is None:
        return None
    return 0 if back is None or _LONG_SPACE in folded else max(first.start() - back, 0)


def _evidence(
    rule: Rule, field: str, body: str, found: Iterable[Span], memo: Memo | None = None
) -> list[Evidence]:
    spec = rule.spec
    cancel = rule.cancel
    near = rule.near
    if cancel is None and near is None:
        category, label, explanation, replacement = (
            spec.category,
            rule.label,
            spec.explanation,
            spec.replacement,
        )
        return [Evidence(category, body[s:e], s, e, label, explanation, replacement, field) for s, e in found]
    out = []
    for start, end in found:
        if cancel is not None and cancel.search(body[max(0, start - 40) : start]):
            continue
        if near is not None:
            known = memo.get((near.pattern, rule.near_words, start, end)) if memo is not None else None
            if not (known if known is not None else _window_ok(rule, body, start, end, memo)):
                continue
        out.append(
            Evidence(
                spec.category,
                body[start:end],
                start,
                end,
                rule.label,
                spec.explanation,
                spec.replacement,
                field,
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
