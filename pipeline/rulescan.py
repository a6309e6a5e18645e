"""Hyperscan prefilter for the rules engine: every rule's pattern, relaxed, scanned in one C pass.

Each rule's Python regular expression is rewritten (``translate``) into a Hyperscan expression
that matches *at least* wherever the Python one does (a superset). Texts are scanned as Latin-1
bytes, one byte per character (``to_bytes``): characters past U+00FF all become ``?``, so offsets
in the bytes are offsets in the text. Every character class becomes the set of bytes its
characters are scanned as (``?`` included when one of them is past U+00FF; for a literal, when
``re.IGNORECASE`` equates a character past U+00FF with it, as the Kelvin sign with ``k``).
Lookarounds, which Hyperscan lacks, are dropped; so is a ``\\b``, unless the character on one
side of it comes from one class, where Hyperscan's ASCII ``\\b`` is kept for the class's ASCII
word bytes (``_Translator``); a start anchor is kept where Hyperscan takes one.

The expressions are written backwards and the text is scanned backwards, so that each report
(the end of a match in the reversed text) is a place where a relaxed match starts. Every match of
the Python pattern is a match of the relaxed one, so ``pipeline.rules`` tries the Python pattern
only at these places, which gives exactly the matches ``finditer`` gives.

A pattern that cannot be rewritten (back-references, conditionals, a relaxed form that matches
the empty string) or that Hyperscan refuses is left out of the database (``Scanner.refused``);
its rule runs on the keyword path of ``pipeline.rules``. Without the ``hyperscan`` package, or
with a build that misses matches (``AVAILABLE`` false), every rule does: the wheels of
``hyperscan`` 0.7.23 and later bundle Vectorscan 5.4.12, which on this project's machines (AVX-512)
misses matches at the end of buffers of 17 to 34 bytes in databases of more than one pattern.

Compiled databases are kept per process (``scanner``) and, when compiling took 0.03 s or more,
on disk (``cache_dir``): compiling takes about 0.4 s per language for the real rules, reading
one back a few milliseconds.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import sys
import tempfile
import threading
import time
from array import array
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from re import _constants as _c  # type: ignore[attr-defined]
from re import _parser  # type: ignore[attr-defined]
from typing import Any

try:
    import hyperscan
except ImportError:  # pragma: no cover - depends on the platform's wheels
    hyperscan = None  # type: ignore[assignment]

log = logging.getLogger(__name__)


def _finds_what_it_should() -> bool:
    """Whether this Hyperscan build reports a match Vectorscan 5.4.12 misses (see above)."""
    assert hyperscan is not None
    database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    database.compile(expressions=[b"bab*", b"qqqqqqq"], ids=[0, 1], flags=[0, 0])
    scratch = hyperscan.Scratch(database)
    for n in range(10, 40):
        found: Ends = {}
        database.scan(b"x" * n + b"ba", match_event_handler=_HANDLER, context=found, scratch=scratch)
        if found.get(0) != [n + 2]:
            log.warning("this build of hyperscan misses matches: the rules take the keyword path")
            return False
    return True


WIDE = ord("?")  # the byte every character past U+00FF is scanned as
_FLAGS = re.IGNORECASE | re.ASCII | re.DOTALL  # the flags that change which characters a class matches


def to_bytes(text: str) -> bytes:
    """*text* as Hyperscan scans it: one byte per character, ``?`` past U+00FF."""
    return text.encode("latin-1", "replace")


class TranslationError(ValueError):
    """The pattern has no relaxed Hyperscan form here."""


# Characters up to U+00FF that some character past U+00FF folds to (``pipeline.rules.fold``, the
# comparison ``re.IGNORECASE`` makes): ``k`` for the Kelvin sign, `` `` for U+202F... Written out,
# since computing them takes 0.4 s; a test checks them against ``wide_folds_of_unicode()``.
WIDE_FOLDS = frozenset(" iksµßåÿ")


def wide_folds_of_unicode() -> frozenset[str]:
    """``WIDE_FOLDS`` computed from every character past U+00FF."""
    from .rules import fold

    codes = array("I", range(0x100, 0x110000))
    if codes.itemsize == 4:  # every character past U+00FF, made fast
        wide = codes.tobytes().decode(f"utf-32-{sys.byteorder[0]}e", "surrogatepass")
    else:  # pragma: no cover - an unusual C int
        wide = "".join(map(chr, range(0x100, 0x110000)))
    return frozenset(re.findall(r"[\x00-\xff]", fold(wide)))


_CATEGORIES = {
    _c.CATEGORY_DIGIT: r"\d",
    _c.CATEGORY_NOT_DIGIT: r"\D",
    _c.CATEGORY_SPACE: r"\s",
    _c.CATEGORY_NOT_SPACE: r"\S",
    _c.CATEGORY_WORD: r"\w",
    _c.CATEGORY_NOT_WORD: r"\W",
}


def _item_source(op: Any, av: Any) -> str:
    """One item of a character class, written back as ``re`` source."""
    if op is _c.LITERAL:
        return re.escape(chr(av))
    if op is _c.RANGE:
        return f"{re.escape(chr(av[0]))}-{re.escape(chr(av[1]))}"
    if op is _c.CATEGORY and av in _CATEGORIES:
        return _CATEGORIES[av]
    raise TranslationError(f"class item {op}")


def _class_source(op: Any, av: Any) -> tuple[str, bool]:
    """A one-character node as ``re`` source, and whether it is a set of literals (not negated)."""
    if op is _c.LITERAL:
        return re.escape(chr(av)), True
    if op is _c.NOT_LITERAL:
        return f"[^{re.escape(chr(av))}]", False
    if op is _c.ANY:
        return ".", False
    if op is _c.CATEGORY:
        return _item_source(op, av), False
    items = list(av)
    negated = bool(items) and items[0][0] is _c.NEGATE
    if negated:
        items = items[1:]
    literal = not negated and all(o is _c.LITERAL for o, _ in items)
    return "[" + ("^" if negated else "") + "".join(_item_source(o, a) for o, a in items) + "]", literal


def _wide_member(av: Any, op: Any, flags: int) -> bool:
    """Whether a literal node (or set of literals) matches a character past U+00FF."""
    from .rules import fold

    values = [av] if op is _c.LITERAL else [a for _, a in av]
    for v in values:
        if v > 0xFF:
            return True
        if flags & re.IGNORECASE and not flags & re.ASCII and fold(chr(v)) in WIDE_FOLDS:
            return True
    return False


def _byte_class(
    op: Any, av: Any, flags: int, cache: dict[tuple[Any, ...], tuple[int, ...]]
) -> tuple[int, ...]:
    """The bytes a one-character node's characters are scanned as."""
    key = (op, repr(av), flags)
    known = cache.get(key)
    if known is not None:
        return known
    source, literal = _class_source(op, av)
    test = re.compile(source, flags).fullmatch
    members = [b for b in range(256) if test(chr(b))]
    if WIDE not in members and (not literal or _wide_member(av, op, flags)):
        members.append(WIDE)
    if not members:
        raise TranslationError("a class that matches nothing")
    cache[key] = out = tuple(sorted(members))
    return out


