"""Article extraction: MediaWatch's extract stage against bare trafilatura modes on real pages.

    .venv/bin/python bench/extract.py [--repeat 5] [--process-runs 5] [--data ../shared/data/extraction]

Quality: the article-extraction benchmark's own metric on ``shared/data/extraction`` (4-word
shingles of ``\\w+`` tokens; per page, true/false positives and negatives normalised to sum to 1;
precision and recall averaged over pages; F1 of those averages) for MediaWatch's ``extract_html``
called as the pipeline calls it (page bytes and URL) and for bare ``trafilatura.extract`` with its
default mode, ``favor_precision=True`` and ``fast=True`` (comments off, as the benchmark's own
trafilatura runner has it).

Speed, in process: pages per second of each, interleaved, median over ``--repeat`` runs.
Speed, whole process: ``mediawatch extract FILE... --format jsonl`` against a Python process that
runs bare trafilatura ``fast=True`` on the same ``.html.gz`` files and writes the same kind of
JSON lines; medians over ``--process-runs`` alternated runs. Both start from nothing, so imports
count: the figure says whether the command imports more than extraction needs. A third process,
``extract_stage_only``, runs ``pipeline.extract.extract_file`` without the CLI: the gap between it
and the command is what the command's own imports cost.

Imports: ``python -X importtime`` on one run of each command; the top-level packages the command
loads that bare trafilatura does not, with their cumulative import time, and whether any package
that the extract command must not need (classifier stack, database, web) was loaded.

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import trafilatura  # noqa: E402

from pipeline.extract import extract_html  # noqa: E402

DATA = ROOT.parent / "shared/data/extraction"
TOKEN = re.compile(r"\w+")
SPEED_TARGET = 0.9  # MediaWatch's speed over bare fast=True
FORBIDDEN = (
    "sklearn",
    "skops",
    "scipy",
    "sqlalchemy",
    "alembic",
    "fastapi",
    "starlette",
    "uvicorn",
    "celery",
)
FORBIDDEN_OURS = (
    "pipeline.classify",
    "pipeline.score",
    "pipeline.store",
    "pipeline.orchestrate",
    "pipeline.web",
)
BARE_SCRIPT = """
import gzip, json, sys
import trafilatura
with open(sys.argv[1], "w") as out:
    for name in sys.argv[2:]:
        raw = open(name, "rb").read()
        if name.endswith(".gz"):
            raw = gzip.decompress(raw)
        text = trafilatura.extract(raw, fast=True, include_comments=False)
        out.write(json.dumps({"source": name, "text": text}, ensure_ascii=False) + "\\n")
"""
STAGE_SCRIPT = """
import json, sys
from pathlib import Path
from pipeline.extract import extract_file
with open(sys.argv[1], "w") as out:
    for name in sys.argv[2:]:
        d = extract_file(Path(name))
        row = {"source": d.source, "title": d.title, "text": d.text, "published": d.published,
               "language": d.language, "authors": d.authors}
        out.write(json.dumps(row, ensure_ascii=False) + "\\n")
