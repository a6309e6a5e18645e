"""Scoring throughput and memory: the `score` stage on ~800-word articles, on one core.

    .venv/bin/python bench/score.py [--articles 400] [--repeat 3] [--data ../shared/data]

Articles: half general news (the 91 real article bodies of ``shared/data/extraction``), half
conflict coverage dense in casualty sentences (the sentences of one Toronto Star / National Post
article from ``shared/data/breach-star-post``, then sentences of others), each cut or extended to
800 words. Texts are read at run time; none is stored.

Figures (one JSON object):

* ``in_process``: articles per CPU-second through ``Scorer.score_many`` in batches of 100 (as the
  pipeline calls it), with numpy/BLAS held to one thread; the time split into classifier, rules,
  casualty analysis and the rest; medians over ``--repeat`` runs. Reference in the same run: the
  classifier alone on the same documents (``classifier_share`` = its time ÷ the whole).
* ``command``: ``mediawatch score --input IN.jsonl --output OUT.jsonl`` as a whole process pinned
  to one core (``taskset -c 0`` when available), start-up included: articles per CPU-second and
  per wall-second.
* ``memory``: peak RSS of a process that loads the shipped models and scores 100 articles.
* Targets: >= 300 articles/s on one core; <= 300 MB with the models loaded.
* With ``--all``: the rules engine with 500 rules (``bench/rules.py --quick``) and the casualty
  model's held-out quality (``bench/casualty.py``), run as their own processes and nested here,
  so one command prints every figure of the scoring issue.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WORDS = 800
TARGET_PER_SECOND = 300
TARGET_MB = 300


def general_articles(data: Path) -> list[tuple[str, str]]:
    truth = json.loads((data / "extraction" / "ground-truth.json").read_text())
    bodies = [v["articleBody"] for _k, v in sorted(truth.items()) if v["articleBody"].strip()]
    out = []
    for i, body in enumerate(bodies):
        words = body.split()
        j = i
        while len(words) < WORDS:  # extend short articles with the next ones
            j = (j + 1) % len(bodies)
            words += bodies[j].split()
        out.append((" ".join(words[:8]), " ".join(words[:WORDS])))
    return out


def conflict_articles(data: Path, rng: random.Random) -> list[tuple[str, str]]:
    by_url: dict[str, list[str]] = defaultdict(list)
    titles: dict[str, str] = {}
    for name in ("star_sentences.csv", "post_sentences.csv"):
        with (data / "breach-star-post" / name).open(encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                by_url[row["url"]].append(row["sentence"].strip())
                titles[row["url"]] = row["title"]
    pool = [s for sents in by_url.values() for s in sents]
    out = []
    for url, sents in by_url.items():
        words = " ".join(sents).split()
        while len(words) < WORDS:
            words += rng.choice(pool).split()
        out.append((titles[url], " ".join(words[:WORDS])))
    return out


def corpus(data: Path, n: int, seed: int = 13) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    general, conflict = general_articles(data), conflict_articles(data, rng)
    half = n // 2
    picked = [general[i % len(general)] for i in range(half)]
    picked += rng.sample(conflict, min(n - half, len(conflict)))
    rng.shuffle(picked)
    return picked


def in_process(docs: list[tuple[str, str]], repeat: int) -> dict[str, Any]:
    from threadpoolctl import threadpool_limits

    from pipeline import score as score_mod
    from pipeline.records import ScoreInput
    from pipeline.score import build_scorer
    from pipeline.settings import Settings

    threadpool_limits(1)
    scorer = build_scorer(Settings(_env_file=None))  # type: ignore[call-arg]
    items = [ScoreInput(str(i), t, x, language="en") for i, (t, x) in enumerate(docs)]
    timed: dict[str, float] = defaultdict(float)

    def wrap(owner: Any, name: str, key: str) -> None:
        original = getattr(owner, name)

        def timed_call(*args: Any, **kwargs: Any) -> Any:
            t0 = time.process_time()
            try:
                return original(*args, **kwargs)
            finally:
                timed[key] += time.process_time() - t0

        setattr(owner, name, timed_call)

    scorer.score_many(items[:20])  # warm caches and lazy loads
    runs, parts = [], []
    for _ in range(repeat):
        timed.clear()
        t0 = time.process_time()
        for k in range(0, len(items), 100):
            scorer.score_many(items[k : k + 100])
        runs.append(time.process_time() - t0)
        parts.append(dict(timed))
        if not timed:  # first run unsplit; later runs split the time by stage
            wrap(scorer.classifier, "predict", "classifier")
            wrap(scorer.rules, "match", "rules")
            for name in ("casualty_sentences", "article_findings", "quotes", "sourcing_evidence"):
                if hasattr(score_mod, name):
                    wrap(score_mod, name, "casualty_and_sourcing")
    ref = []
    for _ in range(repeat):
        t0 = time.process_time()
        for k in range(0, len(items), 100):
            scorer.classifier.predict([f"{i.title}\n{i.text}" for i in items[k : k + 100]])
        ref.append(time.process_time() - t0)
    whole = statistics.median(runs)
    split = parts[-1] if len(parts) > 1 else {}
    total_split = runs[-1] if len(parts) > 1 else whole
    return {
        "articles": len(items),
        "cpu_seconds": round(whole, 3),
        "articles_per_cpu_second": round(len(items) / whole, 1),
        "classifier_alone_cpu_seconds": round(statistics.median(ref), 3),
        "classifier_share": round(statistics.median(ref) / whole, 3),
        "split_cpu_seconds": {k: round(v, 3) for k, v in split.items()}
        | {"other": round(total_split - sum(split.values()), 3)},
    }


def command(docs: list[tuple[str, str]]) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-score-"))
    try:
        inp, out = tmp / "in.jsonl", tmp / "out.jsonl"
        with inp.open("w", encoding="utf-8") as fh:
            for i, (title, text) in enumerate(docs):
                fh.write(json.dumps({"id": i, "title": title, "text": text, "language": "en"}) + "\n")
        cmd = [str(ROOT / ".venv/bin/mediawatch"), "score", "--input", str(inp), "--output", str(out)]
        if shutil.which("taskset"):
            cmd = ["taskset", "-c", "0", *cmd]
        before = os.times()
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, cwd=ROOT, env=os.environ | {"MEDIAWATCH_DATA_DIR": str(tmp)})
        wall = time.perf_counter() - t0
        after = os.times()
        cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
        lines = sum(1 for _ in out.open())
        assert lines == len(docs), f"score wrote {lines} lines for {len(docs)} articles"
        return {
            "articles": len(docs),
            "pinned_to_one_core": bool(shutil.which("taskset")),
            "wall_seconds": round(wall, 2),
            "cpu_seconds": round(cpu, 2),
            "articles_per_cpu_second": round(len(docs) / cpu, 1),
            "articles_per_wall_second": round(len(docs) / wall, 1),
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


MEMORY_PROBE = """
import json, resource, sys
sys.path.insert(0, {root!r})
from pipeline.score import build_scorer
from pipeline.records import ScoreInput
from pipeline.settings import Settings
docs = json.load(open({docs!r}))
scorer = build_scorer(Settings(_env_file=None))
scorer.score_many([ScoreInput(str(i), t, x, language="en") for i, (t, x) in enumerate(docs)])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def memory(docs: list[tuple[str, str]]) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(docs[:100], fh)
    try:
        probe = MEMORY_PROBE.format(root=str(ROOT), docs=fh.name)
        done = subprocess.run(
            [sys.executable, "-c", probe], check=True, capture_output=True, text=True, cwd=ROOT
        )
        mb = float(done.stdout.strip().splitlines()[-1])
    finally:
        os.unlink(fh.name)
    return {"peak_rss_mb": round(mb, 1), "target_mb": TARGET_MB, "meets_target": mb <= TARGET_MB}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--articles", type=int, default=400)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--all", action="store_true", help="also run bench/rules.py and bench/casualty.py")
    args = ap.parse_args()
    docs = corpus(args.data, args.articles)
    words = statistics.mean(len(t.split()) for _t, t in docs)
    result: dict[str, Any] = {"words_per_article": round(words)}
    result["in_process"] = in_process(docs, args.repeat)
    result["command"] = command(docs * 5)
    result["memory"] = memory(docs)
    rate = result["in_process"]["articles_per_cpu_second"]
    result["targets"] = {"articles_per_second_one_core": TARGET_PER_SECOND, "peak_rss_mb": TARGET_MB}
    result["meets_target"] = rate >= TARGET_PER_SECOND and result["memory"]["meets_target"]
    if args.all:
        for name, extra in (("rules", ["--quick"]), ("casualty", [])):
            done = subprocess.run(
                [sys.executable, str(ROOT / "bench" / f"{name}.py"), *extra],
                check=True,
                capture_output=True,
                text=True,
                cwd=ROOT,
            )
            result[name] = json.loads(done.stdout)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