def _hs_class(members: Sequence[int]) -> str:
    if len(members) == 1:
        return f"\\x{members[0]:02x}"
    runs: list[list[int]] = []
    for b in members:
        if runs and runs[-1][1] == b - 1:
            runs[-1][1] = b
        else:
            runs.append([b, b])
    return "[" + "".join(f"\\x{a:02x}" if a == z else f"\\x{a:02x}-\\x{z:02x}" for a, z in runs) + "]"


# Bytes of ASCII word characters: next to one, Hyperscan's \b (ASCII) holds wherever ``re``'s does
_WORD = frozenset(b for b in range(128) if chr(b).isalnum() or chr(b) == "_")
_ZERO_WIDTH = (_c.AT, _c.ASSERT, _c.ASSERT_NOT)
_CLASS_OPS = (_c.LITERAL, _c.NOT_LITERAL, _c.ANY, _c.CATEGORY, _c.IN)
_REPEATS = (_c.MAX_REPEAT, _c.MIN_REPEAT, _c.POSSESSIVE_REPEAT)

Piece = tuple[str, int]  # Hyperscan source, fewest bytes it matches


def _count(lo: int, hi: int) -> str:
    if hi == _c.MAXREPEAT:
        return {0: "*", 1: "+"}.get(lo, f"{{{lo},}}")
    return "?" if (lo, hi) == (0, 1) else f"{{{lo}}}" if lo == hi else f"{{{lo},{hi}}}"


