"""Fast TF-IDF features at predict time, from vectorizers scikit-learn fitted.

scikit-learn fits the vocabulary and IDF weights (``TfidfVectorizer``); this module only applies
them, several times faster, because scoring must keep up with every article the pipeline reads:

* the document is analysed once for both vectorizers and for both models (relevance and the
  categories), where two scikit-learn pipelines analysed it four times;
* character n-grams (``char_wb``) are computed per distinct word, and each word's known n-gram ids
  are cached, since the same words recur in every article.

The result is the same matrix scikit-learn's ``FeatureUnion.transform`` gives (tests compare them
on varied text); only the configurations the classifier uses are supported, and anything else is
refused when the model is exported. Predicting needs numpy only: no scikit-learn, no scipy.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

CACHE_WORDS = 200_000  # distinct words whose n-gram ids are kept (about 40 MB at most)
_WHITE = re.compile(r"\s\s+")
_EMPTY_INT = np.zeros(0, dtype=np.int64)
_EMPTY_FLOAT = np.zeros(0, dtype=np.float64)


@dataclass(frozen=True, slots=True)
class TfidfSpec:
    """What predicting needs of one fitted ``TfidfVectorizer``: its settings, terms and IDF."""

    analyzer: str  # "word" or "char_wb"
    ngram_range: tuple[int, int]
    strip_accents: bool
    token_pattern: str
    sublinear_tf: bool
    terms: np.ndarray[Any, Any]  # term of each column, in column order
    idf: np.ndarray[Any, Any]

    @classmethod
    def of(cls, vec: Any) -> TfidfSpec:
        """From a fitted scikit-learn ``TfidfVectorizer`` (refusing settings not supported)."""
        _check_supported(vec)
        vocabulary = vec.vocabulary_
        return cls(
            "char_wb" if vec.analyzer == "char_wb" else "word",
            tuple(vec.ngram_range),
            vec.strip_accents == "unicode",
            vec.token_pattern,
            bool(vec.sublinear_tf),
            np.asarray(sorted(vocabulary, key=vocabulary.__getitem__), dtype=np.str_),
            np.asarray(vec.idf_, dtype=np.float64),
        )

    def settings(self) -> dict[str, Any]:
        return {
            "analyzer": self.analyzer,
            "ngram_range": list(self.ngram_range),
            "strip_accents": self.strip_accents,
            "token_pattern": self.token_pattern,
            "sublinear_tf": self.sublinear_tf,
        }


class FastTfidf:
    """One TF-IDF vectorizer (word 1..n-grams or ``char_wb``), applied quickly."""

    def __init__(self, spec: TfidfSpec) -> None:
        self.kind = spec.analyzer
        low, high = spec.ngram_range
        self.ngram_range: tuple[int, int] = (int(low), int(high))
        self.accents = spec.strip_accents
        self.token = re.compile(spec.token_pattern)
        self.vocabulary: dict[str, int] = {str(t): i for i, t in enumerate(spec.terms)}
        self.idf = np.asarray(spec.idf, dtype=np.float64)
        self.sublinear = spec.sublinear_tf
        self.width = len(self.idf)
        if len(self.vocabulary) != self.width:
            raise ValueError(f"{len(self.vocabulary)} terms for {self.width} IDF weights")
        self._word_ids: dict[str, np.ndarray[Any, Any]] = {}

    def counts(self, text: str) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        """(sorted feature ids, their counts) for one document."""
        text = text.lower()
        if self.accents:
            text = strip_accents(text)
        ids, weights = self._char_ids(text) if self.kind == "char_wb" else (self._word_ids_of(text), None)
        if not len(ids):
            return _EMPTY_INT, _EMPTY_FLOAT
        # counting by id over the whole vocabulary is cheaper than sorting the ids
        times = np.bincount(ids, weights=weights, minlength=self.width)
        cols = np.flatnonzero(times)
        return cols, times[cols].astype(np.float64)

    def _word_ids_of(self, text: str) -> np.ndarray[Any, Any]:
        tokens = self.token.findall(text)
        vocab = self.vocabulary
        low, high = self.ngram_range
        found: list[int] = []
        for n in range(low, high + 1):
            grams = tokens if n == 1 else map(" ".join, zip(*(tokens[i:] for i in range(n)), strict=False))
            found += [idx for idx in map(vocab.get, grams) if idx is not None]
        return np.asarray(found, dtype=np.int64)

    def _char_ids(self, text: str) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any] | None]:
        """Each distinct word's n-gram ids once, and how often the word occurs as their weight."""
        cache, parts, times = self._word_ids, [], []
        for word, n in Counter(_WHITE.sub(" ", text).split()).items():
            ids = cache.get(word)
            if ids is None:
                ids = np.asarray(self._ids_of(word), dtype=np.int64)
                if len(cache) < CACHE_WORDS:
                    cache[word] = ids
            parts.append(ids)
            times.append(n)
        if not parts:
            return _EMPTY_INT, None
        lengths = np.fromiter(map(len, parts), dtype=np.int64, count=len(parts))
        return np.concatenate(parts), np.repeat(np.asarray(times, dtype=np.float64), lengths)

    def _ids_of(self, word: str) -> tuple[int, ...]:
        """The vocabulary ids of a word's ``char_wb`` n-grams, as scikit-learn generates them
        (padded with a space each side; a word shorter than n gives one short n-gram and stops
        the larger sizes)."""
        padded, vocab = f" {word} ", self.vocabulary
        out: list[int] = []
        low, high = self.ngram_range
        for n in range(low, high + 1):
            offset = 0
            grams = [padded[0:n]]
            while offset + n < len(padded):
                offset += 1
                grams.append(padded[offset : offset + n])
            out.extend(vocab[g] for g in grams if g in vocab)
            if offset == 0:
                break
        return tuple(out)


