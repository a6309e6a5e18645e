"""Wire copies: which agency a story came from, which stored story it copies, and which copy of a
cluster to treat as the original.

Finding copies. Outlets run wire stories trimmed (the first 40-65 % of the paragraphs, a middle
paragraph dropped), retitled, lightly copy-edited and with a paragraph of their own, in English
and in French. As *sets* of phrases a copy and its original overlap little (Jaccard 0.2-0.4), but
most of the copy is *contained* in the original. So a story becomes a set of shingles (three
consecutive content words, see ``content_words``), and

1. candidates come from MinHash LSH over two windows at the start of each story, shingles 0-80
   and 40-120: outlets cut wire copy from the end, so the starts of a copy and of its original
   are nearly the same set however much was cut, and the second window still lines up when an
   outlet puts a paragraph of its own first. The MinHash is 32 multiply-add-shift permutations
   computed with numpy in one step per window, the LSH 16 bands of 2 values in one dictionary
   (datasketch's ``MinHashLSH`` did the same with a Python object per sketch and a set per
   bucket: twice the memory and most of the time). ``MinHashLSHEnsemble`` would index
   containment itself, but it is built once from all the sets and cannot take stories one at a
   time as they arrive;
2. each candidate is verified exactly: the share of the smaller story's shingles found in the
   other (containment) must reach ``MIN_CONTAINMENT`` with at least ``MIN_SHARED`` shingles in
   common. Two different stories on the same topic share phrases ("Palestinian health officials
   said") and sometimes a background paragraph, but not half of the shorter one.

Stories under ``MIN_SHINGLES`` shingles (a brief, a caption) never match. Per story the index
keeps a sorted array of 32-bit shingle hashes (4 bytes a shingle) and its LSH band keys, never the
text. Everything is deterministic across processes: words are hashed with BLAKE2b (not Python's
salted ``hash()``), the MinHash permutations come from a fixed seed, ties go to the earliest
stored story. ``bench/cluster.py`` measures precision, recall, time and memory.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

# --- Agencies -----------------------------------------------------------------------------------

CP, AP, REUTERS, AFP = "The Canadian Press", "Associated Press", "Reuters", "AFP"

# Full names: safe to look for anywhere in a byline or a credit line.
_NAMES = (
    (CP, r"(?:The\s+)?Canadian\s+Press|(?:La\s+)?Presse\s+Canadienne"),
    (AP, r"(?:The\s+)?Associated\s+Press"),
    (REUTERS, r"Reuters"),
    (AFP, r"Agence\s+France[-\s]Presse|AFP"),
)
_NAME_RE = re.compile(r"\b(?:" + "|".join(f"(?P<a{i}>{p})" for i, (_, p) in enumerate(_NAMES)) + r")\b")
# Codes in a dateline's parentheses: "JERUSALEM (AP) —", "BEIRUT, Nov 3 (Reuters) -".
_CODES = {"cp": CP, "pc": CP, "ap": AP, "reuters": REUTERS, "afp": AFP}
_DASH = r"[—–-]"
_DATELINE_CODE = re.compile(
    rf"^[^\S\n]*(?:[^\W\d_][^()\n]{{0,60}}?)?\((?P<code>CP|PC|AP|AFP|Reuters)\)[^\S\n]*{_DASH}",
    re.M | re.I,
)
# "OTTAWA — The Canadian Press", "OTTAWA (The Canadian Press) —", a line that is only a byline
# ("By Jane Doe, The Associated Press", "Par Jean Roy, La Presse Canadienne", "AFP").
_HEAD_CREDIT = re.compile(
    rf"^[^\S\n]*(?:[^\W\d_][^\n]{{0,60}}?[^\S\n]*(?:{_DASH}|\()[^\S\n]*)?"
    rf"(?:(?:By|Par)[^\S\n]+[^\n]{{1,60}}?,[^\S\n]*)?(?P<name>{_NAME_RE.pattern})\)?"
    rf"[^\S\n]*(?:{_DASH}[^\n]*)?$",
    re.M | re.I,
)
# Credits at the foot of a story.
_TAIL_CREDITS = (
    re.compile(rf"with\s+files\s+from\s+(?:the\s+)?(?P<name>{_NAME_RE.pattern})", re.I),
    re.compile(
        rf"^[^\S\n]*[(—–-]?[^\S\n]*avec\s+(?:des\s+informations\s+d(?:e\s+|'|’)|l(?:'|’)aide\s+de\s+)?"
        rf"(?:l(?:'|’)|la\s+)?(?P<name>{_NAME_RE.pattern})",
        re.I | re.M,
    ),
    re.compile(
        rf"(?:texte|article)\s+[^\n]{{0,40}}avec\s+l(?:'|’)aide\s+de\s+(?:l(?:'|’)|la\s+)?(?P<name>{_NAME_RE.pattern})",
        re.I,
    ),
    re.compile(rf"this\s+report\s+by\s+(?P<name>{_NAME_RE.pattern})", re.I),
    re.compile(
        rf"(?P<name>{_NAME_RE.pattern})\s+(?:writers?|reporters?|journalists?)\b[^\n]{{0,80}}\bcontributed",
        re.I,
    ),
    re.compile(rf"^[^\S\n]*{_DASH}[^\S\n]*(?P<name>{_NAME_RE.pattern})[^\S\n]*$", re.M | re.I),
)
_REUTERS_SIGNOFF = re.compile(r"\(\s*Reporting\s+by\b[^)]*\)", re.I)
_SIGNOFF = re.compile(
    r"first\s+published|publi[ée]e?\s+pour\s+la\s+premi[èe]re\s+fois|contributed\s+to\s+this\s+report"
    r"|^[^\S\n]*\(?\s*(?:additional\s+)?reporting\s+by\b",
    re.I,
)
HEAD_CHARS = 300  # a dateline or byline is in the first lines
TAIL_CHARS = 400  # a credit is in the last lines


def _agency_of(match: re.Match[str]) -> str:
    for i, (agency, _) in enumerate(_NAMES):
        if match.group(f"a{i}"):
            return agency
    raise AssertionError("an agency pattern matched without a name")  # pragma: no cover


def _from_authors(authors: Iterable[str]) -> str | None:
    for author in authors:
        for part in re.split(r"[,;/|&]|\s+(?:and|et)\s+", author):
            code = re.sub(r"^(?:by|par)\s+", "", part.strip().strip("()—–- ").lower())
            if code in _CODES:
                return _CODES[code]
        found = _NAME_RE.search(author)
        if found:
            return _agency_of(found)
    return None


def wire_agency(text: str, authors: Iterable[str] = ()) -> str | None:
    """The news agency credited for this story, from (in this order) the byline, a dateline or
    byline line in the first ``HEAD_CHARS`` characters ("JERUSALEM (AP) —", "OTTAWA — The Canadian
    Press", "(Reuters) -", "By Jane Doe, The Associated Press"), or a credit in the last
    ``TAIL_CHARS`` ("With files from Reuters", "This report by The Canadian Press was first
    published ...", "Associated Press writer X contributed", "(Reporting by ...; Editing by ...)",
    "avec l'AFP"). A story "with files from" an agency is partly wire copy, and passages it shares
    with other outlets most likely came from that agency, so the agency is returned too.

    An agency merely named in the body ("Reuters reported that ...") is not a credit and is ignored.
    """
    found = _from_authors(authors)
    if found:
        return found
    head = text[:HEAD_CHARS]
    dateline = _DATELINE_CODE.search(head)
    if dateline:
        return _CODES[dateline.group("code").lower()]
    credit = _HEAD_CREDIT.search(head)
    if credit:
        return _agency_of(credit)
    tail = text[-TAIL_CHARS:]
    for pattern in _TAIL_CREDITS:
        credit = pattern.search(tail)
        if credit:
            return _agency_of(credit)
    if _REUTERS_SIGNOFF.search(tail):
        return REUTERS
    return None


def without_credits(text: str) -> str:
    """The text without the credit and sign-off lines at its foot ("This report by The Canadian
    Press was first published ...", "With files from Reuters", "(Reporting by ...)"): every story
    of an agency ends with them, so they say nothing about which story a text copies."""
    lines = text.rstrip().split("\n")
    while lines:
        last = lines[-1].strip()
        if last and (
            len(last) > 250 or not (_SIGNOFF.search(last) or any(p.search(last) for p in _TAIL_CREDITS))
        ):
            break
        lines.pop()
    return "\n".join(lines)


# --- Which copy is the original -----------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    """One story of a wire-copy cluster, as the store knows it."""

    article_id: int
    outlet_id: str
    agency: str | None
    published_at: datetime | None
    first_seen_at: datetime


def _utc(moment: datetime) -> datetime:
    """Naive datetimes (SQLite gives them back so) are taken as UTC, so any two compare."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


_NEVER = datetime.max.replace(tzinfo=UTC)


def _order(member: Member) -> tuple[bool, datetime, datetime, int]:
    published = _utc(member.published_at) if member.published_at else _NEVER
    return (member.agency is None, published, _utc(member.first_seen_at), member.article_id)


def originator_of(members: Sequence[Member]) -> Member:
    """The copy to treat as the original: one carrying an agency credit if any does, then the
    earliest published (unknown dates last), then the earliest seen, then the lowest id."""
    if not members:
        raise ValueError("a cluster has at least one member")
    return min(members, key=_order)


def cluster_agency(members: Sequence[Member]) -> str | None:
    """The agency most members credit; a tie goes to the agency of the earliest such member."""
    credited = sorted((m for m in members if m.agency), key=lambda m: _order(m)[1:])
    if not credited:
        return None
    counts = Counter(m.agency for m in credited)
    top = max(counts.values())
    return next(m.agency for m in credited if counts[m.agency] == top)


# --- Shingles -----------------------------------------------------------------------------------

SHINGLE = 3  # content words per shingle
STEM = 6  # words are cut to their first letters: "Israel's"/"Israeli", "attaque"/"attaques"
MIN_SHINGLES = 20  # shorter stories (a brief, a caption) never match
# Function words, English and French, skipped: copy editors add and drop them freely.
_FUNCTION_WORDS = """
    an the and or but of to in on at by for from with as is are was were be been has have had it its
    this that these those he she they we his her their our not no said says will would could should
    than then there which who whom whose what when where also after before about into over more most
    some any all other such only just up out
    le la les un une des du de et ou mais en au aux dans sur par pour avec sans sous ce cet cette ces
    il elle ils elles on nous vous son sa ses leur leurs est sont etait ont avait ete qui que qu quoi
    dont ne pas plus se lui
"""
STOPWORDS = frozenset(_FUNCTION_WORDS.split())
_WORD = re.compile(r"\w+")
_MIX = np.uint64(0x9E3779B97F4A7C15)
_POSITION = tuple(np.uint64(c) for c in (0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93))


class _WordIds:
    """Stable 64-bit ids of words (BLAKE2b), cached: a few hundred thousand distinct words."""

    LIMIT = 500_000

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}

    def __call__(self, words: list[str]) -> np.ndarray[Any, np.dtype[np.uint64]]:
        ids = self._ids
        if len(ids) > self.LIMIT:
            ids.clear()
        out = []
        for word in words:
            value = ids.get(word)
            if value is None:
                value = ids[word] = int.from_bytes(
                    hashlib.blake2b(word.encode(), digest_size=8).digest(), "little"
                )
            out.append(value)
        return np.array(out, dtype=np.uint64)


_word_ids = _WordIds()


def _accent_folding() -> dict[int, str]:
    """Latin letters with diacritics to their base letters ("é" -> "e", "œ" -> "oe"): copy desks
    drop accents on capitals and in names, and a table is much faster than NFKD per character."""
    table = {ord("œ"): "oe", ord("æ"): "ae", ord("ß"): "ss"}
    for code in range(0xC0, 0x250):
        base = "".join(c for c in unicodedata.normalize("NFKD", chr(code)) if not unicodedata.combining(c))
        if base != chr(code) and base.isascii():
            table[code] = base.lower()
    return table


_FOLD = _accent_folding()


def content_words(text: str) -> list[str]:
    """Lower-case words without accents, function words and one-letter words, cut to ``STEM``.
    (Accents are folded word by word, only in words that have any: folding the whole text took
    half the time, and folding maps letters to letters, so the words are the same.)"""
    words = [w if w.isascii() else w.translate(_FOLD) for w in _WORD.findall(text.lower())]
    return [w[:STEM] for w in words if len(w) > 1 and w not in STOPWORDS]


def shingle_hashes(text: str) -> np.ndarray[Any, np.dtype[np.uint32]]:
    """32-bit hashes of the text's shingles, in text order (repeats kept)."""
    ids = _word_ids(content_words(text))
    n = len(ids) - SHINGLE + 1
    if n <= 0:
        return np.zeros(0, dtype=np.uint32)
    with np.errstate(over="ignore"):
        h = ids[:n] * _MIX
        for k in range(1, SHINGLE):
            h = (h ^ (h >> np.uint64(31))) * _POSITION[k - 1] + ids[k : k + n]
        h ^= h >> np.uint64(32)
        h *= _MIX
        h ^= h >> np.uint64(29)
    return h.astype(np.uint32)


def containment(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> tuple[float, int]:
    """Share of the smaller of two sorted, unique hash arrays found in the other, and the count."""
    if not len(a) or not len(b):
        return 0.0, 0
    shared = len(np.intersect1d(a, b, assume_unique=True))
    return shared / min(len(a), len(b)), shared


# --- The index ----------------------------------------------------------------------------------

NUM_PERM = 32
SEED = 20240917
BANDS, ROWS = 16, 2  # windows with Jaccard 0.5 meet with p = 0.99, 0.4: 0.94, 0.2: 0.48, 0.05: 0.04
WINDOWS = ((0, 80), (40, 120))  # shingle ranges sketched for LSH
MIN_WINDOW = 60  # a later window is sketched only if it has this many shingles
MIN_CONTAINMENT = 0.5
MIN_SHARED = 20

# The permutations: h(x) = ((a * x + b) mod 2**64) >> 32 for a 32-bit shingle hash x, with a odd
# (multiply-add-shift, Dietzfelbinger 1996: 2-universal into 32 bits). The shingle hashes are
# already well mixed (see ``shingle_hashes``), so nothing else is needed.
_PERMUTATIONS = np.random.Generator(np.random.PCG64(SEED)).integers(
    0, 2**64, size=(2, NUM_PERM), dtype=np.uint64, endpoint=False
)
_A = _PERMUTATIONS[0] | np.uint64(1)
_B = _PERMUTATIONS[1]
# Band keys of different bands go into one table: each band's key is xor-ed with its own salt, so
# equal value pairs in different bands do not meet (and if two keys of different bands ever
# collided, that would only add a candidate, which is checked exactly like any other).
_BAND_SALT = np.random.Generator(np.random.PCG64(SEED + 1)).integers(
    0, 2**64, size=BANDS, dtype=np.uint64, endpoint=False
)


def minhash(hashes: np.ndarray[Any, np.dtype[np.uint32]]) -> np.ndarray[Any, np.dtype[np.uint32]]:
    """The ``NUM_PERM`` minimum values of a non-empty set of 32-bit hashes under the permutations."""
    with np.errstate(over="ignore"):
        mixed = hashes.astype(np.uint64)[:, None] * _A + _B
    lowest: np.ndarray[Any, np.dtype[np.uint32]] = (mixed >> np.uint64(32)).min(axis=0).astype(np.uint32)
    return lowest


def band_keys(values: np.ndarray[Any, np.dtype[np.uint32]]) -> list[int]:
    """A window's LSH keys, one per band of ``ROWS`` minimum values."""
    rows = values.reshape(BANDS, ROWS).astype(np.uint64)
    keys: list[int] = (((rows[:, 0] << np.uint64(32)) | rows[:, 1]) ^ _BAND_SALT).tolist()
    return keys


@dataclass(frozen=True, slots=True)
class Sketch:
    """What the index needs of a story: its shingles as a sorted set and the MinHash values of
    its windows. Made without the index (``sketch``), so a worker process can make it."""

    unique: np.ndarray[Any, np.dtype[np.uint32]]
    windows: tuple[np.ndarray[Any, np.dtype[np.uint32]], ...]


def sketch(text: str) -> Sketch:
    """The story's ``Sketch``."""
    hashes = shingle_hashes(without_credits(text))
    windows = []
    for i, (start, end) in enumerate(WINDOWS):
        if i and len(hashes) < start + MIN_WINDOW:
            break
        if i == 0 and not len(hashes):
            break
        windows.append(minhash(hashes[start:end]))
    return Sketch(np.unique(hashes), tuple(windows))


class CopyIndex:
    """Stories seen recently, indexed so that a new story is checked against a handful of
    candidates instead of every one of them."""

    def __init__(self) -> None:
        self._buckets: dict[int, list[int]] = {}  # band key -> ids of the stories with it
        self._keys: dict[int, list[int]] = {}  # id -> its band keys (distinct), for removal
        self._sets: dict[int, np.ndarray[Any, np.dtype[np.uint32]]] = {}
        self._order: dict[int, int] = {}  # insertion rank, to prefer the earliest on a tie
        self._last: tuple[str, Sketch] | None = None

    def __len__(self) -> int:
        return len(self._sets)

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._sets

    def _prepare(self, text: str, made: Sketch | None) -> tuple[np.ndarray[Any, Any], list[int]]:
        """The text's shingles as a sorted set, and the distinct band keys of its windows (from
        *made*, its sketch, when given). The pipeline calls ``find`` and then ``add`` with the
        same text, so the last sketch is kept."""
        if made is None:
            if self._last is not None and self._last[0] == text:
                made = self._last[1]
            else:
                made = sketch(text)
                self._last = (text, made)
        keys = [key for values in made.windows for key in band_keys(values)]
        return made.unique, list(dict.fromkeys(keys))

    def _remove(self, article_id: int) -> None:
        for key in self._keys.pop(article_id):
            bucket = self._buckets[key]
            bucket.remove(article_id)
            if not bucket:
                del self._buckets[key]
        del self._sets[article_id]

    def add(self, article_id: int, text: str, made: Sketch | None = None) -> None:
        """Index a story (again, if the id is already there: its text may have changed); *made*:
        its ``sketch``, if already made."""
        if article_id in self._sets:
            self._remove(article_id)
        unique, keys = self._prepare(text, made)
        if len(unique) < MIN_SHINGLES:
            return
        buckets = self._buckets
        for key in keys:
            bucket = buckets.get(key)
            if bucket is None:
                buckets[key] = [article_id]
            else:
                bucket.append(article_id)
        self._keys[article_id] = keys
        self._sets[article_id] = unique
        self._order[article_id] = len(self._order)

    def add_many(self, items: Iterable[tuple[int, str]]) -> None:
        """Index many stories, as ``add`` would one by one."""
        for article_id, text in items:
            self.add(article_id, text)

    def find(self, text: str, exclude: int | None = None, made: Sketch | None = None) -> int | None:
        """The id of a stored story this text copies or is copied from (trimmed, retitled, lightly
        edited), or None. Among several, the one sharing the most of the smaller text, then the
        earliest stored. *made*: the text's ``sketch``, if already made."""
        mine, keys = self._prepare(text, made)
        if len(mine) < MIN_SHINGLES:
            return None
        buckets = self._buckets
        candidates = {found for key in keys if key in buckets for found in buckets[key]}
        best: tuple[float, int] | None = None
        best_id = None
        for candidate in candidates:
            if candidate == exclude:
                continue
            score, shared = containment(mine, self._sets[candidate])
            if score < MIN_CONTAINMENT or shared < MIN_SHARED:
                continue
            key = (score, -self._order[candidate])
            if best is None or key > best:
                best, best_id = key, candidate
        return best_id