def _repeat(lo: int, hi: int, inner: Piece) -> Piece:
    source, width = inner
    if not source or hi == 0:
        return "", 0
    return f"(?:{source}){_count(lo, hi)}", lo * width


def _branch(alternatives: list[Piece]) -> Piece:
    kept = [s for s, _ in alternatives if s]
    width = min(w for _, w in alternatives)
    if not kept:
        return "", 0
    joined = "(?:" + "|".join(kept) + ")"
    return (joined + "?", 0) if len(kept) < len(alternatives) else (joined, width)


def _consuming(nodes: list[Any]) -> list[int]:
    return [k for k, (op, _) in enumerate(nodes) if op not in _ZERO_WIDTH]


def _carries(node: tuple[Any, Any], side: int) -> bool:
    """Whether a word boundary at the node's start (*side* 0) or end (1) can be written into it:
    the character there comes from one known class."""
    op, av = node
    if op in _CLASS_OPS:
        return True
    if op is _c.SUBPATTERN or op is _c.ATOMIC_GROUP:
        return _seq_carries(list(av[3] if op is _c.SUBPATTERN else av), side)
    if op is _c.BRANCH:
        return all(_seq_carries(list(alt), side) for alt in av[1])
    if op in _REPEATS:
        lo, _, sub = av
        return lo >= 1 and len(sub) == 1 and sub[0][0] in _CLASS_OPS
    return False


def _seq_carries(nodes: list[Any], side: int) -> bool:
    consuming = _consuming(nodes)
    return bool(consuming) and _carries(nodes[consuming[-side]], side)


_BOUNDARY = (_c.AT, _c.AT_BOUNDARY)


def _once_or_more(node: tuple[Any, Any]) -> tuple[Any, Any] | None:
    """``Y{1,hi}`` for an optional node ``Y{0,hi}`` (None for any other node)."""
    op, av = node
    if op not in _REPEATS or av[0] != 0 or av[1] == 0:
        return None
    _, hi, sub = av
    return (_c.SUBPATTERN, (None, 0, 0, list(sub))) if hi == 1 else (op, (1, hi, sub))


def _unfold_optional(nodes: list[Any]) -> list[Any]:
    """Each ``\\b`` next to an optional node written as a choice that puts it next to a class:
    ``X Y? \\b`` as ``(?:X Y \\b|X \\b)``, ``\\b Y? X`` as ``(?:\\b Y X|\\b X)`` (as in
    ``\\bclash(?:es)?\\b``)."""
    for k, node in enumerate(nodes):
        if node != _BOUNDARY:
            continue
        consuming = _consuming(nodes)
        after = [j for j in consuming if j > k]
        before = [j for j in consuming if j < k]
        if (after and _carries(nodes[after[0]], 0)) or (before and _carries(nodes[before[-1]], 1)):
            continue
        if len(before) >= 2 and not after:
            i, j = before[-2:]
            once = _once_or_more(nodes[j])
            if once is not None and _carries(nodes[i], 1) and _carries(once, 1):
                choice = (_c.BRANCH, (None, [[nodes[i], once, _BOUNDARY], [nodes[i], _BOUNDARY]]))
                return _unfold_optional([*nodes[:i], choice, *nodes[k + 1 :]])
        if len(after) >= 2 and not before:
            j, i = after[:2]
            once = _once_or_more(nodes[j])
            if once is not None and _carries(nodes[i], 0) and _carries(once, 0):
                choice = (_c.BRANCH, (None, [[_BOUNDARY, once, nodes[i]], [_BOUNDARY, nodes[i]]]))
                return _unfold_optional([*nodes[:k], choice, *nodes[i + 1 :]])
    return nodes


