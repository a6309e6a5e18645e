"""End-to-end throughput on a replay corpus served locally: the embedded runner against Celery
with one and then two worker processes, and the whole pipeline's cost per article against bare
trafilatura extraction of the same pages, in the same run.

    .venv/bin/python bench/scale.py [--articles 10000] [--quick] [--modes bare,embedded,service,...]

The corpus (written to a temporary folder, never committed): ``--articles`` news pages (default
10,000; ``--quick`` 1,000) on 10 hosts (127.0.0.2-11, one outlet each, 5 RSS feeds per outlet),
served by a separate process. Each page wraps an article of 10-24 sentences drawn at random, for
one article in five, from the real Toronto Star and National Post war coverage in
``../shared/data/breach-star-post`` (so the casualty model, the rules, the sourcing analysis and
the letter drafts have real work) and otherwise from the general news of
``../shared/data/extraction``; no two texts are the same. The skeleton around the article is
about 45 KB: navigation, a sidebar of links, JSON-LD, an inline script and a footer.

Modes, each in fresh processes and a fresh database:

- ``bare``: ``trafilatura.extract`` of every page, read from disk, in one process: the reference.
- ``embedded``: ``mediawatch run --once``'s code (poll, fetch politely, extract, store the raw
  page, cluster, score, alert) on SQLite, cycles until every entry is done.
- ``service``: `mediawatch run`'s jobs (``pipeline.service.jobs``) on SQLite: one poll job, then
  process jobs of 500 entries (the default), each in chunks between two looks for SIGTERM, with
  the page workers kept from job to job, until every entry is done.
- ``celery1`` / ``celery2``: ``mediawatch worker --concurrency 1`` / ``2`` (processes) on a
  fresh PostgreSQL database and the machine's Redis (database 14, flushed), fed by this process
  calling ``enqueue_due`` (what ``mediawatch run`` does with ``MEDIAWATCH_REDIS_URL`` set) once,
  then every ``ENQUEUE_EVERY`` seconds for anything lost (a poll task sends its entries' fetch
  tasks and a fetch task its score task), until every entry is stored and scored (checked every
  second).

Figures: seconds, articles/s, and ``seconds_per_article`` for each mode; ``celery2 / celery1``
throughput (target >= 1.7); the embedded runner's seconds per article ÷ bare trafilatura's
(target <= 1.5). Per-host politeness is switched to zero delay for the run (the hosts are ours),
and robots.txt is still asked for.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATA = ROOT.parent / "shared" / "data" / "breach-star-post"
EXTRACTION = ROOT.parent / "shared" / "data" / "extraction"
SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"“])")
WAR_SHARE = 0.2  # articles about the war among all the outlets publish
EXE = str(Path(sys.executable).parent / "mediawatch")
HOSTS = [f"127.0.0.{i}" for i in range(2, 12)]
ENQUEUE_EVERY = 30.0  # seconds between enqueue_due calls in the Celery modes (the service: minutes)
FEEDS_PER_HOST = 5
PG = "postgresql+psycopg://root@127.0.0.1:5432"
REDIS = "redis://127.0.0.1:6379/14"
TARGET_SCALING, TARGET_RATIO = 1.7, 1.5


# -- corpus ------------------------------------------------------------------------------------


def _sentences() -> tuple[list[str], list[str], list[str], list[str]]:
    """Sentences and headlines of war coverage (Star, Post) and of general news (the extraction
    benchmark's ground truth)."""
    war: list[str] = []
    war_titles: set[str] = set()
    for name in ("star_sentences.csv", "post_sentences.csv"):
        with (DATA / name).open(encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                war.append(row["sentence"].strip())
                war_titles.add(row["title"].strip())
    truth = json.loads((EXTRACTION / "ground-truth.json").read_text(encoding="utf-8"))
    general = [s.strip() for v in truth.values() for s in SENTENCE.split(v["articleBody"]) if s.strip()]
    general_titles = [" ".join(v["articleBody"].split()[:9]) for v in truth.values()]  # no headlines
    return (
        [s for s in war if len(s.split()) >= 6],
        sorted(t for t in war_titles if t),
        [s for s in general if len(s.split()) >= 6],
        [t for t in general_titles if t],
    )


def _skeleton(rng: random.Random, words: list[str]) -> tuple[str, str]:
    """Boilerplate around the article: navigation, sidebar, script, footer (about 60 KB)."""
    nav = "".join(f'<li><a href="/section/{w}">{escape(w.title())}</a></li>' for w in rng.sample(words, 60))
    side = "".join(
        f'<li><a href="/a/related-{i}.html">{escape(" ".join(rng.sample(words, 8)))}</a></li>'
        for i in range(40)
    )
    script = "var cfg=" + json.dumps({f"k{i}": " ".join(rng.sample(words, 12)) for i in range(300)}) + ";"
    foot = "".join(f"<p>{escape(' '.join(rng.sample(words, 25)))}</p>" for _ in range(12))
    head = f'<header><nav><ul class="menu">{nav}</ul></nav></header><aside><ul>{side}</ul></aside>'
    return head, f"<script>{script}</script><footer>{foot}</footer>"


def write_corpus(root: Path, n: int, port: int, seed: int = 7) -> dict[str, Any]:
    """Pages, feeds and a feeds.yaml under *root*; returns what was written."""
    import yaml

    rng = random.Random(seed)
    war, war_titles, general, general_titles = _sentences()
    words = sorted({w for s in general[:3000] for w in s.split() if w.isalpha() and len(w) > 3})
    (root / "a").mkdir(parents=True)
    (root / "feeds").mkdir()
    now = datetime.now(UTC).replace(microsecond=0)
    items: dict[tuple[int, int], list[str]] = {}
    size = wars = 0
    for i in range(n):
        h, f = i % len(HOSTS), (i // len(HOSTS)) % FEEDS_PER_HOST
        about_war = rng.random() < WAR_SHARE
        sentences, titles = (war, war_titles) if about_war else (general, general_titles)
        wars += about_war
        title = f"{rng.choice(titles)} ({i})"
        body = "".join(f"<p>{escape(s)}</p>" for s in rng.sample(sentences, rng.randint(10, 24)))
        published = now - timedelta(minutes=i)
        head, tail = _skeleton(rng, words)
        ld = json.dumps({"@type": "NewsArticle", "headline": title, "datePublished": published.isoformat()})
        url = f"http://{HOSTS[h]}:{port}/a/{i}.html"
        page = (
            f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f'<link rel="canonical" href="{url}"><script type="application/ld+json">{ld}</script></head>'
            f'<body>{head}<main><article><h1>{escape(title)}</h1><p class="byline">By Staff</p>'
            f"{body}</article></main>{tail}</body></html>"
        )
        (root / "a" / f"{i}.html").write_text(page, encoding="utf-8")
        size += len(page)
        items.setdefault((h, f), []).append(
            f"<item><title>{escape(title)}</title><link>{url}</link><guid>{url}</guid>"
            f"<pubDate>{format_datetime(published)}</pubDate>"
            f"<description>{escape(sentences[0])}</description></item>"
        )
    template = yaml.safe_load((ROOT / "pipeline/demo/feeds.yaml").read_text(encoding="utf-8"))["outlets"][0]
    outlets = []
    for h, host in enumerate(HOSTS):
        sources = []
        for f in range(FEEDS_PER_HOST):
            name = f"{h}-{f}.xml"
            rss = "".join(items.get((h, f), []))
            (root / "feeds" / name).write_text(
                f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {name}</title>'
                f"<link>http://{host}:{port}/</link><description>bench</description>{rss}</channel></rss>",
                encoding="utf-8",
            )
            sources.append({"url": f"http://{host}:{port}/feeds/{name}", "type": "feed", "verified": True})
        outlet = {**template, "id": f"bench-{h}", "name": f"Bench Outlet {h}", "sources": sources}
        outlet.pop("notes", None)
        outlets.append(outlet)
    (root / "feeds.yaml").write_text(yaml.safe_dump({"outlets": outlets}, sort_keys=False), encoding="utf-8")
    return {
        "pages": n,
        "hosts": len(HOSTS),
        "feeds": len(HOSTS) * FEEDS_PER_HOST,
        "mean_page_kb": round(size / n / 1e3, 1),
    }


def serve(root: Path, port: int) -> None:
    """Serve *root* on every bench host (a separate process, so its CPU is its own), as
    publishers and their CDNs do: HTTP/1.1 with keep-alive, pages from memory. The demo server
    speaks HTTP/1.0 (a new connection for every request) and reads each file at every request,
    which cost it a quarter of a core here, taken from the pipeline on the same two cores."""
    from pipeline.demo.server import LocalSite, _Handler

    class Site(LocalSite):
        def __init__(self, root: Path, host: str, port: int) -> None:
            super().__init__(root, host=host, port=port)
            self.cache: dict[str, tuple[bytes, str] | None] = {}

        def body_for(self, path: str) -> tuple[bytes, str] | None:
            if path not in self.cache:
                self.cache[path] = super().body_for(path)
            return self.cache[path]

        def _handler(self) -> type[_Handler]:
            return type("Handler", (_Handler,), {"site": self, "protocol_version": "HTTP/1.1"})

    sites = [Site(root, host=h, port=port) for h in HOSTS]
    for s in sites:
        s.__enter__()
    print("ready", flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- modes -------------------------------------------------------------------------------------


def bare(root: Path) -> dict[str, Any]:
    import trafilatura

    pages = [p.read_bytes() for p in sorted((root / "a").iterdir())]
    t0, c0 = time.perf_counter(), time.process_time()
    for body in pages:
        trafilatura.extract(body)
    return {**_figures(len(pages), time.perf_counter() - t0), "cpu_main": round(time.process_time() - c0, 2)}


def _env(root: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAWATCH_")}
    env.update(
        MEDIAWATCH_FEEDS_FILE=str(root / "feeds.yaml"),
        MEDIAWATCH_ALLOW_PRIVATE_NETWORKS="true",
        MEDIAWATCH_PER_HOST_DELAY="0",
        MEDIAWATCH_PER_HOST_CONNECTIONS="4",
        MEDIAWATCH_MAX_ENTRIES_PER_CYCLE="100000",
        MEDIAWATCH_CONTACT="bench@example.org",
        MEDIAWATCH_REVISIT_SAMPLE="0",
        **extra,
    )
    return env


def embedded(root: Path, n: int) -> dict[str, Any]:
    """Cycles of the embedded runner in a child process until every entry is done."""
    data = root / "embedded"
    code = (
        "import json,time,sys,resource\n"
        "from pipeline.settings import load_settings\n"
        "from pipeline.store import Store\n"
        "from pipeline.orchestrate import build, run_cycle\n"
        "def cpu(who):\n"
        "    r=resource.getrusage(who); return r.ru_utime+r.ru_stime\n"
        "s=load_settings(); st=Store.open(s.db_url); p=build(s, st)\n"
        "c0=cpu(resource.RUSAGE_SELF); t=time.perf_counter(); cycles=0\n"
        "while True:\n"
        "    stats=run_cycle(p); cycles+=1\n"
        "    if not st.pending_entries(1): break\n"
        "print(json.dumps({'seconds': time.perf_counter()-t, 'cycles': cycles,\n"
        "    'cpu_main': cpu(resource.RUSAGE_SELF)-c0, 'cpu_workers': cpu(resource.RUSAGE_CHILDREN)}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=_env(root, MEDIAWATCH_DATA_DIR=str(data)),
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    out = json.loads(done.stdout.strip().splitlines()[-1])
    counts = _counts(f"sqlite:///{data / 'mediawatch.db'}")
    cpu = {k: round(out[k], 2) for k in ("cpu_main", "cpu_workers")}
    return {**_figures(counts["articles"], out["seconds"]), "cycles": out["cycles"], **cpu, **counts}


def service(root: Path, n: int) -> dict[str, Any]:
    """`mediawatch run`'s jobs in a child process: one poll job, then process jobs (500 entries
    each, the default, in chunks of 32) until every entry is done."""
    data = root / "service"
    code = (
        "import json,time,resource\n"
        "from pipeline.settings import load_settings\n"
        "from pipeline.store import Store\n"
        "from pipeline.service import jobs\n"
        "def cpu(who):\n"
        "    r=resource.getrusage(who); return r.ru_utime+r.ru_stime\n"
        "s=load_settings(); st=Store.open(s.db_url)\n"
        "ctx=jobs.Context(s, st); jobs.install(ctx); ctx.pipeline()\n"
        "c0=cpu(resource.RUSAGE_SELF); t=time.perf_counter(); runs=0\n"
        "jobs.poll()\n"
        "while st.pending_entries(1):\n"
        "    jobs.process(); runs+=1\n"
        "ctx.close()\n"
        "print(json.dumps({'seconds': time.perf_counter()-t, 'cycles': runs,\n"
        "    'cpu_main': cpu(resource.RUSAGE_SELF)-c0, 'cpu_workers': cpu(resource.RUSAGE_CHILDREN)}))\n"
    )
    env = {**_env(root, MEDIAWATCH_DATA_DIR=str(data)), "MEDIAWATCH_MAX_ENTRIES_PER_CYCLE": "500"}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True, cwd=ROOT
    )
    out = json.loads(done.stdout.strip().splitlines()[-1])
    counts = _counts(f"sqlite:///{data / 'mediawatch.db'}")
    cpu = {k: round(out[k], 2) for k in ("cpu_main", "cpu_workers")}
    return {**_figures(counts["articles"], out["seconds"]), "process_jobs": out["cycles"], **cpu, **counts}


def _counts(url: str) -> dict[str, int]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as c:
        out = {
            "articles": c.execute(text("SELECT count(*) FROM articles")).scalar_one(),
            "scored": c.execute(text("SELECT count(DISTINCT article_id) FROM scores")).scalar_one(),
            "entries": c.execute(text("SELECT count(*) FROM entries")).scalar_one(),
            "pending": c.execute(text("SELECT count(*) FROM entries WHERE status = 'new'")).scalar_one(),
            "alerts": c.execute(text("SELECT count(*) FROM alerts")).scalar_one(),
        }
    engine.dispose()
    return out


def celery(root: Path, n: int, workers: int) -> dict[str, Any]:
    """``mediawatch worker -c workers`` on a fresh PostgreSQL database, fed by enqueue_due."""
    import redis
    from sqlalchemy import create_engine, text

    name = f"mw_scale_{os.getpid()}_{workers}"
    admin = create_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = f"{PG}/{name}"
    redis.Redis.from_url(REDIS).flushdb()
    env = _env(
        root, MEDIAWATCH_DATABASE_URL=url, MEDIAWATCH_REDIS_URL=REDIS, MEDIAWATCH_DATA_DIR=str(root / name)
    )
    os.environ.update({k: v for k, v in env.items() if k.startswith("MEDIAWATCH_")})
    from pipeline.distributed import enqueue_due
    from pipeline.orchestrate import build
    from pipeline.settings import load_settings
    from pipeline.store import Store

    settings = load_settings()
    store = Store.open(url)
    build(settings, store)  # outlets and sources, as `mediawatch run` does at start
    log = (root / f"worker-{workers}.log").open("w")
    proc = subprocess.Popen(
        [
            EXE,
            "worker",
            "--concurrency",
            str(workers),
            "--loglevel",
            os.environ.get("BENCH_LOGLEVEL", "WARNING"),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
        start_new_session=True,
    )
    try:
        time.sleep(3)  # the worker connects and forks its processes before the clock starts
        t0 = last = time.perf_counter()
        enqueue_due(settings, datetime.now(UTC))
        while True:
            time.sleep(1.0)
            if time.perf_counter() - last >= ENQUEUE_EVERY:  # the tasks send their own next steps;
                enqueue_due(settings, datetime.now(UTC))  # this only picks up what was lost
                last = time.perf_counter()
            c = _counts(url)
            if c["entries"] >= n and c["pending"] == 0 and c["scored"] >= c["articles"]:
                break
            if time.perf_counter() - t0 > 3600:
                raise RuntimeError(f"celery{workers}: not done after an hour: {c}")
        seconds = time.perf_counter() - t0
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(60)
        log.close()
        store.close()
        for key in [k for k in os.environ if k.startswith("MEDIAWATCH_")]:
            del os.environ[key]
    counts = _counts(url)
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
    return {**_figures(counts["articles"], seconds), "workers": workers, **counts}


def _figures(n: int, seconds: float) -> dict[str, Any]:
    return {
        "articles": n,
        "seconds": round(seconds, 2),
        "articles_per_s": round(n / seconds, 1) if seconds else None,
        "seconds_per_article": round(seconds / n, 5) if n else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--articles", type=int, default=10_000)
    ap.add_argument("--quick", action="store_true", help="1,000 articles")
    ap.add_argument("--modes", default="bare,embedded,service,celery1,celery2")
    ap.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return
    n = 1000 if args.quick else args.articles
    modes = args.modes.split(",")
    work = Path(tempfile.mkdtemp(prefix="mw-bench-scale-"))
    port = _free_port()
    results: dict[str, Any] = {"corpus": write_corpus(work / "site", n, port)}
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(work / "site"), "--port", str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        for mode in modes:
            print(f"{mode} ...", file=sys.stderr)
            if mode == "bare":
                results[mode] = bare(work / "site")
            elif mode == "embedded":
                results[mode] = embedded(work / "site", n)
            elif mode == "service":
                results[mode] = service(work / "site", n)
            elif mode.startswith("celery"):
                results[mode] = celery(work / "site", n, int(mode[len("celery") :]))
            print(json.dumps(results[mode]), file=sys.stderr)
    finally:
        server.terminate()
        server.wait(10)
    if "celery1" in results and "celery2" in results:
        scaling = results["celery2"]["articles_per_s"] / results["celery1"]["articles_per_s"]
        results["celery2_over_celery1"] = round(scaling, 2)
        results["scaling_ok"] = scaling >= TARGET_SCALING
    if "bare" in results and "embedded" in results:
        ratio = results["embedded"]["seconds_per_article"] / results["bare"]["seconds_per_article"]
        results["embedded_over_bare_trafilatura"] = round(ratio, 2)
        results["ratio_ok"] = ratio <= TARGET_RATIO
    if "bare" in results and "service" in results:
        ratio = results["service"]["seconds_per_article"] / results["bare"]["seconds_per_article"]
        results["service_over_bare_trafilatura"] = round(ratio, 2)
    results["targets"] = {"celery2_over_celery1_min": TARGET_SCALING, "embedded_over_bare_max": TARGET_RATIO}
    results["cpu"] = os.cpu_count()
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
