"""Language identification for English and French (what MediaWatch reads).

Light on purpose: the score stage uses it without loading trafilatura. Function words decide
clear cases at once; py3langid (whose model takes about 0.3 s to load) decides the rest.
"""

from __future__ import annotations

import functools
import re
from typing import Any

LANGUAGES = ("en", "fr")


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


WORDS = re.compile(r"[^\W\d_]+")
# Frequent function words of one language that are rare in the other (and not "a", "on", "as"...).
_EN_WORDS = _word_set(
    "the and of to that is was with for are this it by from have has be were which their they he she"
    " his her said but not at been would will who had its after about there than into we"
)
_FR_WORDS = _word_set(
    "le la les des du de et est une un que qui dans pour par sur pas au aux ce cette il elle ils elles"
    " sont ont été avec selon mais ou leur leurs ses nous vous être était aussi comme depuis contre lors"
)


@functools.cache
def _identifier() -> Any:
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    ident = LanguageIdentifier.from_modelpath(MODEL_DIR / MODEL_FILE, norm_probs=True)
    ident.set_languages(list(LANGUAGES))
    return ident


def detect_language(text: str) -> str | None:
    """'en' or 'fr' (the languages MediaWatch reads); None for too little text or another language.

    Function words decide clear cases at once; py3langid (whose model takes about 0.3 s to load)
    decides the rest.
    """
    if len(text.strip()) < 20:
        return None
    words = WORDS.findall(text[:3000].lower())
    en = sum(1 for w in words if w in _EN_WORDS)
    fr = sum(1 for w in words if w in _FR_WORDS)
    high, low = max(en, fr), min(en, fr)
    if high >= 3 and high >= 3 * low:
        return "en" if en > fr else "fr"
    if len(words) >= 60 and high + low < 0.03 * len(words):
        return None  # many words, hardly any English or French ones: another language
    lang, _prob = _identifier().classify(text[:5000])
    return str(lang)


# Month names, for dates written out in text (not %B: that follows the process locale).
MONTHS = {
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
    "fr": (
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ),
}
