"""Per-article counts that coverage reports sum: casualty sentences by victim, how many of them
name no perpetrator, and attributed quotes by side.

The scorer works them out once, from the casualty sentences and quotes it finds anyway, and the
store keeps them with the score (``scores.facts``), so a report over a million articles adds
numbers in SQL instead of running the casualty model again. Scores made before they were stored
have none; the report counts those articles itself, with this same function.
"""

from __future__ import annotations

from collections.abc import Sequence

from .records import SentenceLabel
from .sentences import casualty_sentences
from .sourcing import Quote, quotes

SIDES = ("israeli", "palestinian", "independent", "other")
KEYS = (
    "pal_sentences",
    "pal_agentless",
    "isr_sentences",
    "isr_agentless",
    *(f"quotes_{side}" for side in SIDES),
)


def article_facts(
    title: str,
    text: str,
    language: str | None,
    found: Sequence[tuple[int, int, SentenceLabel]] | None = None,
    quoted: Sequence[Quote] | None = None,
) -> dict[str, int]:
    """The counts for one article; *found* and *quoted* are its casualty sentences and quotes
    when the caller has them already."""
    facts = dict.fromkeys(KEYS, 0)
    for _a, _b, lab in casualty_sentences(text, title) if found is None else found:
        if lab.victim == "palestinian":
            facts["pal_sentences"] += 1
            facts["pal_agentless"] += lab.responsible == "neither"
        elif lab.victim == "israeli":
            facts["isr_sentences"] += 1
            facts["isr_agentless"] += lab.responsible == "neither"
    for q in quotes(text, language) if quoted is None else quoted:
        key = f"quotes_{q.side}"
        if key in facts:
            facts[key] += 1
    return facts
