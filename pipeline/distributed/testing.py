"""Real services and a generated site for the distributed-mode tests, fault tests and
``bench/scale.py``: a private redis-server, a private PostgreSQL cluster, worker processes, and
a news site of generated articles (distinct texts built from the demo site's sentences) with a
feeds file that points at it. Nothing here is used by MediaWatch itself."""

from __future__ import annotations

import contextlib
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape, unescape
from pathlib import Path
from typing import Any

import yaml

from ..demo import DEMO_FEEDS
from ..demo.server import SITE, LocalSite
from ..settings import Settings

PG_BIN = Path("/usr/lib/postgresql/15/bin")
OUTLETS = ("maple-ledger", "lakeshore-daily", "prairie-broadcast", "courrier-du-fleuve")
WORDS = re.compile(r"<p>(.*?)</p>", re.S)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: Callable[[], bool], timeout: float, what: str, every: float = 0.25) -> None:
    """Poll *check* until it is true; fail naming *what* after *timeout* seconds (a guard
    against hanging, not a speed assertion)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:  # the service may be restarting
            pass
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")


class RedisServer:
    """A private redis-server on a free port, nothing on disk (like the machine's)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self._up, 20, f"redis-server on port {self.port}")
        return self

    def _up(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


class PostgresCluster:
    """A private PostgreSQL cluster (initdb + pg_ctl as the postgres user) in a temp dir."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="mw-pg-"))
        shutil.chown(self.dir, "postgres")
        self.data = self.dir / "data"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _pg(self, *args: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *args], check=True, stdout=subprocess.DEVNULL, cwd=self.dir
        )

    def init(self) -> PostgresCluster:
        self._pg(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        return self.start()

    def start(self) -> PostgresCluster:
        opts = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.dir} -c fsync=off"
        )
        self._pg(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            opts,
            "-l",
            str(self.dir / "log"),
            "-w",
            "start",
        )
        return self

    def stop(self) -> None:
        self._pg(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@dataclass
class Process:
    """A MediaWatch process in its own session (so kill -9 takes its children too)."""

    argv: list[str]
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        out = self.log.open("ab")
        self.proc = subprocess.Popen(self.argv, env=self.env, stdout=out, stderr=out, start_new_session=True)
        return self

    def kill9(self) -> None:
        """SIGKILL the process and everything it started."""
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)
            self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.proc = None


@dataclass
class Deployment:
    """A generated site, its database and settings for one test, and the processes it started."""

    tmp: Path
    site: LocalSite
    corpus: Corpus
    conf: dict[str, str]
    procs: list[Process] = field(default_factory=list)

    @property
    def settings(self) -> Settings:
        return Settings(_env_file=None, **self.conf)  # type: ignore[call-arg, arg-type]

    @property
    def db_url(self) -> str:
        return self.settings.db_url

    def stop(self) -> None:
        for p in self.procs:
            p.stop()


def worker_process(
    env: dict[str, str], log: Path, concurrency: int = 2, queues: str | None = None, loglevel: str = "WARNING"
) -> Process:
    argv = [
        sys.executable,
        "-m",
        "pipeline",
        "worker",
        "--concurrency",
        str(concurrency),
        "--loglevel",
        loglevel,
    ]
    if queues:
        argv += ["--queues", queues]
    return Process(argv, env, log)


SCHEDULER_LOOP = """
import sys, time
from datetime import UTC, datetime
from pipeline.distributed import enqueue_due
from pipeline.settings import load_settings
settings = load_settings()
while True:
    try:
        print(enqueue_due(settings, datetime.now(UTC)), flush=True)
    except Exception as exc:  # Redis or the database away: try again next round
        print("enqueue failed:", type(exc).__name__, exc, flush=True)
    time.sleep(float(sys.argv[1]))
"""


TASK_LINE = re.compile(r"Task (mediawatch\.\w+\[[0-9a-f-]+\]) (received|succeeded|failed|retry|raised)")


def tasks_in_hand(log: Path) -> set[str]:
    """Tasks a worker logged (at INFO) as received and never as finished: what it held when it
    died."""
    held: set[str] = set()
    for task, what in TASK_LINE.findall(log.read_text(errors="replace")):
        if what == "received":
            held.add(task)
        else:
            held.discard(task)
    return held


def scheduler_process(env: dict[str, str], log: Path, every: float = 1.0) -> Process:
    """A minimal scheduler: ``enqueue_due`` every *every* seconds (what ``mediawatch run`` does
    each cycle in distributed mode)."""
    return Process([sys.executable, "-c", SCHEDULER_LOOP, str(every)], env, log)


def base_env(settings: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAWATCH_")}
    env.update({f"MEDIAWATCH_{k.upper()}": v for k, v in settings.items()})
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    return env


@dataclass
class Corpus:
    root: Path
    feeds: list[str] = field(default_factory=list)  # site paths
    articles: list[str] = field(default_factory=list)

    def feeds_yaml(self, base_url: str, out: Path, extra: dict[str, list[str]] | None = None) -> Path:
        """The demo outlets with their sources replaced by the generated feeds (plus *extra*
        feed URLs per outlet id)."""
        config = yaml.safe_load(DEMO_FEEDS.read_text(encoding="utf-8"))
        by_outlet: dict[str, list[str]] = {}
        for path in self.feeds:
            by_outlet.setdefault(path.split("/")[1], []).append(f"{base_url}{path}")
        for outlet in config["outlets"]:
            urls = by_outlet.get(outlet["id"], []) + (extra or {}).get(outlet["id"], [])
            outlet["enabled"] = bool(urls)
            outlet["sources"] = [
                {"url": u, "type": "feed", "section": "gen", "interval_minutes": 10, "verified": True}
                for u in urls
            ] or outlet["sources"][:1]
            for s in outlet["sources"]:
                s["url"] = s["url"].replace("{base}", base_url)
        out.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
        return out


def _sentences() -> dict[str, list[str]]:
    """Sentences of the demo site's articles, by language."""
    pools: dict[str, list[str]] = {"en": [], "fr": []}
    for page in sorted(SITE.glob("*/*/*/*.html")):
        html = page.read_text(encoding="utf-8")
        lang = "fr" if 'lang="fr' in html else "en"
        for para in WORDS.findall(html):
            text = unescape(re.sub(r"<[^>]+>", "", para)).strip()
            pools[lang].extend(s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if len(s.split()) > 5)
    return pools


PAGE = """<!doctype html>
<html lang="{lang}">
<head><meta charset="utf-8"><title>{title}</title>
<meta property="og:title" content="{title}">
<meta property="og:url" content="{{base}}{path}">
<link rel="canonical" href="{{base}}{path}">
<meta property="article:published_time" content="{published}">
<meta name="author" content="{author}">
</head>
<body><header><nav><a href="/">Home</a> <a href="/news">News</a></nav></header>
<main><article><h1>{title}</h1><p class="byline">By {author}</p>
{body}
</article></main>
<footer><p>Copyright the publisher. All rights reserved.</p></footer></body></html>
"""

ITEM = """<item><title>{title}</title><link>{{base}}{path}</link>
<guid isPermaLink="true">{{base}}{path}</guid><pubDate>{pub}</pubDate>
<description>{summary}</description></item>"""

FEED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>{name}</title><link>{{base}}/</link><description>generated</description>
{items}
</channel></rss>
"""


def generate_site(
    root: Path, articles: int, feeds_per_outlet: int = 2, seed: int = 8, now: datetime | None = None
) -> Corpus:
    """Write *articles* distinct article pages, spread over the four demo outlets' generated
    feeds, under *root*. Each article mixes sentences of the demo articles (so some raise
    alerts) with its own numbered facts (so no two are copies of each other)."""
    rng = random.Random(seed)
    pools = _sentences()
    now = now or datetime.now(UTC)
    corpus = Corpus(root)
    feeds: dict[str, list[str]] = {}
    for i in range(articles):
        outlet = OUTLETS[i % len(OUTLETS)]
        lang = "fr" if outlet == "courrier-du-fleuve" else "en"
        pool = pools[lang]
        title = f"{rng.choice(pool)[:70].rstrip(' ,.')} ({i})"
        facts = [
            f"Report {i}-{k}: {rng.randint(2, 900)} people in district {rng.randint(1, 99)} "
            f"waited {rng.randint(1, 60)} hours for {rng.choice(['water', 'power', 'news', 'aid', 'buses'])}."
            for k in range(4)
        ]
        paras = [" ".join(rng.sample(pool, 3)) for _ in range(4)] + [" ".join(facts)]
        rng.shuffle(paras)
        path = f"/{outlet}/gen/{i:05d}.html"
        published = now - timedelta(minutes=articles - i)
        body = "\n".join(f"<p>{escape(p)}</p>" for p in paras)
        page = PAGE.format(
            lang=lang,
            title=escape(title),
            path=path,
            published=published.isoformat(),
            author="Staff",
            body=body,
        )
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(page, encoding="utf-8")
        corpus.articles.append(path)
        item = ITEM.format(
            title=escape(title), path=path, pub=format_datetime(published), summary=escape(paras[0][:200])
        )
        feeds.setdefault(f"/{outlet}/gen-feed-{i // len(OUTLETS) % feeds_per_outlet}.xml", []).append(item)
    for path, items in sorted(feeds.items()):
        (root / path.lstrip("/")).write_text(FEED.format(name=path, items="\n".join(items)), encoding="utf-8")
        corpus.feeds.append(path)
    robots = root / "robots.txt"
    robots.write_text("User-agent: *\nAllow: /\n", encoding="utf-8")
    return corpus


def counts(url: str) -> dict[str, Any]:
    """What exactly-once is checked against: row counts and duplicates by unique key."""
    from sqlalchemy import create_engine, text

    q = {
        "entries": "SELECT count(*) FROM entries",
        "entries_open": "SELECT count(*) FROM entries WHERE status = 'new'",
        "entries_processed": "SELECT count(*) FROM entries WHERE status = 'processed'",
        "entries_other": "SELECT count(*) FROM entries WHERE status NOT IN ('new', 'processed')",
        "articles": "SELECT count(*) FROM articles",
        "scores": "SELECT count(*) FROM scores",
        "alerts": "SELECT count(*) FROM alerts",
        "letters": "SELECT count(*) FROM letters",
        "leases": "SELECT count(*) FROM task_leases",
        "quarantine": "SELECT count(*) FROM quarantine",
        "duplicate_urls": "SELECT count(*) FROM (SELECT url FROM articles GROUP BY url"
        " HAVING count(*) > 1) d",
        "articles_scored_twice": "SELECT count(*) FROM (SELECT article_id FROM scores GROUP BY article_id"
        " HAVING count(*) > 1) d",
        "articles_unscored": "SELECT count(*) FROM articles a WHERE NOT EXISTS"
        " (SELECT 1 FROM scores s WHERE s.article_id = a.id)",
        "processed_without_article": "SELECT count(*) FROM entries WHERE status = 'processed'"
        " AND article_id IS NULL",
        "alerting_scores_without_alert": "SELECT count(*) FROM scores s"
        " JOIN articles a ON a.id = s.article_id WHERE s.alert AND NOT EXISTS"
        " (SELECT 1 FROM alerts x JOIN articles b ON b.id = x.article_id WHERE x.article_id = a.id"
        " OR (a.cluster_id IS NOT NULL AND b.cluster_id = a.cluster_id))",
        "alerts_without_letter": "SELECT count(*) FROM alerts x WHERE NOT EXISTS"
        " (SELECT 1 FROM letters l WHERE l.alert_id = x.id)",
    }
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {k: conn.execute(text(v)).scalar() for k, v in q.items()}
    finally:
        engine.dispose()
