"""Sentence-level casualty analysis: who died, and who the sentence says killed them.

A sentence reports casualties when it has a death or injury word (EN and FR, ``CASUALTY``). Those
sentences, and only those, go to the trained model in ``pipeline.casualty`` (loaded once per
process from ``models/casualty/``), which labels ``victim`` (israeli | palestinian | both |
neither) and ``responsible``, the perpetrator the sentence names (israel | hamas | both |
neither). "palestinian / neither" is the agentless pattern.

``casualty_sentences`` gives the model each sentence's context (the previous casualty sentence and
the headline); ``label_sentence`` labels a bare sentence. ``article_findings`` turns an article's
labels into evidence: agentless Palestinian casualties, a double standard when Israeli deaths in
the same article name a perpetrator, and a headline that states Palestinian deaths without the
agent the body names.
"""

from __future__ import annotations

import re

from .casualty import Item, get_model, names_a_side
from .records import Evidence, SentenceLabel

CASUALTY = re.compile(
    r"\b(?:kill(?:ed|ing|s)?|died|dies|dead|deaths?|die|dying|wounded|injur(?:ed|ies|ing|y)|"
    r"murder(?:ed|s|ing)?|slaughter(?:ed|ing)?|massacre[sd]?|slain|fatalit(?:y|ies)|fatally|"
    r"corpses?|assassinat(?:ed|ion)|stabbed|beheaded|shot dead|death toll|lives|"
    r"tu(?:é|e)s?|tu(?:é|e)es?|morts?|mortes|décès|blessés?|blessées?|péri|perdu la vie|"
    r"abattus?|massacrés?)\b",
    re.I,
)
_CASUALTY_LOW = re.compile(CASUALTY.pattern)
_SPLIT = re.compile(r"[.!?»\"”](\s+)(?=[A-ZÀ-Ý«\"“])")
# A full stop after one of these is not the end of a sentence ("Oct. 7", "U.S. officials").
_ABBREV = frozenset(
    """Mr Mrs Ms Dr St Sgt Lt Gen Col Capt Cpl Pte Maj Rev Prof Sen Rep Gov Jr Sr Jan Feb Mar Apr Jun
    Jul Aug Sep Sept Oct Nov Dec No vs etc Mme Mgr M""".split()  # noqa: SIM905
)
_INITIALS = re.compile(r"(?:[A-Z]\.)*[A-Z]")
SOURCE = "model"  # the score contract: evidence comes from "rule:<id>" or "model"