def _text_start(at: Any, flags: int) -> bool:
    """Whether the anchor only holds at the start of the text."""
    return bool(at is _c.AT_BEGINNING_STRING or (at is _c.AT_BEGINNING and not flags & re.MULTILINE))


class _Translator:
    """Writes the relaxed form (see ``translate``). A word boundary ``\\b`` is kept where the
    character on one side of it comes from one class node: there, for the class's ASCII word bytes,
    Hyperscan's ASCII ``\\b`` holds wherever ``re``'s Unicode one does (any other character is a
    non-word byte to Hyperscan). A start anchor at the start of the pattern is kept; every other
    ``\\b``, anchor and lookaround is dropped."""

    def __init__(self, cache: dict[tuple[Any, ...], tuple[int, ...]], reverse: bool) -> None:
        self.cache = cache
        self.reverse = reverse  # write the pattern backwards: it matches the reversed strings

    def seq(
        self, nodes: Any, flags: int, edges: tuple[bool, bool] = (False, False), start: bool = False
    ) -> Piece:
        """*edges*: a word boundary is required before / after the sequence's match; *start*: the
        sequence's match starts where the whole pattern's does."""
        nodes = _unfold_optional(list(nodes))
        marks = [[False, False] for _ in nodes]
        consuming = _consuming(nodes)
        for side in (0, 1):
            if edges[side] and consuming:
                marks[consuming[-side]][side] = True
        for k, (op, av) in enumerate(nodes):
            if op is not _c.AT or av is not _c.AT_BOUNDARY:
                continue
            after = [j for j in consuming if j > k]
            before = [j for j in consuming if j < k]
            if after and _carries(nodes[after[0]], 0):
                marks[after[0]][0] = True
            elif before and _carries(nodes[before[-1]], 1):
                marks[before[-1]][1] = True
        parts = []
        for (op, av), m in zip(nodes, marks, strict=True):
            parts.append(self.node(op, av, flags, (m[0], m[1]), start))
            start = start and op in _ZERO_WIDTH
        return self.join(parts)

    def join(self, parts: list[Piece]) -> Piece:
        if self.reverse:
            parts.reverse()
        return "".join(s for s, _ in parts), sum(w for _, w in parts)

    def node(self, op: Any, av: Any, flags: int, edges: tuple[bool, bool], start: bool) -> Piece:
        if op in _CLASS_OPS:
            return self.char(_byte_class(op, av, flags & _FLAGS, self.cache), edges), 1
        if op is _c.AT and start and _text_start(av, flags):
            return ("\\z" if self.reverse else "^"), 0  # where Hyperscan takes an anchor
        if op in _ZERO_WIDTH:
            return "", 0  # dropped (a \b is written into a neighbour): the relaxed pattern matches more
        if op is _c.SUBPATTERN:
            _, add, remove, sub = av
            return self.seq(sub, (flags | add) & ~remove, edges, start)
        if op is _c.ATOMIC_GROUP:
            return self.seq(av, flags, edges, start)
        if op is _c.BRANCH:
            return _branch([self.seq(alt, flags, edges, start) for alt in av[1]])
        if op in _REPEATS:
            lo, hi, sub = av
            if edges == (False, False) or not (lo >= 1 and len(sub) == 1 and sub[0][0] in _CLASS_OPS):
                return _repeat(lo, hi, self.seq(sub, flags))
            return self.peeled(lo, hi, sub, flags, edges)
        raise TranslationError(f"no Hyperscan form for {op}")  # back-references, conditionals

    def peeled(self, lo: int, hi: int, sub: Any, flags: int, edges: tuple[bool, bool]) -> Piece:
        """``X{lo,hi}`` (``lo >= 1``, X one class) with a boundary at an edge: the first (or last)
        ``X`` written apart, ``X X{lo-1,hi-1}`` (or ``X{lo-1,hi-1} X``)."""
        rest = (lo - 1, hi if hi == _c.MAXREPEAT else hi - 1)
        if hi == 1:
            return self.seq(sub, flags, edges)
        if edges[0]:
            parts = [self.seq(sub, flags, (True, False)), _repeat(*rest, self.seq(sub, flags))]
        else:
            parts = [_repeat(*rest, self.seq(sub, flags)), self.seq(sub, flags, (False, True))]
        return self.join(parts)

    def char(self, members: tuple[int, ...], edges: tuple[bool, bool]) -> str:
        """One class; with a boundary before / after it (in the text's order) for its word bytes."""
        words = [b for b in members if b in _WORD]
        if not words or edges == (False, False):
            return _hs_class(members)
        before, after = edges[::-1] if self.reverse else edges
        bounded = ("\\b" if before else "") + _hs_class(words) + ("\\b" if after else "")
        others = [b for b in members if b not in _WORD]
        return f"(?:{bounded}|{_hs_class(others)})" if others else bounded


