"""Wire copies: which agency a story came from, and which stored story it copies."""

from __future__ import annotations

import re
from collections.abc import Iterable

WIRE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("The Canadian Press", re.compile(r"\bThe Canadian Press\b|\(CP\)|La Presse Canadienne", re.I)),
    ("Associated Press", re.compile(r"\bAssociated Press\b|\(AP\)")),
    ("Reuters", re.compile(r"\bReuters\b|\(Reuters\)")),
    ("AFP", re.compile(r"\bAgence France-Presse\b|\(AFP\)|\bAFP\b")),
)
SHINGLE = 5
SIMILAR = 0.5  # share of the shorter story's shingles found in the other


def wire_agency(text: str, authors: Iterable[str] = ()) -> str | None:
    """The agency named in the byline or the dateline, if any."""
    head = " ".join(authors) + "\n" + text[:400]
    for name, pattern in WIRE_PATTERNS:
        if pattern.search(head):
            return name
    return None


def shingles(text: str) -> set[int]:
    words = re.findall(r"\w+", text.lower())
    return {hash(tuple(words[i : i + SHINGLE])) for i in range(max(0, len(words) - SHINGLE + 1))}


def containment(a: set[int], b: set[int]) -> float:
    """Overlap relative to the smaller set: trimmed copies still score high."""
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


class CopyIndex:
    """Recent stories' shingles, so each new story is compared without re-reading the others."""

    def __init__(self) -> None:
        self._items: list[tuple[int, set[int]]] = []

    def add(self, story_id: int, text: str) -> None:
        self._items.append((story_id, shingles(text)))

    def find(self, text: str, exclude: int | None = None) -> int | None:
        """The id of the story this text copies (trimmed or retitled), if any."""
        mine = shingles(text)
        if len(mine) < 20:
            return None
        best, best_id = SIMILAR, None
        for sid, theirs in self._items:
            if sid == exclude:
                continue
            score = containment(mine, theirs)
            if score >= best:
                best, best_id = score, sid
        return best_id