def _check_supported(vec: Any) -> None:
    problems = []
    if vec.analyzer not in ("word", "char_wb"):
        problems.append(f"analyzer={vec.analyzer!r}")
    if not vec.lowercase or vec.preprocessor is not None or vec.tokenizer is not None:
        problems.append("custom preprocessing")
    if vec.strip_accents not in (None, "unicode"):
        problems.append(f"strip_accents={vec.strip_accents!r}")
    if vec.stop_words is not None or vec.binary or vec.norm != "l2" or not vec.use_idf:
        problems.append("stop words, binary, norm or idf settings")
    if problems:
        raise ValueError(f"unsupported vectorizer for fast features: {', '.join(problems)}")


class FastFeatures:
    """The classifier's TF-IDF vectorizers side by side (as scikit-learn's ``FeatureUnion``),
    applied once per document."""

    def __init__(self, specs: list[TfidfSpec]) -> None:
        self.parts = [FastTfidf(spec) for spec in specs]
        self.width = sum(p.width for p in self.parts)

    def rows(self, docs: list[str]) -> list[tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]]:
        """Each document's non-zero columns and their values (each part l2-normalised)."""
        out = []
        for doc in docs:
            cols, vals, offset = [], [], 0
            for part in self.parts:
                c, v = _row(part, doc)
                cols.append(c + offset)
                vals.append(v)
                offset += part.width
            out.append((np.concatenate(cols), np.concatenate(vals)))
        return out

    def transform(self, docs: list[str]) -> Any:
        """The rows as a scipy CSR matrix (for comparing with scikit-learn; scoring uses rows)."""
        from scipy.sparse import csr_matrix

        rows = self.rows(docs)
        indptr = np.cumsum([0] + [len(c) for c, _v in rows])
        cols = np.concatenate([c for c, _v in rows]) if rows else _EMPTY_INT
        vals = np.concatenate([v for _c, v in rows]) if rows else _EMPTY_FLOAT
        return csr_matrix((vals, cols, indptr), shape=(len(docs), self.width))


def _row(part: FastTfidf, doc: str) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    cols, tf = part.counts(doc)
    if part.sublinear:
        tf = np.log(tf) + 1.0
    values = tf * part.idf[cols]
    norm = float(np.sqrt(values @ values))
    if norm > 0:
        values /= norm
    return cols, values


def _combining_table() -> dict[int, None]:
    import sys

    return {cp: None for cp in range(sys.maxunicode + 1) if unicodedata.combining(chr(cp))}


_COMBINING: dict[int, None] = {}


def strip_accents(text: str) -> str:
    """What scikit-learn's ``strip_accents_unicode`` returns, without its per-character loop."""
    if text.isascii():
        return text
    if not _COMBINING:
        _COMBINING.update(_combining_table())
    return unicodedata.normalize("NFKD", text).translate(_COMBINING)
