"""Fast TF-IDF features at predict time, from vectorizers scikit-learn fitted.

scikit-learn fits the vocabulary and IDF weights (``TfidfVectorizer``); this module only applies
them, several times faster, because scoring must keep up with every article the pipeline reads:

* the document is analysed once for both vectorizers and for both models (relevance and the
  categories), where two scikit-learn pipelines analysed it four times;
* character n-grams (``char_wb``) are computed once per distinct word and kept in flat arrays
  (``_WordTable``), since the same words recur in every article; a document's ids are gathered
  from them with numpy;
* word n-grams are numbered (``FastTfidf._index_grams``), so that a document's n-grams are found
  with numpy instead of joining and looking up each one.

The result is the same matrix scikit-learn's ``FeatureUnion.transform`` gives (tests compare them
on varied text); only the configurations the classifier uses are supported, and anything else is
refused when the model is exported. Predicting needs numpy only: no scikit-learn, no scipy.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass
from itertools import repeat
from typing import Any

import numpy as np

CACHE_WORDS = 200_000  # distinct words whose n-gram ids are kept (about 40 MB at most)
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


class _WordTable:
    """Each word's n-gram ids, in flat arrays (row ``r``: ``data[start[r] : start[r] + length[r]]``),
    so that a document's ids are gathered with numpy, not word by word. Rows are added for words
    not seen before, up to *limit* words (later ones are worked out each time); adding takes a
    lock, reading does not: a row is published only once its ids are written."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.rows: dict[str, int] = {}
        self.start = np.zeros(1024, dtype=np.int64)
        self.length = np.zeros(1024, dtype=np.int64)
        self.data = np.zeros(16384, dtype=np.int64)
        self.used = 0  # entries of data in use
        self._lock = threading.Lock()

    def ids(self, words: list[str], ids_of: Any) -> np.ndarray[Any, Any]:
        """The concatenated ids of *words* (``ids_of(word)`` gives a new word's)."""
        if not words:
            return _EMPTY_INT
        rows = np.fromiter(map(self.rows.get, words, repeat(-1)), dtype=np.int64, count=len(words))
        extra: list[int] = []
        if (rows < 0).any():
            new = {w for w, r in zip(words, rows.tolist(), strict=True) if r < 0}
            self._add(new, ids_of)
            rows = np.fromiter(map(self.rows.get, words, repeat(-1)), dtype=np.int64, count=len(words))
            for w, r in zip(words, rows.tolist(), strict=True):
                if r < 0:  # the table is full
                    extra.extend(ids_of(w))
            rows = rows[rows >= 0]
        start, length, data = self.start, self.length, self.data
        lengths = length[rows]
        total = int(lengths.sum())
        before = np.cumsum(lengths) - lengths  # where each word's ids go in the result
        found = data[np.repeat(start[rows] - before, lengths) + np.arange(total)]
        return np.concatenate([found, np.asarray(extra, dtype=np.int64)]) if extra else found

    def _add(self, words: set[str], ids_of: Any) -> None:
        with self._lock:
            for word in words:
                if word in self.rows or len(self.rows) >= self.limit:
                    continue
                ids = ids_of(word)
                row, at = len(self.rows), self.used
                if row >= len(self.start):
                    self.start = np.concatenate([self.start, np.zeros_like(self.start)])
                    self.length = np.concatenate([self.length, np.zeros_like(self.length)])
                if at + len(ids) > len(self.data):
                    grown = np.zeros(max(2 * len(self.data), at + len(ids)), dtype=np.int64)
                    grown[:at] = self.data[:at]
                    self.data = grown
                self.data[at : at + len(ids)] = ids
                self.start[row], self.length[row] = at, len(ids)
                self.used = at + len(ids)
                self.rows[word] = row  # published last: readers see only complete rows


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
        self._table = _WordTable(CACHE_WORDS)
        if self.kind == "word":
            self._index_grams()

    def _index_grams(self) -> None:
        """Word n-grams as numbers: each word of the vocabulary's terms gets an index and each
        n-gram the key sum(index_i * words^(n-1-i)), so that a document's n-grams are found with
        numpy (``searchsorted`` on the sorted keys) instead of joining and looking up each one."""
        low, high = self.ngram_range
        words: dict[str, int] = {}
        terms = [(term.split(" "), col) for term, col in self.vocabulary.items()]
        for parts, _col in terms:
            for w in parts:
                words.setdefault(w, len(words))
        size = max(1, len(words))
        self._words = words
        self._keyed = size**high < 2**62  # every key fits in int64 (else the old look-ups)
        self._unigram_col = np.full(size, -1, dtype=np.int64)
        by_n: dict[int, tuple[list[int], list[int]]] = {n: ([], []) for n in range(max(low, 2), high + 1)}
        for parts, col in terms:
            if len(parts) == 1:
                self._unigram_col[words[parts[0]]] = col
            elif len(parts) in by_n and self._keyed:
                key = 0
                for w in parts:
                    key = key * size + words[w]
                by_n[len(parts)][0].append(key)
                by_n[len(parts)][1].append(col)
        self._grams: dict[int, tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]] = {}
        for n, (keys, cols) in by_n.items():
            sorted_keys = np.asarray(keys, dtype=np.int64)
            order = np.argsort(sorted_keys, kind="stable")
            self._grams[n] = (sorted_keys[order], np.asarray(cols, dtype=np.int64)[order])

    def normal(self, text: str) -> str:
        """*text* as this vectorizer reads it: lowercase, accents stripped if it strips them."""
        text = text.lower()
        return strip_accents(text) if self.accents else text

    def counts(
        self, text: str, normal: str | None = None
    ) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        """(sorted feature ids, their counts) for one document (*normal*: ``self.normal(text)``)."""
        text = self.normal(text) if normal is None else normal
        ids = self._char_ids(text) if self.kind == "char_wb" else self._word_ids_of(text)
        if not len(ids):
            return _EMPTY_INT, _EMPTY_FLOAT
        # counting by id over the whole vocabulary is cheaper than sorting the ids
        times = np.bincount(ids, minlength=self.width)
        cols = np.flatnonzero(times)
        return cols, times[cols].astype(np.float64)

    def _word_ids_of(self, text: str) -> np.ndarray[Any, Any]:
        tokens = self.token.findall(text)
        if not self._keyed:
            return self._word_ids_joined(tokens)
        count = len(tokens)
        index = np.fromiter(map(self._words.get, tokens, repeat(-1)), dtype=np.int64, count=count)
        low, high = self.ngram_range
        found = []
        if low == 1:
            cols = self._unigram_col[index[index >= 0]]
            found.append(cols[cols >= 0])
        size = len(self._unigram_col)
        for n in range(max(low, 2), high + 1):
            sorted_keys, sorted_cols = self._grams[n]
            if count < n or not len(sorted_keys):
                continue
            keys = index[: count - n + 1].copy()
            known = keys >= 0
            for i in range(1, n):
                nxt = index[i : count - n + 1 + i]
                keys = keys * size + nxt
                known &= nxt >= 0
            keys = keys[known]
            at = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
            found.append(sorted_cols[at[sorted_keys[at] == keys]])
        return np.concatenate(found) if found else _EMPTY_INT

    def _word_ids_joined(self, tokens: list[str]) -> np.ndarray[Any, Any]:
        """The vocabulary ids of the n-grams of *tokens*, each n-gram joined and looked up."""
        vocab = self.vocabulary
        low, high = self.ngram_range
        found: list[int] = []
        for n in range(low, high + 1):
            grams = tokens if n == 1 else map(" ".join, zip(*(tokens[i:] for i in range(n)), strict=False))
            found += [idx for idx in map(vocab.get, grams) if idx is not None]
        return np.asarray(found, dtype=np.int64)

    def _char_ids(self, text: str) -> np.ndarray[Any, Any]:
        """The n-gram ids of every word of *text*, one occurrence each (each word's ids are looked
        up once and kept in ``_table``)."""
        words = text.split()  # what scikit-learn's runs of whitespace made one space give
        return self._table.ids(words, self._ids_of)

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
            normal: dict[bool, str] = {}  # lowercased (and stripped) once for the parts alike
            for part in self.parts:
                if part.accents not in normal:
                    normal[part.accents] = part.normal(doc)
                c, v = _row(part, doc, normal[part.accents])
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