def split_sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences in *text*, without surrounding whitespace."""
    spans, start = [], 0
    for m in _SPLIT.finditer(text):
        end = m.start(1)
        if text[end - 1] == "." and _abbreviation(text, max(start, end - 16), end - 1):
            continue
        spans.append((start, end))
        start = m.end(1)
    spans.append((start, len(text)))
    out = []
    for a, b in spans:
        chunk = text[a:b]
        if chunk.strip():
            a += len(chunk) - len(chunk.lstrip())
            b -= len(chunk) - len(chunk.rstrip())
            out.append((a, b))
    return out


def _abbreviation(text: str, a: int, b: int) -> bool:
    """Is the word ending at *b* (just before a full stop) an abbreviation or initials?"""
    words = text[a:b].split()
    word = words[-1].lstrip('(«“"') if words else ""
    return word in _ABBREV or _INITIALS.fullmatch(word) is not None


def is_casualty_sentence(sentence: str) -> bool:
    return CASUALTY.search(sentence) is not None


def _labels(ids: list[str], items: list[Item]) -> list[SentenceLabel]:
    out = []
    for sid, it, (v, r, pv, pr) in zip(ids, items, get_model().label(items), strict=True):
        out.append(SentenceLabel(sid, v, r, it.sentence, {"victim": pv, "responsible": pr}))
    return out


def label_sentence(sid: str, sentence: str) -> SentenceLabel:
    """Label one bare sentence (no context); a sentence without a casualty word is neither/neither."""
    if not is_casualty_sentence(sentence):
        return SentenceLabel(sid, "neither", "neither", sentence)
    return _labels([sid], [Item(sentence)])[0]


def label_items(ids: list[str], items: list[Item]) -> list[SentenceLabel]:
    """Label sentences with their context (previous casualty sentence, headline), in one batch."""
    out = [SentenceLabel(sid, "neither", "neither", it.sentence) for sid, it in zip(ids, items, strict=True)]
    todo = [i for i, it in enumerate(items) if is_casualty_sentence(it.sentence)]
    for i, lab in zip(todo, _labels([ids[i] for i in todo], [items[i] for i in todo]), strict=True):
        out[i] = lab
    return out


def casualty_sentences(text: str, title: str = "") -> list[tuple[int, int, SentenceLabel]]:
    """Every casualty sentence of an article, with its offsets and labels; ids are sentence
    positions. Each is labelled with the previous casualty sentence and the headline as context."""
    low = text.lower()  # one pass over the text, case-sensitive (several times faster in ``re``)
    hits = [m.start() for m in (_CASUALTY_LOW if len(low) == len(text) else CASUALTY).finditer(low)]
    found, k = [], 0
    for i, (a, b) in enumerate(split_sentences(text)):
        while k < len(hits) and hits[k] < a:
            k += 1
        if k < len(hits) and hits[k] < b:
            found.append((i, a, b))
    if not found:
        return []
    items, before = [], ""
    for _, a, b in found:
        items.append(Item(text[a:b], before, title))
        before = text[a:b]
    labels = _labels([str(i) for i, _, _ in found], items)
    return [(a, b, lab) for (_, a, b), lab in zip(found, labels, strict=True)]


# -------------------------------------------------------------------------------- article findings

_HEADLINE_DEAD = re.compile(
    r"\b(?:dead|die[sd]?|dying|deaths?|death toll|killed|lose (?:their )?lives|morts?|tués?|décès)\b", re.I
)


def _excerpt(s: str, n: int = 90) -> str:
    return s if len(s) <= n else s[: n - 1].rstrip() + "…"


# DESIGN counts Lebanese deaths reported without a perpetrator as agentless too; the training data
# labels Lebanese victims "neither", so the model cannot tell them apart: the sentence's own words do
LEBANESE = re.compile(r"\b(?:Lebanese|Lebanon|Libanais(?:es?)?|Liban)\b", re.I)
PALESTINIAN = re.compile(r"\b(?:Palestin\w*|Gaza\w*|West Bank|Cisjordanie)\b", re.I)


def _victims_named(sentence: str) -> str:
    """Whose deaths an agentless sentence reports, in the words the explanation uses."""
    if LEBANESE.search(sentence) and not PALESTINIAN.search(sentence):
        return "Lebanese"
    return "Palestinian"


def _agentless(victim: str, responsible: str, sentence: str = "") -> bool:
    if responsible != "neither":
        return False
    return victim == "palestinian" or (victim == "neither" and LEBANESE.search(sentence) is not None)


def article_findings(
    title: str, text: str, found: list[tuple[int, int, SentenceLabel]] | None = None
) -> list[Evidence]:
    """Article-level casualty evidence with exact offsets into ``title`` or ``text``:

    - ``agentless_casualties``: each Palestinian casualty sentence that names no perpetrator;
    - ``double_standard``: when the article names a perpetrator for Israeli casualties but not
      for Palestinian ones, the two sentences that show it;
    - ``headline_framing``: a headline that reports Palestinian deaths without an agent (or as
      "dead") while the body says Israel caused them.

    *found* is ``casualty_sentences(text, title)`` when the caller has it already.
    """
    if found is None:
        found = casualty_sentences(text, title)
    agentless = [(a, b, lab) for a, b, lab in found if _agentless(lab.victim, lab.responsible, text[a:b])]
    named_isr = [
        (a, b, lab) for a, b, lab in found if lab.victim == "israeli" and lab.responsible != "neither"
    ]
    by_israel = [
        (a, b, lab) for a, b, lab in found if lab.victim == "palestinian" and lab.responsible == "israel"
    ]
    out: list[Evidence] = []
    contrast = named_isr[0] if named_isr else None
    for a, b, _ in agentless:
        who = _victims_named(text[a:b])
        why = f"{who} deaths or injuries are reported here without saying who caused them."
        if contrast is not None:
            why += (
                " The same article names the perpetrator when Israelis are the victims: "
                f"“{_excerpt(text[contrast[0] : contrast[1]])}”"
            )
        out.append(Evidence("agentless_casualties", text[a:b], a, b, SOURCE, why, field="text"))
    if agentless and contrast is not None:
        a, b, _ = agentless[0]
        ca, cb, lab = contrast
        out.append(
            Evidence(
                "double_standard",
                text[a:b],
                a,
                b,
                SOURCE,
                "Double standard: Palestinian casualties here have no perpetrator, while Israeli "
                f"casualties in this article are attributed to {lab.responsible.capitalize()}: "
                f"“{_excerpt(text[ca:cb])}”",
                field="text",
            )
        )
        out.append(
            Evidence(
                "double_standard",
                text[ca:cb],
                ca,
                cb,
                SOURCE,
                "Israeli casualties here have a named perpetrator; Palestinian casualties in the same "
                f"article do not: “{_excerpt(text[a:b])}”",
                field="text",
            )
        )
    out += _headline(title, text, by_israel)
    return out


def _headline(title: str, text: str, by_israel: list[tuple[int, int, SentenceLabel]]) -> list[Evidence]:
    stripped = title.strip()
    if not stripped or not by_israel or not is_casualty_sentence(stripped):
        return []
    lab = label_sentence("title", stripped)
    dead_framing = lab.victim != "israeli" and names_a_side(stripped) and _HEADLINE_DEAD.search(stripped)
    if lab.responsible != "neither" or not (lab.victim == "palestinian" or dead_framing):
        return []
    start = title.index(stripped)
    a, b, _ = by_israel[0]
    return [
        Evidence(
            "headline_framing",
            stripped,
            start,
            start + len(stripped),
            SOURCE,
            "The headline reports Palestinian deaths without saying who caused them, while the "
            f"article itself attributes them to Israel: “{_excerpt(text[a:b])}”. "
            "Readers who only see the headline do not learn who did it.",
            field="title",
        )
    ]
