"""Casualty-sentence analysis: quality on the held-out articles and cost per article.

    .venv/bin/python bench/casualty.py [--repeat 5] [--data ../shared/data]

Quality: the shipped model (``models/casualty/``) on the held-out split that
``pipeline.casualty.split`` makes (whole article groups, fixed seed; the model was trained on the
rest), with context (previous casualty sentence, headline) and on the bare sentence; and the
reference, TF-IDF word 1-2-grams + logistic regression on the bare sentence, trained in this run
on the same training sentences. Per label precision/recall/F1, macro-F1 for victim and
responsible, F1 of the agentless pattern (victim palestinian and responsible neither, as a binary).

Speed, one process, one core: sentences per second of the model on the held-out sentences
(batched as an article batches them, and one at a time), against scikit-learn's
``predict_proba`` of the reference pipeline on the same sentences (the ratio is the figure that
matters on a shared machine); and the cost of ``casualty_sentences`` + ``article_findings`` per
article of about 800 words: each held-out article's sentences, in order, followed by neutral
team-written filler up to 800 words (``typical``), and 800 words made only of casualty sentences
(``dense``, the worst case). Medians over ``--repeat`` runs; the feature cache is cleared before
each timed run, so no sentence is seen twice.

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline import casualty
from pipeline.sentences import article_findings, casualty_sentences

FILLER = (
    "The city council met on Tuesday to discuss the budget. "
    "Residents asked about bus routes, parking and snow clearing in the spring. "
    "The committee will publish its report next month after a public consultation. "
    "Officials said the new library branch would open in the autumn. "
)


def _time(fn: object, repeat: int, reset: object = None) -> float:
    runs = []
    for _ in range(repeat):
        if callable(reset):
            reset()
        t0 = time.process_time()
        fn()  # type: ignore[operator]
        runs.append(time.process_time() - t0)
    return statistics.median(runs)


def _articles(held: list[casualty.Example], dense: bool) -> list[tuple[str, str]]:
    by = defaultdict(list)
    for e in held:
        if e.corpus == "breach":
            by[e.group].append(e)
    out = []
    for items in by.values():
        text = " ".join(e.sentence for e in items)
        if dense:
            while len(text.split()) < 800:
                text += " " + text
            text = " ".join(text.split()[:800])
        else:
            while len(text.split()) < 800:
                text += " " + FILLER
        out.append((items[0].title, text))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--data", type=Path, default=casualty.DATA_DIR)
    args = ap.parse_args()

    examples, _ = casualty.load_examples(args.data)
    train, held = casualty.split(examples)
    model = casualty.get_model()
    quality = {
        "model_with_context": casualty.evaluate(model, held),
        "model_bare_sentence": casualty.evaluate(model, held, context=False),
        "reference_tfidf_lr": casualty.baseline(train, held),
    }

    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    ca_train = [e for e in train if e.corpus == "breach"]
    ref = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2),
        LogisticRegression(C=casualty.C, max_iter=3000, class_weight="balanced"),
    ).fit([e.sentence for e in ca_train], [e.victim for e in ca_train])
    sentences = [e for e in held if e.corpus == "breach"]
    items = [e.item() for e in sentences]
    texts = [e.sentence for e in sentences]
    reset = model._sentence_features.cache_clear  # type: ignore[attr-defined]
    n = len(items)
    batch = _time(lambda: [model.label(items[k : k + 8]) for k in range(0, n, 8)], args.repeat, reset)
    single = _time(lambda: [model.label([it]) for it in items], args.repeat, reset)
    ref_batch = _time(lambda: [ref.predict_proba(texts[k : k + 8]) for k in range(0, n, 8)], args.repeat)
    speed: dict[str, object] = {
        "sentences": n,
        "model_sentences_per_s_batches_of_8": round(n / batch),
        "model_sentences_per_s_one_at_a_time": round(n / single),
        "reference_sklearn_sentences_per_s_batches_of_8": round(n / ref_batch),
        "model_over_reference_speed": round(ref_batch / batch, 2),
    }
    for kind in ("typical", "dense"):
        arts = _articles(held, dense=kind == "dense")
        words = sum(len(t.split()) for _, t in arts)
        cas = sum(len(casualty_sentences(t, title)) for title, t in arts)

        def run(arts: list[tuple[str, str]] = arts) -> None:
            for title, text in arts:
                article_findings(title, text)

        t = _time(run, args.repeat, reset)
        speed[f"{kind}_articles"] = len(arts)
        speed[f"{kind}_mean_words"] = round(words / len(arts))
        speed[f"{kind}_casualty_sentences_per_article"] = round(cas / len(arts), 1)
        speed[f"{kind}_ms_per_article"] = round(1000 * t / len(arts), 3)
        speed[f"{kind}_ms_per_800_words"] = round(1000 * t / words * 800, 3)
    out = {
        "model": model.version,
        "held_out": {"seed": casualty.SEED, "share": casualty.HELD_OUT_SHARE},
        "quality": quality,
        "targets": {"victim_macro_f1": 0.85, "responsible_macro_f1": 0.80, "agentless_f1": 0.85},
        "speed_cpu": speed,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
