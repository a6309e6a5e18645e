"""The article classifier: relevance and issue categories (TF-IDF + logistic regression).

Models are saved with skops, which never unpickles arbitrary objects: loading refuses any type
outside ``TRUSTED``.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import FeatureUnion

from .errors import ConfigError, InputError
from .features import FastFeatures
from .records import CATEGORIES

MODEL_FILE = "classifier.skops"
META_FILE = "classifier.json"
TRUSTED = [
    "sklearn.feature_extraction.text.TfidfVectorizer",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.multiclass.OneVsRestClassifier",
    "sklearn.calibration.CalibratedClassifierCV",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.pipeline.FeatureUnion",
    "sklearn.pipeline.Pipeline",
    "sklearn.preprocessing._label.LabelBinarizer",
    "numpy.float64",
    "numpy.int64",
    "numpy.dtype",
    "builtins.slice",
    "collections.defaultdict",
    "scipy.sparse._csr.csr_matrix",
    "numpy.ndarray",
]


@dataclass(slots=True)
class LabelledDoc:
    id: str
    language: str
    title: str
    text: str
    relevant: bool
    categories: list[str]

    @property
    def document(self) -> str:
        return f"{self.title}\n{self.text}"


def _features() -> FeatureUnion:
    return FeatureUnion(
        [
            ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, strip_accents="unicode")),
            (
                "chars",
                TfidfVectorizer(
                    analyzer="char_wb", ngram_range=(2, 4), min_df=2, sublinear_tf=True, max_features=20_000
                ),
            ),
        ]
    )


def _relevance_model() -> LogisticRegression:
    return LogisticRegression(C=10.0, solver="liblinear", class_weight="balanced")


def _category_model() -> OneVsRestClassifier:
    """One calibrated (Platt) logistic regression per category, trained on relevant articles."""
    base = LogisticRegression(C=3.0, solver="liblinear", class_weight="balanced")
    return OneVsRestClassifier(CalibratedClassifierCV(base, method="sigmoid", cv=3))


def _slim(features: FeatureUnion) -> FeatureUnion:
    """Drop the vectorizers' stop_words_ (every pruned n-gram: large, unused at predict time) and
    store vocabulary indices as plain ints, which skops writes compactly."""
    for _name, vec in features.transformer_list:
        if hasattr(vec, "stop_words_"):
            delattr(vec, "stop_words_")
        vec.vocabulary_ = {term: int(i) for term, i in vec.vocabulary_.items()}
    return features


class Classifier:
    """Shared TF-IDF features (fitted by scikit-learn, applied by ``features.FastFeatures``), a
    relevance head and a calibrated head per category."""

    def __init__(
        self,
        features: FeatureUnion,
        relevance: LogisticRegression,
        categories: OneVsRestClassifier,
        meta: dict[str, Any],
    ) -> None:
        self.features = features
        self.relevance = relevance
        self.categories = categories
        self.meta = meta
        self.fast = FastFeatures(features)

    @property
    def version(self) -> str:
        return str(self.meta.get("version", "unknown"))

    def predict(self, docs: list[str]) -> list[tuple[float, dict[str, float]]]:
        """Relevance probability and per-category probabilities for each document."""
        if not docs:
            return []
        x = self.fast.transform(docs)
        rel = self.relevance.predict_proba(x)[:, 1]
        cats = self.categories.predict_proba(x)
        labels = list(self.meta["labels"])
        return [
            (float(r), {lab: float(p) for lab, p in zip(labels, row, strict=True)})
            for r, row in zip(rel, cats, strict=True)
        ]

    def save(self, directory: Path) -> None:
        import skops.io as sio

        directory.mkdir(parents=True, exist_ok=True)
        model_tmp, meta_tmp = directory / f".{MODEL_FILE}.part", directory / f".{META_FILE}.part"
        # vocabularies go in as arrays (skops loads an array at once, a dict entry by entry)
        vectorizers = [vec for _name, vec in self.features.transformer_list]
        vocabularies = [vec.__dict__.pop("vocabulary_") for vec in vectorizers]
        terms = [np.asarray(sorted(v, key=v.__getitem__), dtype=np.str_) for v in vocabularies]
        try:
            sio.dump(
                {
                    "features": self.features,
                    "vocabularies": terms,
                    "relevance": self.relevance,
                    "categories": self.categories,
                },
                model_tmp,
                compression=zipfile.ZIP_DEFLATED,
                compresslevel=9,
            )
        finally:
            for vec, vocabulary in zip(vectorizers, vocabularies, strict=True):
                vec.vocabulary_ = vocabulary
        self.meta["sha256"] = _sha256(model_tmp)
        meta_tmp.write_text(json.dumps(self.meta, indent=2) + "\n")
        # both files are complete before either replaces the current model; a crash between the
        # two renames leaves a checksum mismatch, which loading reports
        os.replace(model_tmp, directory / MODEL_FILE)
        os.replace(meta_tmp, directory / META_FILE)


def load_classifier(directory: Path) -> Classifier:
    """Load the shipped model; a missing, altered or untrusted file is a ``ConfigError``."""
    import skops.io as sio
    from skops.io.exceptions import UntrustedTypesFoundException

    path, meta_path = directory / MODEL_FILE, directory / META_FILE
    try:
        meta = json.loads(meta_path.read_text())
        if meta.get("sha256") != _sha256(path):
            raise ConfigError(f"{path}: checksum differs from {meta_path}; retrain or restore it")
        # one pass: skops refuses any type outside TRUSTED before building anything
        data = sio.load(path, trusted=TRUSTED)
    except UntrustedTypesFoundException as exc:
        raise ConfigError(f"{path}: refused, contains untrusted types: {exc}") from exc
    except FileNotFoundError as exc:
        raise ConfigError(f"{exc.filename}: model file missing; run `mediawatch train`") from exc
    except (ValueError, KeyError, OSError, TypeError, zipfile.BadZipFile) as exc:
        raise ConfigError(f"{path}: not a valid model file ({type(exc).__name__}: {exc})") from exc
    try:
        stored = data.get("vocabularies") or [None] * len(data["features"].transformer_list)
        for (_name, vec), terms in zip(data["features"].transformer_list, stored, strict=True):
            if terms is not None:
                vec.vocabulary_ = {str(t): i for i, t in enumerate(terms)}
        return Classifier(data["features"], data["relevance"], data["categories"], meta)
    except (KeyError, ValueError, AttributeError) as exc:
        raise ConfigError(
            f"{path}: not a model this version can use ({exc}); run `mediawatch train`"
        ) from exc


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_corpus(path: Path) -> list[LabelledDoc]:
    """JSON Lines of {id, language, title, text, relevant, categories}; errors name the line."""
    docs = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            cats = list(obj.get("categories", []))
            bad = [c for c in cats if c not in CATEGORIES]
            if bad:
                raise ValueError(f"field 'categories': unknown {bad}")
            docs.append(
                LabelledDoc(
                    str(obj["id"]),
                    obj.get("language", "en"),
                    obj.get("title", ""),
                    obj["text"],
                    bool(obj["relevant"]),
                    cats,
                )
            )
        except (json.JSONDecodeError, KeyError, ValueError, TypeError) as exc:
            detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
            raise InputError(f"{path}:{n}: {detail}") from exc
    return docs


def _targets(docs: list[LabelledDoc]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    labels = [c for c in CATEGORIES if any(c in d.categories for d in docs)]
    y_rel = np.array([int(d.relevant) for d in docs])
    y_cat = np.array([[int(c in d.categories) for c in labels] for d in docs])
    return y_rel, y_cat, labels


def _fit(docs: list[LabelledDoc]) -> tuple[FeatureUnion, LogisticRegression, OneVsRestClassifier, list[str]]:
    features = _features()
    x = features.fit_transform([d.document for d in docs])
    y_rel, _y, _labels = _targets(docs)
    rows = [i for i, d in enumerate(docs) if d.relevant]
    _r, y_cat, labels = _targets([docs[i] for i in rows])
    relevance = _relevance_model().fit(x, y_rel)
    categories = _category_model().fit(x[rows], y_cat)
    return _slim(features), relevance, categories, labels


def cross_validate(docs: list[LabelledDoc], folds: int = 5) -> dict[str, Any]:
    """Per-label precision/recall/F1 from k-fold cross-validation (fixed seed). Categories are
    measured on the relevant documents, as the category model only sees those."""
    from sklearn.metrics import precision_recall_fscore_support

    kf = KFold(n_splits=folds, shuffle=True, random_state=13)
    _r, _y, labels = _targets([d for d in docs if d.relevant])
    y_rel = np.array([int(d.relevant) for d in docs])
    rel_pred = np.zeros(len(docs), dtype=int)
    relevant_idx = [i for i, d in enumerate(docs) if d.relevant]
    cat_prob = np.zeros((len(docs), len(labels)))
    for train_idx, test_idx in kf.split(docs):
        features, relevance, categories, fold_labels = _fit([docs[i] for i in train_idx])
        x = features.transform([docs[i].document for i in test_idx])
        rel_pred[test_idx] = relevance.predict(x)
        probs = categories.predict_proba(x)
        for j, lab in enumerate(fold_labels):
            cat_prob[test_idx, labels.index(lab)] = probs[:, j]
    y_cat = np.array([[int(lab in docs[i].categories) for lab in labels] for i in relevant_idx])
    pred_cat = (cat_prob[relevant_idx] >= 0.5).astype(int)
    out: dict[str, Any] = {}
    p, r, f, _s = precision_recall_fscore_support(y_rel, rel_pred, average="binary", zero_division=0)
    out["relevant"] = {"precision": p, "recall": r, "f1": f, "support": int(y_rel.sum())}
    p, r, f, s = precision_recall_fscore_support(y_cat, pred_cat, zero_division=0)
    for i, lab in enumerate(labels):
        out[lab] = {"precision": p[i], "recall": r[i], "f1": f[i], "support": int(s[i])}
    out["categories_macro_f1"] = float(np.mean(f))
    return {
        k: ({m: round(float(x), 3) for m, x in v.items()} if isinstance(v, dict) else round(v, 3))
        for k, v in out.items()
    }


def train_classifier(docs: list[LabelledDoc], sources: list[str]) -> Classifier:
    features, relevance, categories, labels = _fit(docs)
    digest = hashlib.sha256("\n".join(sorted(d.id + d.text for d in docs)).encode()).hexdigest()
    meta = {"version": f"mw-{digest[:10]}", "labels": labels, "documents": len(docs), "sources": sources}
    return Classifier(features, relevance, categories, meta)