def translate(
    pattern: str,
    flags: int = re.IGNORECASE,
    cache: dict[tuple[Any, ...], tuple[int, ...]] | None = None,
    reverse: bool = False,
) -> bytes:
    """The relaxed Hyperscan form of the ``re`` *pattern* compiled with *flags*: it matches every
    (start, end) the pattern matches, in the bytes of ``to_bytes``; *reverse*: written backwards,
    it matches their reversed strings. Raises ``TranslationError``."""
    parsed = _parser.parse(pattern, flags)
    translator = _Translator({} if cache is None else cache, reverse)
    source, width = translator.seq(parsed, parsed.state.flags, start=True)
    if width == 0:
        raise TranslationError("the relaxed pattern matches the empty string")
    return source.encode("ascii")


Ends = dict[int, list[int]]  # expression id -> the ends of its matches, in order


def _collect(ident: int, _start: int, end: int, _flags: int, found: Ends) -> None:
    got = found.get(ident)
    if got is None:
        found[ident] = [end]
    else:
        got.append(end)


_HANDLER: Any = _collect  # the context hyperscan passes on is ours: an Ends


class Scanner:
    """A Hyperscan database of expressions (their index is their id), scanned in one pass.

    Compiled once (``scanner`` keeps one per list of expressions in the process, and the disk
    cache across processes); expressions Hyperscan refuses are left out (``refused``). Scratch
    space is made per thread, so ``scan`` may run in several threads at once."""

    def __init__(self, expressions: Sequence[bytes], cache: Path | None = None) -> None:
        if hyperscan is None:
            raise RuntimeError("the hyperscan package is not installed")
        self.refused: set[int] = set()
        self._local = threading.local()
        expressions = list(expressions)
        key = _key(expressions)
        path = None if cache is None or not expressions else cache / f"{key}.hsdb"
        loaded = _read(path)
        if loaded is not None:
            self.database, self.refused = loaded
            return
        started = time.process_time()
        self.database = self._compile(expressions, list(range(len(expressions))))
        if time.process_time() - started >= CACHE_AFTER:
            _write(path, self.database, self.refused)

    def _compile(self, expressions: list[bytes], ids: list[int]) -> Any:
        """A database of the expressions Hyperscan takes (bisecting to find the ones it refuses:
        its error does not say which)."""
        assert hyperscan is not None
        database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        chosen = [(e, i) for e, i in zip(expressions, ids, strict=True) if i not in self.refused]
        if not chosen:
            return None
        try:
            database.compile(
                expressions=[e for e, _ in chosen],
                ids=[i for _, i in chosen],
                flags=[0] * len(chosen),
            )
        except hyperscan.error:
            if len(chosen) == 1:
                self.refused.add(chosen[0][1])
                return None
            before = len(self.refused)
            half = len(chosen) // 2
            self._compile([e for e, _ in chosen[:half]], [i for _, i in chosen[:half]])
            self._compile([e for e, _ in chosen[half:]], [i for _, i in chosen[half:]])
            if len(self.refused) == before:  # each half compiles, not both together: none do
                self.refused.update(i for _, i in chosen)
                return None
            return self._compile(expressions, ids)
        return database

    def scan(self, data: bytes) -> Ends:
        """The ends of every expression's matches in *data*."""
        found: Ends = {}
        if self.database is None or not data:
            return found
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = hyperscan.Scratch(self.database)  # type: ignore[union-attr]
        self.database.scan(data, match_event_handler=_HANDLER, context=found, scratch=scratch)
        return found


