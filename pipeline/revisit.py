"""Re-fetched articles: did the title or text change, how, and is there a correction note?"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

CORRECTION = re.compile(
    r"\b(?:correction|editor'?s note|clarification|this (?:article|story) (?:has been|was) "
    r"(?:updated|corrected|amended)|an earlier version of this|rectificatif|note de la rédaction|"
    r"une version précédente|mise à jour|précision)\b",
    re.I,
)


@dataclass(slots=True)
class Revision:
    changed: bool
    diff: str | None
    correction_note: bool


def word_diff(old: str, new: str) -> str:
    """A word-level diff: removed words in [-…-], added words in {+…+}."""
    a, b = old.split(), new.split()
    out: list[str] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        removed, added = " ".join(a[i1:i2]), " ".join(b[j1:j2])
        context = " ".join(a[max(0, i1 - 5) : i1])
        out.append(
            f"…{context} " + (f"[-{removed}-]" if removed else "") + (f"{{+{added}+}}" if added else "")
        )
    return "\n".join(out)


def compare(old_title: str, old_text: str, new_title: str, new_text: str) -> Revision:
    if (old_title, old_text) == (new_title, new_text):
        return Revision(False, None, False)
    diff = word_diff(f"{old_title}\n{old_text}", f"{new_title}\n{new_text}")
    note = bool(CORRECTION.search(new_text)) and not CORRECTION.search(old_text)
    return Revision(True, diff, note)