"""

Extractor = Callable[[bytes, str], str]


def bare(fast: bool = False, favor_precision: bool = False) -> Extractor:
    def run(raw: bytes, url: str) -> str:
        text = trafilatura.extract(raw, fast=fast, favor_precision=favor_precision, include_comments=False)
        return text or ""

    return run


def mediawatch(raw: bytes, url: str) -> str:
    return extract_html(raw, source=url, url=url).text  # as pipeline.orchestrate calls it


CONTENDERS: dict[str, Extractor] = {
    "mediawatch": mediawatch,
    "trafilatura_default": bare(),
    "trafilatura_favor_precision": bare(favor_precision=True),
    "trafilatura_fast": bare(fast=True),
}


# ------------------------------------------------------------------ the benchmark's metric


def shingles(text: str) -> Counter[tuple[str, ...]]:
    tokens = TOKEN.findall(text)
    return Counter(tuple(tokens[i : i + 4]) for i in range(max(1, len(tokens) - 3)) if tokens[i : i + 4])


def page_counts(truth: str, predicted: str) -> tuple[float, float, float]:
    """True positives, false positives, false negatives over shingles, normalised to sum to 1."""
    true, pred = shingles(truth), shingles(predicted)
    tp = sum((true & pred).values())
    fp = sum((pred - true).values())
    fn = sum((true - pred).values())
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def ratio(hit: float, miss: float, other_miss: float) -> float:
    if miss == other_miss == 0:
        return 1.0
    return hit / (hit + miss) if hit + miss else 0.0


def quality(truths: list[str], predictions: list[str]) -> dict[str, float]:
    counts = [page_counts(t, p) for t, p in zip(truths, predictions, strict=True)]
    precision = statistics.mean(ratio(tp, fp, fn) for tp, fp, fn in counts if tp + fp > 0)
    recall = statistics.mean(ratio(tp, fn, fp) for tp, fp, fn in counts if tp + fn > 0)
    f1 = 2 * precision * recall / (precision + recall)
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4), "_f1": f1}


# ------------------------------------------------------------------ in-process speed


def in_process(pages: list[tuple[bytes, str]], repeat: int) -> dict[str, float]:
    """Pages per second of each contender: runs interleaved, median over the repeats."""
    runs: dict[str, list[float]] = {name: [] for name in CONTENDERS}
    for _ in range(repeat):
        for name, run in CONTENDERS.items():
            start = time.perf_counter()
            for raw, url in pages:
                run(raw, url)
            runs[name].append(time.perf_counter() - start)
    return {name: len(pages) / statistics.median(times) for name, times in runs.items()}


# ------------------------------------------------------------------ whole processes


def commands(files: list[Path], out: Path) -> dict[str, list[str]]:
    script = Path(sys.executable).with_name("mediawatch")
    ours = (
        [str(script)] if script.exists() else [sys.executable, "-c", "from pipeline.cli import main; main()"]
    )
    names = [str(f) for f in files]
    return {
        "mediawatch_extract": [*ours, "extract", *names, "--format", "jsonl", "-o", str(out)],
        "extract_stage_only": [sys.executable, "-c", STAGE_SCRIPT, str(out), *names],
        "bare_trafilatura_fast": [sys.executable, "-c", BARE_SCRIPT, str(out), *names],
    }


def whole_process(files: list[Path], runs: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        cmds = commands(files, Path(tmp) / "out.jsonl")
        times: dict[str, list[float]] = {name: [] for name in cmds}
        for _ in range(runs):
            for name, cmd in cmds.items():
                start = time.perf_counter()
                subprocess.run(
                    cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
                times[name].append(time.perf_counter() - start)
        imports = {name: imported(cmd) for name, cmd in cmds.items()}
    median = {name: statistics.median(t) for name, t in times.items()}
    ref = median["bare_trafilatura_fast"]
    return {
        "runs": runs,
        "seconds": {name: round(m, 3) for name, m in median.items()},
        "speed_ratio_to_fast": {name: round(ref / m, 3) for name, m in median.items() if m != ref},
        "imports": import_report(imports["mediawatch_extract"], imports["bare_trafilatura_fast"]),
    }


def imported(cmd: list[str]) -> dict[str, tuple[int, int]]:
    """Module -> (cumulative import time in µs, nesting depth) for one run under ``-X importtime``."""
    if cmd[0] != sys.executable:
        cmd = [sys.executable, *cmd]
    cmd = [cmd[0], "-X", "importtime", *cmd[1:]]
    result = subprocess.run(cmd, check=True, cwd=ROOT, capture_output=True, text=True)
    modules: dict[str, tuple[int, int]] = {}
    for line in result.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            name = parts[2].rstrip()
            modules[name.strip()] = (int(parts[1]), (len(name) - len(name.lstrip()) - 1) // 2)
    return modules


def import_report(ours: dict[str, tuple[int, int]], ref: dict[str, tuple[int, int]]) -> dict[str, object]:
    """What the command imports that bare trafilatura does not (ms, cumulative), and anything forbidden."""
    extra = {
        m: round(c / 1000, 1)
        for m, (c, _depth) in ours.items()
        if "." not in m and m not in ref and (m == "pipeline" or not m.startswith("_"))
    }
    ours_modules = {m: round(c / 1000, 1) for m, (c, _depth) in ours.items() if m.startswith("pipeline.")}
    forbidden = sorted(
        m for m in ours if m.split(".")[0] in FORBIDDEN or m.startswith(FORBIDDEN_OURS) or "classif" in m
    )
    return {
        "startup_imports_ms": {
            "mediawatch_extract": round(sum(c for c, d in ours.values() if d == 0) / 1000, 1),
            "bare_trafilatura_fast": round(sum(c for c, d in ref.values() if d == 0) / 1000, 1),
        },
        "packages_not_in_bare_ms": dict(sorted(extra.items(), key=lambda kv: -kv[1])[:12]),
        "pipeline_modules_ms": dict(sorted(ours_modules.items(), key=lambda kv: -kv[1])[:8]),
        "forbidden_loaded": forbidden,
    }


# ------------------------------------------------------------------ main


def load(data: Path) -> tuple[list[Path], list[tuple[bytes, str]], list[str]]:
    truth = json.loads((data / "ground-truth.json").read_text(encoding="utf-8"))
    files = [data / "html" / f"{key}.html.gz" for key in sorted(truth)]
    pages = [
        (gzip.decompress(f.read_bytes()), truth[key]["url"])
        for f, key in zip(files, sorted(truth), strict=True)
    ]
    return files, pages, [truth[key].get("articleBody") or "" for key in sorted(truth)]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5, help="in-process timing runs (median)")
    parser.add_argument("--process-runs", type=int, default=5, help="whole-process timing runs (median)")
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)  # "discarding data" on pages without text
    files, pages, truths = load(args.data)

    scores = {
        name: quality(truths, [run(raw, url) for raw, url in pages]) for name, run in CONTENDERS.items()
    }
    docs = [extract_html(raw, source=url, url=url) for raw, url in pages]
    speed = in_process(pages, args.repeat)
    process = whole_process(files, args.process_runs)

    best = max((n for n in scores if n != "mediawatch"), key=lambda n: scores[n]["_f1"])
    ours_vs_fast = speed["mediawatch"] / speed["trafilatura_fast"]
    imports, ratios = process["imports"], process["speed_ratio_to_fast"]
    assert isinstance(imports, dict) and isinstance(ratios, dict)
    command_ratio = ratios["mediawatch_extract"]
    result = {
        "pages": len(pages),
        "repeat": args.repeat,
        "quality": {name: {k: v for k, v in s.items() if k != "_f1"} for name, s in scores.items()},
        "pages_per_second": {name: round(v, 1) for name, v in speed.items()},
        "in_process_speed_ratio_to_fast": round(ours_vs_fast, 3),
        "whole_process": process,
        "mediawatch_statuses": dict(Counter(d.status for d in docs)),
        "mediawatch_languages": dict(Counter(str(d.language) for d in docs)),
        "best_trafilatura_mode": best,
        "meets_target": {
            "f1_at_least_best_trafilatura_mode": scores["mediawatch"]["_f1"] >= scores[best]["_f1"],
            "in_process_speed_at_least_0_9_of_fast": ours_vs_fast >= SPEED_TARGET,
            "whole_process_speed_at_least_0_9_of_fast": command_ratio >= SPEED_TARGET,
            "extract_command_imports_no_classifier_db_or_web": not imports["forbidden_loaded"],
        },
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
