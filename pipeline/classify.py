"""The article classifier: relevance and issue categories (TF-IDF + logistic regression).

Models are saved with skops, which never unpickles arbitrary objects: loading refuses any type
outside ``TRUSTED``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, cross_val_predict
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import FeatureUnion, Pipeline

from .errors import ConfigError, InputError
from .records import CATEGORIES

MODEL_FILE = "classifier.skops"
META_FILE = "classifier.json"
TRUSTED = [
    "sklearn.feature_extraction.text.TfidfVectorizer",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.multiclass.OneVsRestClassifier",
    "sklearn.pipeline.FeatureUnion",
    "sklearn.pipeline.Pipeline",
    "sklearn.preprocessing._label.LabelBinarizer",
    "numpy.float64",
    "numpy.int64",
    "numpy.dtype",
    "builtins.slice",
    "collections.defaultdict",
    "scipy.sparse._csr.csr_matrix",
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
            (
                "words",
                TfidfVectorizer(
                    ngram_range=(1, 2),
                    min_df=1,
                    sublinear_tf=True,
                    strip_accents="unicode",
                    max_features=50_000,
                ),
            ),
            (
                "chars",
                TfidfVectorizer(
                    analyzer="char_wb", ngram_range=(3, 5), min_df=2, sublinear_tf=True, max_features=80_000
                ),
            ),
        ]
    )


def _relevance_model() -> Pipeline:
    return Pipeline(
        [
            ("features", _features()),
            ("clf", LogisticRegression(C=8.0, class_weight="balanced", max_iter=2000)),
        ]
    )


def _category_model() -> Pipeline:
    clf = OneVsRestClassifier(LogisticRegression(C=8.0, class_weight="balanced", max_iter=2000))
    return Pipeline([("features", _features()), ("clf", clf)])


class Classifier:
    def __init__(self, relevance: Pipeline, categories: Pipeline, meta: dict[str, Any]) -> None:
        self.relevance = relevance
        self.categories = categories
        self.meta = meta

    @property
    def version(self) -> str:
        return str(self.meta.get("version", "unknown"))

    def predict(self, docs: list[str]) -> list[tuple[float, dict[str, float]]]:
        """Relevance probability and per-category probabilities for each document."""
        rel = self.relevance.predict_proba(docs)[:, 1]
        cats = self.categories.predict_proba(docs)
        labels = list(self.meta["labels"])
        return [
            (float(r), {lab: float(p) for lab, p in zip(labels, row, strict=True)})
            for r, row in zip(rel, cats, strict=True)
        ]

    def save(self, directory: Path) -> None:
        import skops.io as sio

        directory.mkdir(parents=True, exist_ok=True)
        sio.dump({"relevance": self.relevance, "categories": self.categories}, directory / MODEL_FILE)
        self.meta["sha256"] = _sha256(directory / MODEL_FILE)
        (directory / META_FILE).write_text(json.dumps(self.meta, indent=2) + "\n")


def load_classifier(directory: Path) -> Classifier:
    """Load the shipped model; a missing, altered or untrusted file is a ``ConfigError``."""
    import skops.io as sio

    path, meta_path = directory / MODEL_FILE, directory / META_FILE
    try:
        meta = json.loads(meta_path.read_text())
        untrusted = set(sio.get_untrusted_types(file=path)) - set(TRUSTED)
        if untrusted:
            raise ConfigError(f"{path}: refused, contains untrusted types: {sorted(untrusted)}")
        data = sio.load(path, trusted=TRUSTED)
    except FileNotFoundError as exc:
        raise ConfigError(f"{exc.filename}: model file missing; run `mediawatch train`") from exc
    except (ValueError, KeyError, OSError, TypeError) as exc:
        raise ConfigError(f"{path}: not a valid model file ({type(exc).__name__}: {exc})") from exc
    if meta.get("sha256") and meta["sha256"] != _sha256(path):
        raise ConfigError(f"{path}: checksum differs from {meta_path}; retrain or restore it")
    return Classifier(data["relevance"], data["categories"], meta)


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


def cross_validate(docs: list[LabelledDoc], folds: int = 5) -> dict[str, Any]:
    """Per-label precision/recall/F1 from k-fold cross-validation (fixed seed)."""
    from sklearn.metrics import precision_recall_fscore_support

    texts = [d.document for d in docs]
    y_rel, y_cat, labels = _targets(docs)
    kf = KFold(n_splits=folds, shuffle=True, random_state=13)
    rel_pred = cross_val_predict(_relevance_model(), texts, y_rel, cv=kf)
    cat_pred = cross_val_predict(_category_model(), texts, y_cat, cv=kf)
    out: dict[str, Any] = {}
    p, r, f, s = precision_recall_fscore_support(y_rel, rel_pred, average="binary", zero_division=0)
    out["relevant"] = {"precision": p, "recall": r, "f1": f, "support": int(y_rel.sum())}
    p, r, f, s = precision_recall_fscore_support(y_cat, cat_pred, zero_division=0)
    for i, lab in enumerate(labels):
        out[lab] = {"precision": p[i], "recall": r[i], "f1": f[i], "support": int(s[i])}
    out["categories_macro_f1"] = float(np.mean(f))
    return {
        k: ({m: round(float(x), 3) for m, x in v.items()} if isinstance(v, dict) else round(v, 3))
        for k, v in out.items()
    }


def train_classifier(docs: list[LabelledDoc], sources: list[str]) -> Classifier:
    texts = [d.document for d in docs]
    y_rel, y_cat, labels = _targets(docs)
    rel, cat = _relevance_model(), _category_model()
    rel.fit(texts, y_rel)
    cat.fit(texts, y_cat)
    digest = hashlib.sha256("\n".join(sorted(d.id + d.text for d in docs)).encode()).hexdigest()
    meta = {"version": f"seed-{digest[:10]}", "labels": labels, "documents": len(docs), "sources": sources}
    return Classifier(rel, cat, meta)
