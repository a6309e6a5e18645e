"""Article extraction: MediaWatch's extract stage against bare trafilatura modes on real pages.

    .venv/bin/python bench/extract.py [--repeat 5] [--process-runs 5] [--data ../shared/data/extraction]

Quality: the article-extraction benchmark's own metric on ``shared/data/extraction`` (4-word
shingles of ``\\w+`` tokens; per page, true/false positives and negatives normalised to sum to 1;
precision and recall averaged over pages; F1 of those averages) for MediaWatch's ``extract_html``
called as the pipeline calls it (page bytes and URL) and for bare ``trafilatura.extract`` with its
default mode, ``favor_precision=True`` and ``fast=True`` (comments off, as the benchmark's own
trafilatura runner has it).

Speed, in process: pages per second of each, from wall time and from CPU time, the contenders
taking turns page by page; medians over ``--repeat`` runs.
Speed, whole process: ``mediawatch extract FILE... --format jsonl`` against a Python process that
runs bare trafilatura ``fast=True`` on the same ``.html.gz`` files and writes the same kind of
JSON lines; medians over ``--process-runs`` alternated runs, of wall time and of CPU time (user +
system, less disturbed by other work on the machine). Both start from nothing, so imports count:
the figure says whether the command imports more than extraction needs. The command runs from a
copy of ``pipeline/`` with its bytecode compiled, as an installed package runs (trafilatura's is
compiled in site-packages); ``mediawatch_extract_no_bytecode`` runs it from a copy without
bytecode under ``PYTHONDONTWRITEBYTECODE=1`` (how a checkout runs when nothing may write
``__pycache__``), so every run compiles our modules. A third process, ``extract_stage_only``,
runs ``pipeline.extract.extract_file`` without the CLI: the gap between it and the command is
what the command's own imports cost.

Imports: ``python -X importtime`` on one run of each command; the top-level packages the command
loads that bare trafilatura does not, with their cumulative import time, and whether any package
that the extract command must not need (classifier stack, database, web) was loaded.

Body selectors (``body_selector_strategies``): how to extract an article from the element an
outlet's body selector names, measured on the dev pages where a common article-body selector
(``[itemprop=articleBody]``, ``.article-body``, ``.entry-content``, ``article``...) matches:
generic extraction of the whole page, trafilatura on the selected elements (what
``extract_html`` does with ``Selectors(body=...)``), and the selected elements' paragraphs taken
directly; F1 and pages per second of each.

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import compileall
import gzip
import json
import logging
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import trafilatura  # noqa: E402

from pipeline import extract as mw_extract  # noqa: E402
from pipeline.extract import extract_html  # noqa: E402
from pipeline.records import Selectors  # noqa: E402

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


def in_process(pages: list[tuple[bytes, str]], repeat: int) -> dict[str, dict[str, float]]:
    """Pages per second of each contender, from wall time and from CPU time; median over the repeats.

    The contenders take turns page by page, so a burst of other work on the machine slows them
    all alike; CPU time (``time.process_time``) is hardly affected by such bursts at all.
    """
    wall: dict[str, list[float]] = {name: [] for name in CONTENDERS}
    cpu: dict[str, list[float]] = {name: [] for name in CONTENDERS}
    for _ in range(repeat):
        spent = {name: [0.0, 0.0] for name in CONTENDERS}
        for raw, url in pages:
            for name, run in CONTENDERS.items():
                start, start_cpu = time.perf_counter(), time.process_time()
                run(raw, url)
                spent[name][0] += time.perf_counter() - start
                spent[name][1] += time.process_time() - start_cpu
        for name, (wall_s, cpu_s) in spent.items():
            wall[name].append(wall_s)
            cpu[name].append(cpu_s)
    return {
        "wall": {name: len(pages) / statistics.median(t) for name, t in wall.items()},
        "cpu": {name: len(pages) / statistics.median(t) for name, t in cpu.items()},
    }


# ------------------------------------------------------------------ whole processes


def commands(files: list[Path], out: Path) -> dict[str, list[str]]:
    script = Path(sys.executable).with_name("mediawatch")
    ours = (
        [str(script)] if script.exists() else [sys.executable, "-c", "from pipeline.cli import main; main()"]
    )
    names = [str(f.resolve()) for f in files]
    return {
        "mediawatch_extract": [*ours, "extract", *names, "--format", "jsonl", "-o", str(out)],
        "mediawatch_extract_no_bytecode": [*ours, "extract", *names, "--format", "jsonl", "-o", str(out)],
        "extract_stage_only": [sys.executable, "-c", STAGE_SCRIPT, str(out), *names],
        "bare_trafilatura_fast": [sys.executable, "-c", BARE_SCRIPT, str(out), *names],
    }


def package_copies(tmp: Path) -> dict[str, dict[str, str]]:
    """Each command's environment: ``pipeline/`` copied with compiled bytecode, or without any."""
    compiled, source = tmp / "compiled", tmp / "source"
    for where in (compiled, source):
        shutil.copytree(ROOT / "pipeline", where / "pipeline", ignore=shutil.ignore_patterns("__pycache__"))
    compileall.compile_dir(compiled / "pipeline", quiet=1)
    base = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}  # every run starts from the same files
    with_bytecode = {**base, "PYTHONPATH": str(compiled)}
    return {
        "mediawatch_extract": with_bytecode,
        "mediawatch_extract_no_bytecode": {**base, "PYTHONPATH": str(source)},
        "extract_stage_only": with_bytecode,
        "bare_trafilatura_fast": base,
    }


