"""The article classifier: relevance and issue categories (TF-IDF + logistic regression).

scikit-learn fits the model; it is saved as plain numpy arrays (``.npz``, read with
``allow_pickle=False``, so nothing in the file can run code) and predicts with numpy alone, so
scoring imports neither scikit-learn nor scipy.
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

from .errors import ConfigError, InputError
from .features import FastFeatures, TfidfSpec
from .records import CATEGORIES

MODEL_FILE = "classifier.npz"
META_FILE = "classifier.json"


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


def _features() -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

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


def _relevance_model() -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=10.0, solver="liblinear", class_weight="balanced")


def _category_model() -> Any:
    """One calibrated (Platt) logistic regression per category, trained on relevant articles."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    base = LogisticRegression(C=3.0, solver="liblinear", class_weight="balanced")
    return OneVsRestClassifier(CalibratedClassifierCV(base, method="sigmoid", cv=3))


def _sigmoid(x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # the logistic function, without overflow


class Classifier:
    """Shared TF-IDF features and two heads, as plain arrays: scikit-learn fits them
    (``train_classifier``) and they predict with numpy alone, exactly as scikit-learn's
    ``predict_proba`` would (tests compare them).

    * relevance: a logistic regression, ``sigmoid(x . w + b)``;
    * categories: per category, K calibrated logistic regressions (``CalibratedClassifierCV``
      with Platt scaling, one per fold), averaged: ``mean_k sigmoid(-(a_k (x . w_k + b_k) + c_k))``.
    """

    def __init__(self, specs: list[TfidfSpec], arrays: dict[str, np.ndarray[Any, Any]], meta: dict[str, Any]):
        self.specs = specs
        self.meta = meta
        self.fast = FastFeatures(specs)
        labels = list(meta["labels"])
        width = self.fast.width
        self.rel_coef = np.asarray(arrays["rel_coef"], dtype=np.float64)
        self.rel_intercept = float(arrays["rel_intercept"])
        self.cat_coef = np.asarray(arrays["cat_coef"], dtype=np.float64)  # (features, labels * K)
        self.cat_intercept = np.asarray(arrays["cat_intercept"], dtype=np.float64)
        self.cat_a = np.asarray(arrays["cat_a"], dtype=np.float64)
        self.cat_b = np.asarray(arrays["cat_b"], dtype=np.float64)
        folds = self.cat_coef.shape[1] // max(1, len(labels))
        if (
            self.rel_coef.shape != (width,)
            or self.cat_coef.shape != (width, len(labels) * folds)
            or not folds
            or any(v.shape != (len(labels) * folds,) for v in (self.cat_intercept, self.cat_a, self.cat_b))
        ):
            raise ValueError("array shapes do not fit the features and labels")
        self.folds = folds

    @classmethod
    def from_sklearn(cls, features: Any, relevance: Any, categories: Any, meta: dict[str, Any]) -> Classifier:
        """Export fitted scikit-learn objects (``_fit``) as arrays."""
        from sklearn.calibration import CalibratedClassifierCV

        specs = [TfidfSpec.of(vec) for _name, vec in features.transformer_list]
        if list(relevance.classes_) != [0, 1]:
            raise ValueError("relevance model is not binary 0/1")
        coefs, intercepts, a, b = [], [], [], []
        for est in categories.estimators_:
            if not isinstance(est, CalibratedClassifierCV):
                raise ValueError("a category was constant in training: give it positive examples")
            for cc in est.calibrated_classifiers_:
                (cal,) = cc.calibrators
                coefs.append(cc.estimator.coef_[0])
                intercepts.append(cc.estimator.intercept_[0])
                a.append(cal.a_)
                b.append(cal.b_)
        arrays = {
            "rel_coef": relevance.coef_[0],
            "rel_intercept": np.asarray(relevance.intercept_[0]),
            "cat_coef": np.column_stack(coefs),
            "cat_intercept": np.asarray(intercepts),
            "cat_a": np.asarray(a),
            "cat_b": np.asarray(b),
        }
        return cls(specs, arrays, meta)

    @property
    def version(self) -> str:
        return str(self.meta.get("version", "unknown"))

    def predict(self, docs: list[str]) -> list[tuple[float, dict[str, float]]]:
        """Relevance probability and per-category probabilities for each document."""
        labels = list(self.meta["labels"])
        out = []
        for cols, vals in self.fast.rows(docs):
            rel = _sigmoid(np.asarray(vals @ self.rel_coef[cols] + self.rel_intercept))
            raw = vals @ self.cat_coef[cols] + self.cat_intercept
            probs = _sigmoid(-(self.cat_a * raw + self.cat_b)).reshape(len(labels), self.folds).mean(axis=1)
            out.append((float(rel), {lab: float(p) for lab, p in zip(labels, probs, strict=True)}))
        return out

    def arrays(self) -> dict[str, np.ndarray[Any, Any]]:
        out: dict[str, np.ndarray[Any, Any]] = {}
        for i, spec in enumerate(self.specs):
            out[f"terms_{i}"] = spec.terms
            out[f"idf_{i}"] = spec.idf
        out.update(
            rel_coef=self.rel_coef,
            rel_intercept=np.asarray(self.rel_intercept),
            cat_coef=self.cat_coef,
            cat_intercept=self.cat_intercept,
            cat_a=self.cat_a,
            cat_b=self.cat_b,
        )
        return out

    def save(self, directory: Path) -> None:
        """Write the arrays (``.npz``, no pickled objects) and the metadata with their checksum."""
        directory.mkdir(parents=True, exist_ok=True)
        model_tmp, meta_tmp = directory / f".{MODEL_FILE}.part.npz", directory / f".{META_FILE}.part"
        np.savez_compressed(model_tmp, **self.arrays())  # type: ignore[arg-type]
        self.meta["features"] = [spec.settings() for spec in self.specs]
        self.meta["format"] = "npz-1"
        self.meta["sha256"] = _sha256(model_tmp)
        meta_tmp.write_text(json.dumps(self.meta, indent=2) + "\n")
        # both files are complete before either replaces the current model; a crash between the
        # two renames leaves a checksum mismatch, which loading reports
        os.replace(model_tmp, directory / MODEL_FILE)
        os.replace(meta_tmp, directory / META_FILE)


def load_classifier(directory: Path) -> Classifier:
    """Load the shipped model: numpy arrays read with ``allow_pickle=False`` (nothing in the file
    can run code), after checking their SHA-256; a missing, altered or unusable file is a
    ``ConfigError`` that names it."""
    path, meta_path = directory / MODEL_FILE, directory / META_FILE
    try:
        meta = json.loads(meta_path.read_text())
        if meta.get("sha256") != _sha256(path):
            raise ConfigError(f"{path}: checksum differs from {meta_path}; retrain or restore it")
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
        specs = [
            TfidfSpec(
                str(f["analyzer"]),
                (int(f["ngram_range"][0]), int(f["ngram_range"][1])),
                bool(f["strip_accents"]),
                str(f["token_pattern"]),
                bool(f["sublinear_tf"]),
                arrays[f"terms_{i}"],
                arrays[f"idf_{i}"],
            )
            for i, f in enumerate(meta["features"])
        ]
        return Classifier(specs, arrays, meta)
    except FileNotFoundError as exc:
        raise ConfigError(f"{exc.filename}: model file missing; run `mediawatch train`") from exc
    except (ValueError, KeyError, OSError, TypeError, IndexError, zipfile.BadZipFile) as exc:
        raise ConfigError(f"{path}: not a valid model file ({type(exc).__name__}: {exc})") from exc


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


def _fit(docs: list[LabelledDoc]) -> tuple[Any, Any, Any, list[str]]:
    features = _features()
    x = features.fit_transform([d.document for d in docs])
    y_rel, _y, _labels = _targets(docs)
    rows = [i for i, d in enumerate(docs) if d.relevant]
    _r, y_cat, labels = _targets([docs[i] for i in rows])
    relevance = _relevance_model().fit(x, y_rel)
    categories = _category_model().fit(x[rows], y_cat)
    return features, relevance, categories, labels


def cross_validate(docs: list[LabelledDoc], folds: int = 5) -> dict[str, Any]:
    """Per-label precision/recall/F1 from k-fold cross-validation (fixed seed). Categories are
    measured on the relevant documents, as the category model only sees those."""
    from sklearn.metrics import precision_recall_fscore_support
    from sklearn.model_selection import KFold

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
    return Classifier.from_sklearn(features, relevance, categories, meta)
