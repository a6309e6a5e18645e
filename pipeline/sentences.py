"""Sentence-level casualty analysis: who died, and who the sentence says killed them.

This first version is a transparent rule baseline (EN and FR): a sentence reports casualties
when it has a death or injury word; the victim side comes from the group words near it and the
responsible side from an agent phrase ("an Israeli airstrike killed", "Hamas gunmen killed",
"killed by Israeli fire"). "palestinian / neither" is the agentless pattern.
"""

from __future__ import annotations

import re

from .records import SentenceLabel

CASUALTY = re.compile(
    r"\b(?:kill(?:ed|ing|s)?|died|dead|deaths?|die|wounded|injur(?:ed|ies|ing)|"
    r"massacred?|slain|lives|tu(?:é|e)s?|tu(?:é|e)es?|morts?|mortes|décès|blessés?|"
    r"blessées?|péri|perdu la vie)\b",
    re.I,
)
PALESTINIAN = re.compile(
    r"\b(?:Palestiniens?|Palestiniennes?|Palestinians?|Gazans?|Gazaouis?|Lebanese|Libanais)\b", re.I
)
PAL_PLACE = re.compile(
    r"\b(?:Gaza|West Bank|Cisjordanie|Khan Y[ou]nis|Rafah|Jabalia|Jenin|Nablus|Naplouse|Lebanon|Liban)\b",
    re.I,
)
ISRAELI = re.compile(
    r"\b(?:Israelis|Israéliens?|Israéliennes?|kibbutz\w*|Israeli (?:civilians|soldiers|hostages))\b", re.I
)
_ISR = r"(?:Israeli|israélien(?:ne)?s?|IDF|Tsahal|Israel(?:'s)?)"
_WEAPONS = r"(?:strikes?|air ?strikes?|fire|tanks?|shelling|bombardments?|bombing|drones?|missiles?)"
_PEOPLE = r"(?:forces|troops|soldiers|military|army|police|settlers)"
_KILL = r"(?:killed|shot|fatally|opened fire|a tué|ont tué|ont abattu)"
_NOT_PASSIVE = r"(?!(?:were|was|have been|had been)\b)"
_FR_AGENT = r"(?:frappes?|tirs?|forces|soldats|armée|bombardements?|raids?|colons)"
_FR_AIR = r"(?:aériens?\s+|aériennes?\s+)?"
_BY = r"\b(?:by|par)\s+(?:an?\s+|the\s+|l'|les?\s+|la\s+|des\s+)?"
BY_ISRAEL = re.compile(
    rf"\b{_ISR}\s+(?:\w+\s+){{0,2}}?{_WEAPONS}\b|"
    rf"\b{_ISR}\s+(?:\w+\s+){{0,2}}?{_PEOPLE}\s+{_NOT_PASSIVE}(?:\w+\s+){{0,2}}?{_KILL}|"
    rf"{_BY}(?:Israel|Israeli|israélien|armée israélienne|IDF|Tsahal|{_FR_AGENT}\s+{_FR_AIR}israélien\w*)|"
    rf"\b(?:frappes?|tirs?|bombardements?|raids?|drones?)\s+{_FR_AIR}israélien\w*|"
    rf"\b(?:Israel|Israël|IDF|Tsahal)\s+{_NOT_PASSIVE}(?:\w+\s+){{0,1}}?{_KILL}|"
    rf"\b{_FR_AGENT}\s+israélien\w*\s+(?:\w+\s+){{0,2}}?(?:ont|a)\s+(?:tué|abattu)",
    re.I,
)
BY_HAMAS = re.compile(
    r"\bHamas(?:-led)?\s+(?:\w+\s+){0,2}?(?:gunmen|militants|fighters|attack|rockets?|combattants|"
    r"attaque|roquettes?|killed|tué)|\b(?:by|par)\s+(?:the\s+|le\s+)?Hamas\b|"
    r"\bHamas\s+(?:killed|a tué|massacred)",
    re.I,
)
SPLIT = re.compile(r"(?<=[.!?»\"])\s+(?=[A-ZÀ-Ý«\"])")


def split_sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences in *text*."""
    spans, start = [], 0
    for m in SPLIT.finditer(text):
        spans.append((start, m.start()))
        start = m.end()
    if start < len(text):
        spans.append((start, len(text)))
    return [(a, b) for a, b in spans if text[a:b].strip()]


def is_casualty_sentence(sentence: str) -> bool:
    return CASUALTY.search(sentence) is not None


def _side(pal: bool, isr: bool, yes: tuple[str, str, str, str]) -> str:
    both, p, i, neither = yes
    return both if pal and isr else p if pal else i if isr else neither


def label_sentence(sid: str, sentence: str) -> SentenceLabel:
    if not is_casualty_sentence(sentence):
        return SentenceLabel(sid, "neither", "neither", sentence)
    by_israel = BY_ISRAEL.search(sentence) is not None
    by_hamas = BY_HAMAS.search(sentence) is not None
    stripped = BY_HAMAS.sub(" ", BY_ISRAEL.sub(" ", sentence))
    isr = ISRAELI.search(stripped) is not None
    pal = PALESTINIAN.search(stripped) is not None or (not isr and PAL_PLACE.search(stripped) is not None)
    isr = isr or (by_hamas and not pal)
    victim = _side(pal, isr, ("both", "palestinian", "israeli", "neither"))
    responsible = _side(by_israel, by_hamas, ("both", "israel", "hamas", "neither"))
    return SentenceLabel(sid, victim, responsible, sentence)


def casualty_sentences(text: str) -> list[tuple[int, int, SentenceLabel]]:
    """Every casualty sentence of an article, with its offsets and labels."""
    out = []
    for i, (a, b) in enumerate(split_sentences(text)):
        sentence = text[a:b]
        if is_casualty_sentence(sentence):
            out.append((a, b, label_sentence(str(i), sentence)))
    return out