def whole_process(files: list[Path], runs: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        cmds = commands(files, Path(tmp) / "out.jsonl")
        envs = package_copies(Path(tmp))
        wall: dict[str, list[float]] = {name: [] for name in cmds}
        cpu: dict[str, list[float]] = {name: [] for name in cmds}
        for _ in range(runs):
            for name, cmd in cmds.items():
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                start = time.perf_counter()
                subprocess.run(
                    cmd,
                    check=True,
                    cwd=tmp,  # not ROOT: "python -c" would import pipeline/ from the working directory
                    env=envs[name],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                wall[name].append(time.perf_counter() - start)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu[name].append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        imports = {name: imported(cmd, envs[name], Path(tmp)) for name, cmd in cmds.items()}
    seconds = {name: statistics.median(t) for name, t in wall.items()}
    cpu_seconds = {name: statistics.median(t) for name, t in cpu.items()}
    ref, cpu_ref = seconds["bare_trafilatura_fast"], cpu_seconds["bare_trafilatura_fast"]
    return {
        "runs": runs,
        "seconds": {name: round(m, 3) for name, m in seconds.items()},
        "speed_ratio_to_fast": {name: round(ref / m, 3) for name, m in seconds.items() if m != ref},
        "cpu_seconds": {name: round(m, 3) for name, m in cpu_seconds.items()},
        "cpu_speed_ratio_to_fast": {
            name: round(cpu_ref / m, 3) for name, m in cpu_seconds.items() if name != "bare_trafilatura_fast"
        },
        "imports": import_report(imports["mediawatch_extract"], imports["bare_trafilatura_fast"]),
    }


def imported(cmd: list[str], env: dict[str, str], cwd: Path) -> dict[str, tuple[int, int]]:
    """Module -> (cumulative import time in µs, nesting depth) for one run under ``-X importtime``."""
    if cmd[0] != sys.executable:
        cmd = [sys.executable, *cmd]
    cmd = [cmd[0], "-X", "importtime", *cmd[1:]]
    result = subprocess.run(cmd, check=True, cwd=cwd, env=env, capture_output=True, text=True)
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


# ------------------------------------------------------------------ body selectors

COMMON_BODY_SELECTORS = (  # conventions, most specific first; no site-specific class names
    '[itemprop="articleBody"]',
    ".article-body",
    ".article__body",
    ".articleBody",
    ".story-body",
    ".story__body",
    ".entry-content",
    ".post-content",
    ".article-content",
    ".body-content",
    "#article-body",
    "article",
)
_LEAF_BLOCKS = frozenset(
    ("p", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre", "dd", "dt", "td", "th")
)
_SKIP = frozenset(("script", "style", "noscript", "template", "svg", "button", "form", "select", "iframe"))


def common_body_selector(raw: bytes) -> str | None:
    """The first common selector whose matches hold 30+ words on this page."""
    tree = mw_extract._parse(mw_extract._to_text(raw))
    for selector in COMMON_BODY_SELECTORS:
        found = mw_extract._outermost(mw_extract._css(selector)(tree))
        if sum(len(el.text_content().split()) for el in found) >= mw_extract.MIN_WORDS:
            return selector
    return None


def paragraphs(elements: list[Any], french: bool) -> str:
    """The alternative to trafilatura on the selection: its paragraphs, headings, items and quotes."""

    def lines(element: Any) -> Iterator[str]:
        for child in element.iterchildren():
            tag = child.tag if isinstance(child.tag, str) else ""
            if tag in _SKIP:
                continue
            if tag in _LEAF_BLOCKS and not any(d.tag in _LEAF_BLOCKS for d in child.iterdescendants()):
                line = " ".join(child.text_content().split())
                if line:
                    yield line
            else:
                yield from lines(child)

    return "\n".join(line for element in elements for line in lines(element))


def body_selector_strategies(pages: list[tuple[bytes, str]], truths: list[str]) -> dict[str, object]:
    chosen = [
        (raw, url, truth, common_body_selector(raw)) for (raw, url), truth in zip(pages, truths, strict=True)
    ]
    cases = [(raw, url, truth, sel) for raw, url, truth, sel in chosen if sel is not None]

    def generic(raw: bytes, url: str, sel: str) -> str:
        return extract_html(raw, source=url, url=url).text

    def selected(raw: bytes, url: str, sel: str) -> str:
        return extract_html(raw, source=url, url=url, selectors=Selectors(body=sel)).text

    def selected_paragraphs(raw: bytes, url: str, sel: str) -> str:
        with mock.patch.object(mw_extract, "_body_text", paragraphs):
            return selected(raw, url, sel)

    strategies = {
        "generic_whole_page": generic,
        "trafilatura_on_selection": selected,
        "paragraphs_of_selection": selected_paragraphs,
    }
    result: dict[str, object] = {
        "pages": len(cases),
        "selectors_used": dict(Counter(sel for *_, sel in cases).most_common()),
    }
    for name, run in strategies.items():
        start = time.perf_counter()
        texts = [run(raw, url, sel) for raw, url, _truth, sel in cases]
        speed = len(cases) / (time.perf_counter() - start)
        score = quality([truth for _raw, _url, truth, _sel in cases], texts)
        result[name] = {k: v for k, v in score.items() if k != "_f1"} | {"pages_per_second": round(speed, 1)}
    return result


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
    strategies = body_selector_strategies(pages, truths)

    best = max((n for n in scores if n != "mediawatch"), key=lambda n: scores[n]["_f1"])
    ours_vs_fast = speed["wall"]["mediawatch"] / speed["wall"]["trafilatura_fast"]
    ours_vs_fast_cpu = speed["cpu"]["mediawatch"] / speed["cpu"]["trafilatura_fast"]
    imports, ratios, cpu_ratios = (
        process["imports"],
        process["speed_ratio_to_fast"],
        process["cpu_speed_ratio_to_fast"],
    )
    assert isinstance(imports, dict) and isinstance(ratios, dict) and isinstance(cpu_ratios, dict)
    command_ratio = ratios["mediawatch_extract"]
    result = {
        "pages": len(pages),
        "repeat": args.repeat,
        "quality": {name: {k: v for k, v in s.items() if k != "_f1"} for name, s in scores.items()},
        "pages_per_second": {name: round(v, 1) for name, v in speed["wall"].items()},
        "pages_per_cpu_second": {name: round(v, 1) for name, v in speed["cpu"].items()},
        "in_process_speed_ratio_to_fast": round(ours_vs_fast, 3),
        "in_process_cpu_speed_ratio_to_fast": round(ours_vs_fast_cpu, 3),
        "whole_process": process,
        "mediawatch_statuses": dict(Counter(d.status for d in docs)),
        "mediawatch_languages": dict(Counter(str(d.language) for d in docs)),
        "body_selector_strategies": strategies,
        "best_trafilatura_mode": best,
        "meets_target": {
            "f1_at_least_best_trafilatura_mode": scores["mediawatch"]["_f1"] >= scores[best]["_f1"],
            "in_process_speed_at_least_0_9_of_fast": ours_vs_fast >= SPEED_TARGET,
            "in_process_cpu_at_least_0_9_of_fast": ours_vs_fast_cpu >= SPEED_TARGET,
            "whole_process_speed_at_least_0_9_of_fast": command_ratio >= SPEED_TARGET,
            "whole_process_cpu_at_least_0_9_of_fast": cpu_ratios["mediawatch_extract"] >= SPEED_TARGET,
            "whole_process_without_bytecode_at_least_0_9_of_fast": (
                ratios["mediawatch_extract_no_bytecode"] >= SPEED_TARGET
            ),
            "extract_command_imports_no_classifier_db_or_web": not imports["forbidden_loaded"],
        },
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