def _row(part: FastTfidf, doc: str, normal: str) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    cols, tf = part.counts(doc, normal)
    if part.sublinear:
        tf = np.log(tf) + 1.0
    values = tf * part.idf[cols]
    norm = float(np.sqrt(values @ values))
    if norm > 0:
        values /= norm
    return cols, values


_NON_ASCII = re.compile(r"[^\x00-\x7f]")  # ASCII characters do not change
_STRIPPED: dict[str, str] = {}  # each character seen whose stripped decomposition differs -> that
_CHECKED: set[str] = set()  # characters already looked at


def strip_accents(text: str) -> str:
    """What scikit-learn's ``strip_accents_unicode`` returns (NFKD, then combining characters
    dropped), one character at a time: NFKD decomposes each character on its own and only
    reorders combining characters, which are dropped, so each character's result can be looked
    up. Only the distinct non-ASCII characters not seen before are decomposed, and only those that
    change (curly quotes and dashes do not) are replaced: normalising every article cost 0.5 ms.
    Safe to call from several threads."""
    if text.isascii():
        return text
    chars = set(_NON_ASCII.findall(text))
    new = chars - _CHECKED
    if new:
        for c in new:
            stripped = "".join(x for x in unicodedata.normalize("NFKD", c) if not unicodedata.combining(x))
            if stripped != c:
                _STRIPPED[c] = stripped
        _CHECKED.update(new)
    for c in chars:  # a few replaces: str.translate with a dict cost 0.4 ms an article
        if c in _STRIPPED:
            text = text.replace(c, _STRIPPED[c])
    return text
