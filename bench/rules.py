"""Rules engine speed: pipeline.rules.RuleSet.match (one Hyperscan pass, or the keyword pass, then
regexes tried only where they can match) against RuleSet.match_reference (every rule's regex over
the whole text), in the same run.

    .venv/bin/python bench/rules.py [--rules 500] [--repeat 3] [--seed 5] [--quick]

Texts (read at run time, never written anywhere):

- English: real news text about the war in Gaza, the sentences of
  ``shared/data/breach-star-post`` (Toronto Star, National Post) put back together article by
  article (title + sentences), and the 91 real article bodies of
  ``shared/data/extraction/ground-truth.json`` (general news: few keywords);
- French: the French posts of ``shared/data/fignews-iaa``, ten posts to a text.

Rule sets: the real ``alerts/rules.yaml``, and the real rules plus generated variants up to
``--rules``. Variant k of a rule (rules taken in turn) is the rule with one literal word of 4+
letters in one of its patterns or phrases (a run of letters outside escapes, character classes and
group syntax) replaced by a word drawn from the texts of the rule's language: uniformly among the
2,000 most frequent words of 4+ letters, so that most variants key on ordinary content words and a
few on very common ones ("said", "that"), as rules written against news text would. A variant whose
regex would not compile keeps the original word. Examples and near misses are dropped. A variant
that fires more than twice as often as the busiest real rule on these texts (a rule flagging every
mention of Israel) is drawn again.

Reported per rule set: MB of text (title + text, UTF-8) per CPU second for the engine and the
reference (median of ``--repeat`` runs, one core), the speed-up, the evidence counts of both (and
whether the evidence lists are identical, text by text), how many rules have no keyword (run over
the whole text), and the peak resident memory of the process. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
import resource
import statistics
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.rules import RuleSet, RuleSpec, load_rules  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
Doc = tuple[str, str, str]  # title, text, language


def english_docs(limit: int | None) -> list[Doc]:
    sentences: dict[str, list[str]] = defaultdict(list)
    titles: dict[str, str] = {}
    for name in ("star_sentences.csv", "post_sentences.csv"):
        with (DATA / "breach-star-post" / name).open(encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                sentences[row["url"]].append(row["sentence"])
                titles[row["url"]] = row["title"]
    docs = [(titles[u], " ".join(s), "en") for u, s in sentences.items()]
    truth = json.loads((DATA / "extraction" / "ground-truth.json").read_text(encoding="utf-8"))
    docs += [(v.get("title") or "", v["articleBody"], "en") for v in truth.values()]
    return docs[:limit] if limit else docs


def french_docs(limit: int | None) -> list[Doc]:
    posts = []
    with (DATA / "fignews-iaa" / "FIGNEWS-2024-TEXT-IAA.tsv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            if row["Source Language"] == "French":
                posts.append(row["Text"])
    docs = [("", "\n".join(posts[i : i + 10]), "fr") for i in range(0, len(posts), 10)]
    return docs[:limit] if limit else docs


def vocabulary(docs: list[Doc]) -> dict[str, list[str]]:
    out = {}
    for lang in ("en", "fr"):
        counts = Counter(
            w.lower() for _, text, lg in docs if lg == lang for w in re.findall(r"[^\W\d_]{4,}", text)
        )
        out[lang] = [w for w, _ in counts.most_common(2000)]
    return out


def _letter_runs(pattern: str) -> list[tuple[int, int]]:
    """Runs of 4+ letters that are literal text in *pattern* (not escapes, classes, group syntax)."""
    runs = []
    i, in_class = 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
        elif in_class:
            in_class = c != "]"
            i += 1
        elif c == "[":
            in_class = True
            i += 1
        elif pattern.startswith("(?", i):
            i += 2
            while i < len(pattern) and pattern[i] not in ":!=)":
                i += 1
        elif c.isalpha():
            j = i
            while j < len(pattern) and pattern[j].isalpha():
                j += 1
            if j - i >= 4:
                runs.append((i, j))
            i = j
        else:
            i += 1
    return runs


def variant(spec: RuleSpec, k: int, words: list[str], rng: random.Random) -> RuleSpec:
    patterns, phrases = list(spec.patterns), list(spec.phrases)
    places = [("p", n, r) for n, p in enumerate(patterns) for r in _letter_runs(p)]
    places += [("f", n, r) for n, p in enumerate(phrases) for r in _letter_runs(re.escape(p))]
    if places:
        kind, n, (a, b) = rng.choice(places)
        word = rng.choice(words)
        if kind == "p":
            candidate = patterns[n][:a] + word + patterns[n][b:]
            try:
                re.compile(candidate)
                patterns[n] = candidate
            except re.error:
                pass
        else:
            source = re.escape(phrases[n])
            phrases[n] = re.sub(r"\\(.)", r"\1", source[:a] + word + source[b:])
    data: dict[str, Any] = spec.model_dump()
    data.update(id=f"{spec.id}-v{k}", patterns=patterns, phrases=phrases, example=None, near_miss=None)
    data["keywords"] = []
    return RuleSpec.model_validate(data)


def fired(rules: RuleSet, docs: list[Doc]) -> Counter[str]:
    """Evidence per rule id over *docs*."""
    return Counter(
        e.source.removeprefix("rule:") for title, text, lang in docs for e in rules.match(title, text, lang)
    )


def generated(
    real: RuleSet, total: int, words: dict[str, list[str]], seed: int, docs: list[Doc]
) -> tuple[RuleSet, list[str]]:
    """The real rules and variants up to *total*, and the ids of the variants drawn again: a variant
    that fires more than twice as often on *docs* as the busiest real rule (one word swapped for
    "israel" made a rule flag every mention of Israel) is no rule anyone would keep, so its word
    is drawn again (up to 20 times)."""
    rng = random.Random(seed)
    specs = [r.spec for r in real.rules]
    out = list(specs)
    k = 0
    while len(out) < total:
        spec = specs[k % len(specs)]
        out.append(variant(spec, k, words[spec.language], rng))
        k += 1
    counts = fired(RuleSet(out), docs)
    cap = 2 * max(counts[s.id] for s in specs)
    redrawn = []
    for n in range(len(specs), len(out)):
        base = specs[(n - len(specs)) % len(specs)]
        tries = 0
        while counts[out[n].id] > cap and tries < 20:
            out[n] = variant(base, n - len(specs), words[base.language], rng)
            counts[out[n].id] = fired(RuleSet([out[n]]), docs)[out[n].id]
            tries += 1
        if tries:
            redrawn.append(out[n].id)
    return RuleSet(out), redrawn


def timed(fn: Any, docs: list[Doc], repeat: int) -> tuple[float, list[list[Any]]]:
    """Median CPU time of *repeat* runs of *fn* over *docs* (the process's CPU time: on a shared
    machine wall time also counts the time other processes hold the core), and the results."""
    times = []
    results: list[list[Any]] = []
    for _ in range(repeat):
        t = time.process_time()
        results = [fn(title, text, lang) for title, text, lang in docs]
        times.append(time.process_time() - t)
    return statistics.median(times), results


def measure(rules: RuleSet, docs: list[Doc], repeat: int, reference_repeat: int) -> dict[str, Any]:
    megabytes = sum(len(t.encode()) + len(x.encode()) for t, x, _ in docs) / 1e6
    t = time.perf_counter()
    rules.match("warm-up", "warm-up text", "en")  # plans and databases are made on first use
    rules.match("warm-up", "warm-up text", "fr")
    first_use = time.perf_counter() - t
    engine_s, engine = timed(rules.match, docs, repeat)
    reference_s, reference = timed(rules.match_reference, docs, reference_repeat)
    return {
        "rules": len(rules),
        "path": "hyperscan" if rules.hyperscan else "keywords",
        "rules_on_hyperscan": len(rules.scanned("en") | rules.scanned("fr")),
        "first_use_s": round(first_use, 3),
        "rules_without_keywords": sum(1 for r in rules.rules if not r.keywords),
        "engine_mb_per_s": round(megabytes / engine_s, 2),
        "reference_mb_per_s": round(megabytes / reference_s, 3),
        "speedup": round(reference_s / engine_s, 1),
        "engine_evidence": sum(len(e) for e in engine),
        "reference_evidence": sum(len(e) for e in reference),
        "identical": engine == reference,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rules", type=int, default=500, help="size of the generated rule set")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs of the engine (median)")
    ap.add_argument("--reference-repeat", type=int, default=1, help="timed runs of the reference")
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="a quarter of the texts")
    ap.add_argument("--keywords", action="store_true", help="the keyword path (no Hyperscan)")
    args = ap.parse_args()
    en = english_docs(300 if args.quick else None)
    fr = french_docs(8 if args.quick else None)
    docs = en + fr
    real = load_rules(ROOT / "alerts" / "rules.yaml")
    big, redrawn = generated(real, args.rules, vocabulary(docs), args.seed, docs)
    if args.keywords:
        real = RuleSet([r.spec for r in real.rules], hyperscan=False)
        big = RuleSet([r.spec for r in big.rules], hyperscan=False)
    report = {
        "texts": {"en": len(en), "fr": len(fr)},
        "megabytes": round(sum(len(t.encode()) + len(x.encode()) for t, x, _ in docs) / 1e6, 3),
        "real_rules": measure(real, docs, args.repeat, args.reference_repeat),
        "generated_rules": measure(big, docs, args.repeat, args.reference_repeat)
        | {"variants_redrawn": redrawn},
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
