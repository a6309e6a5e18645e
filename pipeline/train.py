"""Train and evaluate the shipped classifier from its recorded sources."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .classify import Classifier, LabelledDoc, cross_validate, read_corpus, train_classifier

SEED_CORPUS = Path("corpus/seed.jsonl")
METRICS_FILE = "metrics.json"


def corpus_paths(models_dir: Path) -> list[Path]:
    """The corpora a model is trained on, relative to the models directory."""
    return [models_dir / SEED_CORPUS]


def train(models_dir: Path) -> tuple[Classifier, dict[str, Any]]:
    """Rebuild the classifier from its corpora, save it with its cross-validated metrics."""
    paths = corpus_paths(models_dir)
    docs: list[LabelledDoc] = [d for p in paths for d in read_corpus(p)]
    metrics = cross_validate(docs)
    model = train_classifier(docs, [str(p.relative_to(models_dir)) for p in paths])
    model.meta["trained_at"] = datetime.now(UTC).date().isoformat()
    model.meta["metrics"] = "metrics.json"
    model.save(models_dir)
    (models_dir / METRICS_FILE).write_text(
        json.dumps(
            {"method": "5-fold cross-validation, seed 13", "documents": len(docs), "labels": metrics},
            indent=2,
        )
        + "\n"
    )
    return model, metrics


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
