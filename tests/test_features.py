"""pipeline/features.py gives exactly scikit-learn's TF-IDF matrix, only faster."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion

from pipeline.classify import read_corpus
from pipeline.features import FastFeatures, TfidfSpec, strip_accents

ROOT = Path(__file__).resolve().parents[1]
ODD = [
    "",
    "x",
    "a b  c   d",
    "Élève à l'école — déjà-vu, « citation » et l’apostrophe",
    "ÀÉÎ Õ ü ñ \t\n tabs\r\nand  CRLF",
    "ﬁ ligature ½ ™ Ǆ ẞ İstanbul",
    "1,200 killed; 3.5 km; 24/7 — 100% sure",
    "the the the the the the",
    "emoji 🙂 and zero\u200bwidth",
]


def docs() -> list[str]:
    corpus = read_corpus(ROOT / "models/corpus/validation.jsonl")
    return [d.document for d in corpus] + ODD


def test_classifier_features_match_scikit_learn() -> None:
    """The classifier's own vectorizers (fitted as `mediawatch train` fits them), applied here and
    by scikit-learn, on the validation texts and odd inputs."""
    from pipeline.classify import _fit

    features, _rel, _cats, _labels = _fit(read_corpus(ROOT / "models/corpus/seed.jsonl"))
    fast = FastFeatures([TfidfSpec.of(vec) for _name, vec in features.transformer_list])
    texts = docs()
    expected = features.transform(texts)
    for _ in range(2):  # cold, then with the per-word cache filled
        got = fast.transform(texts)
        assert got.shape == expected.shape
        assert np.abs((got - expected).toarray()).max() < 1e-12


@pytest.mark.parametrize("accents", [None, "unicode"])
@pytest.mark.parametrize(
    ("analyzer", "ngrams"), [("word", (1, 1)), ("word", (1, 3)), ("word", (2, 3)), ("char_wb", (1, 5))]
)
def test_other_fitted_settings_match(analyzer: str, ngrams: tuple[int, int], accents: str | None) -> None:
    texts = docs()
    vec = TfidfVectorizer(analyzer=analyzer, ngram_range=ngrams, strip_accents=accents, sublinear_tf=True)
    vec.fit(texts[:40])
    union = FeatureUnion([("v", vec)])
    got = FastFeatures([TfidfSpec.of(vec)]).transform(texts)
    assert np.abs((got - union.transform(texts)).toarray()).max() < 1e-12


@pytest.mark.parametrize(("analyzer", "ngrams"), [("word", (2, 3)), ("char_wb", (2, 4))])
def test_the_slow_paths_match_too(analyzer: str, ngrams: tuple[int, int]) -> None:
    """A word table that is full (words past it are worked out each time) and word n-grams too
    many to number in int64 (joined and looked up) give the same matrix."""
    texts = docs()
    vec = TfidfVectorizer(analyzer=analyzer, ngram_range=ngrams, sublinear_tf=True).fit(texts[:40])
    expected = FeatureUnion([("v", vec)]).transform(texts)
    fast = FastFeatures([TfidfSpec.of(vec)])
    (part,) = fast.parts
    part._table.limit = 50
    part._keyed = False
    for _ in range(2):
        assert np.abs((fast.transform(texts) - expected).toarray()).max() < 1e-12
    assert len(part._table.rows) == 50 if analyzer == "char_wb" else not part._table.rows


def test_unsupported_vectorizers_are_refused() -> None:
    vec = TfidfVectorizer(analyzer="char", binary=True).fit(["some text"])
    with pytest.raises(ValueError, match=r"analyzer='char'.*binary"):
        TfidfSpec.of(vec)


def test_strip_accents_equals_scikit_learn() -> None:
    from sklearn.feature_extraction.text import strip_accents_unicode

    for text in ODD:
        assert strip_accents(text) == strip_accents_unicode(text)


def test_strip_accents_one_character_at_a_time_equals_scikit_learn_on_all_of_unicode() -> None:
    """The per-character look-up equals NFKD of the whole text with combining characters dropped,
    for every code point and for marks stacked in every order after varied bases."""
    from sklearn.feature_extraction.text import strip_accents_unicode

    everything = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000)
    assert strip_accents(everything) == strip_accents_unicode(everything)
    rng = random.Random(5)
    bases = ["e", "E", "é", "ﬁ", "Å", "\u1e9b", "ǆ", "한", "½", "…", "\xa0", " ", "x"]
    marks = [chr(c) for c in range(0x300, 0x370)] + ["\u0327", "\u0328", "\u05b0", "\u0e38"]
    for _ in range(2000):
        text = "".join(rng.choice(bases + marks) for _ in range(rng.randint(1, 12)))
        assert strip_accents(text) == strip_accents_unicode(text), repr(text)
