"""Train and evaluate the shipped classifier from its recorded sources, and people's verdicts.

A retrained model replaces the current one only if it does not lose macro-F1 on the fixed
validation set (``models/corpus/validation.jsonl``, never trained on); the report says why it was
kept or refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .classify import (
    Classifier,
    LabelledDoc,
    cross_validate,
    load_classifier,
    read_corpus,
    train_classifier,
)
from .errors import ConfigError, InputError

SEED_CORPUS = Path("corpus/seed.jsonl")
VALIDATION = Path("corpus/validation.jsonl")
METRICS_FILE = "metrics.json"
TOLERANCE = 1e-9  # "does not lose macro-F1": equal is good enough


def corpus_paths(models_dir: Path) -> list[Path]:
    """The corpora a model is trained on, relative to the models directory."""
    return [models_dir / SEED_CORPUS]


@dataclass
class TrainReport:
    model: Classifier
    metrics: dict[str, Any]  # cross-validated, on the training documents
    validation: dict[str, Any]  # {"new": {...}, "current": {...} | None}
    replaced: bool
    reason: str
    documents: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.version,
            "replaced": self.replaced,
            "reason": self.reason,
            "documents": self.documents,
            "validation": self.validation,
            "cross_validation": self.metrics,
        }


def labelled_docs(rows: list[dict[str, Any]]) -> list[LabelledDoc]:
    """Verdict labels (the store's corpus-format dicts) as training documents."""
    return [
        LabelledDoc(
            str(r["id"]),
            r["language"],
            r["title"],
            r["text"],
            bool(r["relevant"]),
            list(r["categories"]),
        )
        for r in rows
    ]


def train(
    models_dir: Path,
    verdicts: list[dict[str, Any]] | None = None,
    force: bool = False,
) -> TrainReport:
    """Rebuild the classifier from its corpora plus *verdicts*; save it (with its metrics) when it
    does at least as well as the current model on the validation set, or when *force*."""
    paths = corpus_paths(models_dir)
    seed: list[LabelledDoc] = [d for p in paths for d in read_corpus(p)]
    people = labelled_docs(verdicts or [])
    validation = _validation(models_dir, seed + people)
    docs = seed + people
    metrics = cross_validate(docs)
    sources = [str(p.relative_to(models_dir)) for p in paths]
    if people:
        sources.append(f"verdicts from the MediaWatch database ({len(people)} articles)")
    model = train_classifier(docs, sources)
    model.meta["trained_at"] = datetime.now(UTC).date().isoformat()
    model.meta["metrics"] = METRICS_FILE
    model.meta["validation"] = str(VALIDATION)
    new = validation_scores(model, validation)
    current = _current(models_dir)
    old = validation_scores(current, validation) if current is not None else None
    replaced, reason = _decide(new, old, force)
    model.meta["validation_macro_f1"] = new["categories_macro_f1"]
    counts = {"corpus": len(seed), "verdicts": len(people), "validation": len(validation)}
    report = TrainReport(model, metrics, {"new": new, "current": old}, replaced, reason, counts)
    if replaced:
        model.save(models_dir)
        summary = {"method": "5-fold cross-validation, seed 13", "documents": len(docs), "labels": metrics}
        summary["validation"] = {"file": str(VALIDATION), "documents": len(validation), "labels": new}
        (models_dir / METRICS_FILE).write_text(json.dumps(summary, indent=2) + "\n")
    return report


def _validation(models_dir: Path, training: list[LabelledDoc]) -> list[LabelledDoc]:
    path = models_dir / VALIDATION
    if not path.is_file():
        raise InputError(f"{path}: the fixed validation set is missing; it decides whether a model is kept")
    docs = read_corpus(path)
    seen = {d.id for d in training} & {d.id for d in docs}
    if seen:
        raise InputError(f"{path}: ids also in the training data: {', '.join(sorted(seen)[:5])}")
    texts = {d.text for d in training} & {d.text for d in docs}
    if texts:
        raise InputError(f"{path}: {len(texts)} validation text(s) also in the training data")
    return docs


def _current(models_dir: Path) -> Classifier | None:
    try:
        return load_classifier(models_dir)
    except ConfigError:  # missing or damaged: any new model is better than none
        return None


def _decide(new: dict[str, Any], old: dict[str, Any] | None, force: bool) -> tuple[bool, str]:
    n = new["categories_macro_f1"]
    if old is None:
        return True, f"no usable current model; new model saved (validation macro-F1 {n:.3f})"
    o = old["categories_macro_f1"]
    if n + TOLERANCE >= o:
        return True, f"new model kept: validation macro-F1 {n:.3f} >= current {o:.3f}"
    if force:
        return True, f"new model saved (--force) although validation macro-F1 {n:.3f} < current {o:.3f}"
    return False, f"new model refused: validation macro-F1 {n:.3f} < current {o:.3f}; current model kept"


def validation_scores(model: Classifier, docs: list[LabelledDoc]) -> dict[str, Any]:
    scores: dict[str, Any] = evaluate(model, docs)
    cats = [v["f1"] for k, v in scores.items() if k != "relevant" and v["support"]]
    scores["categories_macro_f1"] = round(sum(cats) / len(cats), 4) if cats else 0.0
    return scores


def evaluate(
    model: Classifier, docs: list[LabelledDoc], relevance_threshold: float = 0.5, threshold: float = 0.5
) -> dict[str, dict[str, float]]:
    """Per-category precision, recall and F1 of *model* on labelled *docs*."""
    preds = model.predict([d.document for d in docs])
    labels = ["relevant", *model.meta["labels"]]
    out: dict[str, dict[str, float]] = {}
    for lab in labels:
        tp = fp = fn = 0
        for d, (rel, cats) in zip(docs, preds, strict=True):
            truth = d.relevant if lab == "relevant" else lab in d.categories
            guess = rel >= relevance_threshold if lab == "relevant" else cats[lab] >= threshold
            tp += truth and guess
            fp += guess and not truth
            fn += truth and not guess
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        out[lab] = {"precision": round(p, 3), "recall": round(r, 3), "f1": round(f, 3), "support": tp + fn}
    return out


def least_sure(
    model: Classifier,
    items: list[tuple[int, str, str]],
    relevance_threshold: float = 0.5,
    threshold: float = 0.5,
    limit: int = 20,
) -> list[dict[str, Any]]:
    """The articles the model is least sure about: ``(article id, title, text)`` ranked by how close
    their most uncertain probability (relevance, or a category of a relevant article) lies to its
    threshold. Labelling these teaches the model most."""
    if not items:
        return []
    preds = model.predict([f"{title}\n{text}" for _i, title, text in items])
    ranked = []
    for (article_id, title, _text), (rel, cats) in zip(items, preds, strict=True):
        doubts = [("relevant", rel, abs(rel - relevance_threshold))]
        if rel >= relevance_threshold:
            doubts += [(c, p, abs(p - threshold)) for c, p in cats.items()]
        label, p, margin = min(doubts, key=lambda d: d[2])
        ranked.append(
            {
                "article_id": article_id,
                "title": title,
                "label": label,
                "probability": round(p, 3),
                "margin": round(margin, 3),
            }
        )
    ranked.sort(key=lambda r: (r["margin"], r["article_id"]))
    return ranked[:limit]