def cache_dir() -> Path | None:
    """Where compiled databases are kept between processes: ``$MEDIAWATCH_HYPERSCAN_CACHE``, else
    ``$XDG_CACHE_HOME/mediawatch/hyperscan`` (``~/.cache``); None when that variable is ``off``."""
    chosen = os.environ.get("MEDIAWATCH_HYPERSCAN_CACHE")
    if chosen == "off":
        return None
    if chosen:
        return Path(chosen)
    try:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    except RuntimeError:  # no home directory: no cache
        return None
    return Path(base) / "mediawatch" / "hyperscan"


CACHE_AFTER = 0.03  # seconds of compiling that make a database worth keeping on disk


@lru_cache(maxsize=32)
def scanner(expressions: tuple[bytes, ...]) -> Scanner:
    """The Scanner of *expressions*, made once per process."""
    return Scanner(expressions, cache_dir())


_MAGIC = b"mediawatch-hyperscan 1"


def _key(expressions: list[bytes]) -> str:
    """What a cached database depends on: the package's version, the mode, flags and expressions."""
    digest = hashlib.sha256(f"{_MAGIC!r} {getattr(hyperscan, '__version__', '?')} block 0\n".encode())
    for e in expressions:
        digest.update(len(e).to_bytes(8, "little") + e)
    return digest.hexdigest()


def _read(path: Path | None) -> tuple[Any, set[int]] | None:
    """A database and its refused ids from the cache (None: not there, or not usable here)."""
    if path is None or hyperscan is None:
        return None
    try:
        head, _, blob = path.read_bytes().partition(b"\n")
        magic, digest, refused = head.rsplit(b" ", 2)
        if magic != _MAGIC or hashlib.sha256(blob).hexdigest().encode() != digest:
            return None
        ids = {int(i) for i in refused.split(b",") if i != b"-"}
        if not blob:
            return None, ids
        database = hyperscan.loadb(blob, hyperscan.HS_MODE_BLOCK)
        database.scan(b" ", match_event_handler=_HANDLER, context={}, scratch=hyperscan.Scratch(database))
        return database, ids  # it runs here (a database made for another CPU would not)
    except (OSError, ValueError, hyperscan.error):
        return None


def _write(path: Path | None, database: Any, refused: set[int]) -> None:
    """Keep the database in the cache (atomically; a cache that cannot be written is skipped)."""
    if path is None or hyperscan is None:
        return
    blob = hyperscan.dumpb(database) if database is not None else b""
    ids = b",".join(str(i).encode() for i in sorted(refused)) or b"-"
    head = b" ".join([_MAGIC, hashlib.sha256(blob).hexdigest().encode(), ids])
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".tmp-", delete=False) as fh:
            fh.write(head + b"\n" + blob)
        os.replace(fh.name, path)
    except OSError:
        return


AVAILABLE = hyperscan is not None and _finds_what_it_should()
