"""Extraction and scoring in worker processes, and pages stored a batch at a time
(pipeline/prepare.py, orchestrate.process_entries / store_prepared, store.save_new_articles)."""

from __future__ import annotations

import gzip
import hashlib
import logging
import multiprocessing
import os
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from pipeline import extract
from pipeline.demo.server import LocalSite
from pipeline.orchestrate import build, poll_sources, process_entries, run_cycle
from pipeline.prepare import PageJob, Preparer, WorkerPool, processes_for
from pipeline.records import Extracted, Selectors, compress_page
from pipeline.settings import Settings
from pipeline.store import Store
from pipeline.store.articles import NewArticle
from pipeline.store.schema import Alert, Article, Entry, Letter, QuarantineItem, RawPage, ScoreRow

ROOT = Path(__file__).resolve().parents[1]
DEMO_FEEDS = ROOT / "pipeline" / "demo" / "feeds.yaml"


def snapshot(store: Store) -> dict[str, Any]:
    """What a cycle stored, keyed by article URL (ids differ between runs)."""
    with store.session() as s:
        articles = {
            a.url: (
                a.title,
                a.text,
                a.language,
                a.status,
                a.partial_reason,
                a.wire_agency,
                a.cluster_id is not None,
            )
            for a in s.scalars(select(Article))
        }
        url = {a.id: a.url for a in s.scalars(select(Article))}
        scores = {
            url[r.article_id]: (
                r.relevant,
                round(r.relevance, 9),
                r.alert,
                r.kind,
                round(r.severity, 9),
                {k: round(v, 9) for k, v in r.categories.items()},
                r.evidence,
                r.facts,
            )
            for r in s.scalars(select(ScoreRow))
        }
        alerts = {url[a.article_id]: (a.kind, a.categories, a.summary) for a in s.scalars(select(Alert))}
        letters = sorted((lt.subject, lt.body) for lt in s.scalars(select(Letter)))
        pages = {url[p.article_id]: (p.sha256, p.size) for p in s.scalars(select(RawPage))}
        entries = sorted((e.url, e.status) for e in s.scalars(select(Entry)))
    return {
        "articles": articles,
        "scores": scores,
        "alerts": alerts,
        "letters": letters,
        "pages": pages,
        "entries": entries,
    }


def run_demo(settings: Settings, site: LocalSite) -> tuple[dict[str, int], dict[str, Any]]:
    store = Store.open(settings.db_url)
    try:
        stats = run_cycle(build(settings, store, DEMO_FEEDS, base_url=site.base_url))
        return stats, snapshot(store)
    finally:
        store.close()


def test_worker_processes_store_exactly_what_the_main_process_stores(
    settings: Settings, demo_site: LocalSite, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    reference = settings.model_copy(update={"processes": 1, "database_url": "", "data_dir": tmp_path / "ref"})
    in_workers = settings.model_copy(update={"processes": 2})
    ref_stats, expected = run_demo(reference, demo_site)
    with caplog.at_level(logging.INFO, logger="pipeline.prepare"):
        stats, got = run_demo(in_workers, demo_site)
    assert "in 2 worker processes" in caplog.text
    assert len(expected["articles"]) == 19 and len(expected["alerts"]) >= 10
    for part in expected:
        assert got[part] == expected[part], part
    assert stats["worker_processes"] == 2 and "worker_processes" not in ref_stats
    timing = ("worker_processes", "reprioritised")  # alert priorities age with the clock
    assert {k: v for k, v in stats.items() if k not in timing} == {
        k: v for k, v in ref_stats.items() if k not in timing
    }


def test_a_page_that_breaks_the_extractor_is_quarantined_and_the_others_stored(
    settings: Settings, demo_site: LocalSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = extract.extract_html

    def breaks_on_one(body: bytes, **kw: Any) -> Extracted:
        if "gaza-frappe" in kw["url"]:
            raise RuntimeError("extractor bug")
        return real(body, **kw)

    monkeypatch.setattr(extract, "extract_html", breaks_on_one)
    stats, got = run_demo(settings.model_copy(update={"processes": 1}), demo_site)
    assert stats["article_errors"] == 1 and stats["articles"] == 18
    assert not any("gaza-frappe" in url for url in got["articles"])
    store = Store.open(settings.db_url)
    with store.session() as s:
        q = s.scalars(select(QuarantineItem)).one()
        entry = s.get_one(Entry, q.item_id)
    store.close()
    assert (q.task, q.error) == ("fetch", "RuntimeError: extractor bug")
    assert "breaks_on_one" in q.traceback
    assert "gaza-frappe" in entry.url and entry.status == "failed"


def jobs(site: LocalSite, n: int) -> list[PageJob]:
    pages = sorted((site.root).rglob("*.html"))[:n]
    assert len(pages) == n
    return [
        PageJob(i, f"{site.base_url}/{p.name}", p.read_bytes(), 200, "text/html", Selectors(), "", "", True)
        for i, p in enumerate(pages)
    ]


def test_a_killed_worker_process_hands_its_pages_back_to_the_main_process(
    settings: Settings, demo_site: LocalSite, caplog: pytest.LogCaptureFixture
) -> None:
    from pipeline.score import build_scorer

    work = jobs(demo_site, 12)
    scorer = build_scorer(settings)
    with Preparer(settings.model_copy(update={"processes": 2}), lambda: scorer, len(work)) as preparer:
        ready = [r for job in work[:8] for r in preparer.submit(job)]  # the 8th sends the first task
        pool = preparer._pool
        assert pool is not None
        processes = pool._processes  # type: ignore[attr-defined]
        assert processes, "the worker processes were started"
        for pid in list(processes):  # still loading the models: they die before doing any page
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)
        for job in work[8:]:
            ready += preparer.submit(job)
        ready += preparer.finish()
    assert sorted(r.entry_id for r in ready) == list(range(12))
    assert all(r.doc is not None and r.score is not None and r.page is not None for r in ready)
    assert "worker process died" in caplog.text


def test_a_cycle_starts_its_page_workers_while_it_polls_and_stops_them_at_its_end(
    settings: Settings, demo_site: LocalSite, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A big first cycle (a new deployment polls thousands of entries) keeps one core busy
    parsing feeds: its page workers start as soon as the new entries are enough for them and
    load their models then, not after the polling. Too few new entries start none; the cycle
    stops the workers it started."""
    two = settings.model_copy(update={"processes": 2})
    store = Store.open(two.db_url)
    try:
        p = build(two, store, DEMO_FEEDS, base_url=demo_site.base_url)
        p.workers = WorkerPool(two)
        poll_sources(p, datetime.now(UTC))
        assert p.workers.running and p.workers.processes == 2
        pids = set(p.workers._pool._processes)  # type: ignore[union-attr]
        assert len(pids) == 2 and all(_alive(pid) for pid in pids)
        assert len(store.pending_entries(100)) == 19 and store.counts()["articles"] == 0  # no page yet
        p.workers.close()

        auto = settings.model_copy(update={"processes": 0, "database_url": "", "data_dir": tmp_path / "auto"})
        small = Store.open(auto.db_url)
        q = build(auto, small, DEMO_FEEDS, base_url=demo_site.base_url)
        q.workers = WorkerPool(auto)
        poll_sources(q, datetime.now(UTC))  # 19 new entries: under PROCESS_MIN
        assert not q.workers.running and len(small.pending_entries(100)) == 19
        small.close()
    finally:
        store.close()

    cycle = settings.model_copy(update={"processes": 2, "database_url": "", "data_dir": tmp_path / "cycle"})
    with caplog.at_level(logging.INFO, logger="pipeline.orchestrate"):
        stats, got = run_demo(cycle, demo_site)
    assert "new entries: starting 2 page worker processes" in caplog.text
    assert stats["worker_processes"] == 2 and len(got["articles"]) == 19
    assert not multiprocessing.active_children()  # the cycle's workers are gone


def test_small_batches_stay_in_the_main_process_unless_asked() -> None:
    cores = os.cpu_count() or 1
    assert processes_for(0, 10) == 1 and processes_for(0, 500) == cores
    assert processes_for(1, 10_000) == 1 and processes_for(3, 5) == 3


def _new(entry_id: int, outlet: str, url: str) -> NewArticle:
    doc = Extracted(source=url, title=f"Title {entry_id}", text="Some text about a budget.", language="en")
    return NewArticle(entry_id, outlet, url, doc, "", None, None, None, None, None)


def test_a_batch_with_a_url_stored_meanwhile_writes_nothing(
    store: Store, settings: Settings, demo_site: LocalSite
) -> None:
    poll_sources(build(settings, store, DEMO_FEEDS, base_url=demo_site.base_url), datetime.now(UTC))
    pending = store.pending_entries(3)
    one, two, three = (e.id for e in pending)
    outlet = pending[0].outlet_id
    [(first, _)] = store.save_new_articles([_new(one, outlet, "https://example.org/a")])
    with pytest.raises(IntegrityError):
        store.save_new_articles(
            [_new(two, outlet, "https://example.org/b"), _new(three, outlet, "https://example.org/a")]
        )
    urls = ["https://example.org/a", "https://example.org/b"]
    assert store.article_ids_for_urls(urls) == {"https://example.org/a": first}
    assert {two, three} <= {e.id for e in store.pending_entries(100)}  # not marked processed


def test_pending_entries_take_the_outlets_in_turn_each_oldest_first(
    store: Store, settings: Settings, demo_site: LocalSite
) -> None:
    """A poll stores each outlet's entries together: a batch in plain id order would be one
    outlet's pages, fetched over one host's few connections while the others wait."""
    poll_sources(build(settings, store, DEMO_FEEDS, base_url=demo_site.base_url), datetime.now(UTC))
    every = store.pending_entries(1000)
    outlets = {e.outlet_id for e in every}
    assert len(outlets) >= 3
    first = every[: len(outlets)]
    assert {e.outlet_id for e in first} == outlets  # one of each before a second of any
    for outlet in outlets:
        ids = [e.id for e in every if e.outlet_id == outlet]
        assert ids == sorted(ids)
    assert sorted(e.id for e in every) == sorted(e.id for e in store.pending_entries(len(every) + 5))
    assert store.pending_entries(2) == every[:2]


def test_worker_processes_do_not_load_the_database_layer() -> None:
    """A worker process imports ``pipeline.prepare`` and the scorer at every cycle with 200+
    pages: SQLAlchemy and Alembic (0.55 s of CPU per start) are the calling process's business."""
    import subprocess
    import sys

    code = (
        "import sys\nimport pipeline.prepare, pipeline.score\n"
        "print(sorted(m for m in ('sqlalchemy', 'alembic', 'pipeline.store') if m in sys.modules))"
    )
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_pages_are_stored_as_standard_gzip_the_same_bytes_every_time() -> None:
    """Raw pages are compressed with ISA-L in the workers and read back with the standard
    library's gzip (a user may also read them with any gzip tool); no timestamp goes in, so the
    same page always compresses to the same bytes."""
    page = ("<html><body>" + "<p>Gaza health officials said 23 people were killed.</p>" * 400).encode()
    packed, digest = compress_page(page)
    assert gzip.decompress(packed) == page
    assert packed[:2] == b"\x1f\x8b" and packed[4:8] == b"\0\0\0\0"  # gzip, no modification time
    assert compress_page(page) == (packed, digest) and digest == hashlib.sha256(page).hexdigest()
    assert len(packed) < len(page) / 10


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a child that has exited but is not reaped yet is a zombie: not alive
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(") ", 1)[1][0] != "Z"


def test_the_service_keeps_its_page_workers_across_chunks_and_jobs_and_stops_them(
    settings: Settings, store: Store, local_site: LocalSite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`mediawatch run` processes entries a chunk at a time (to answer SIGTERM quickly): a job
    with enough entries starts the workers once and every chunk of it, and of the next jobs, uses
    the same processes; they stop when no job has needed them for a while, when the model changes
    and when the service stops."""
    from service_site import write_feeds, write_site

    from pipeline.service import jobs

    write_site(local_site.root, 0, 70)
    feeds = write_feeds(tmp_path / "feeds.yaml", local_site.base_url)
    ctx = jobs.Context(settings.model_copy(update={"processes": 2}), store, feeds)
    monkeypatch.setattr(jobs, "HANDBACK_CHUNK_WORKERS", 32)
    jobs.install(ctx)
    try:
        jobs.poll()
        first = jobs.process()
        workers = ctx.pipeline().workers
        assert isinstance(workers, WorkerPool) and workers.running and workers.starts == 1
        assert first["worker_processes"] == 2 * 3  # three chunks (32 + 32 + 6), each in the workers
        pids = set(workers._pool._processes)  # type: ignore[union-attr]
        assert len(pids) == 2

        write_site(local_site.root, 70, 5)  # five new stories: too few to start workers for
        ctx.clock = lambda: datetime.now(UTC) + timedelta(days=1)
        jobs.poll()
        second = jobs.process()
        assert second["worker_processes"] == 2 and workers.starts == 1  # the same, still running
        assert set(workers._pool._processes) == pids  # type: ignore[union-attr]
        assert store.counts()["articles"] == 75 and not store.pending_entries(10)

        ctx.settings = ctx.settings.model_copy(update={"processes": 0})
        jobs.process()  # nothing waiting, needed recently: kept
        assert workers.running
        monkeypatch.setattr(jobs, "WORKERS_KEPT_SECONDS", 0.0)
        jobs.process()  # no job has needed them since: stopped
        assert not workers.running and not any(_alive(pid) for pid in pids)

        ctx.settings = ctx.settings.model_copy(update={"processes": 2})
        jobs.process()  # nothing waiting: not started for nothing
        assert not workers.running
        write_site(local_site.root, 75, 5)
        ctx.clock = lambda: datetime.now(UTC) + timedelta(days=2)
        jobs.poll()
        assert jobs.process()["worker_processes"] == 2
        assert workers.running and workers.starts == 2
        pids = set(workers._pool._processes)  # type: ignore[union-attr]
        ctx.reload_model = True  # a retrained model was promoted: the workers hold the old one
        ctx.pipeline()
        assert not workers.running and not any(_alive(pid) for pid in pids)
    finally:
        ctx.close()
        jobs.install(None)
    assert not workers.running and not any(_alive(pid) for pid in pids)


def test_a_long_lived_pipeline_keeps_its_wire_copy_index_between_chunks(
    settings: Settings, store: Store, local_site: LocalSite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`mediawatch run` keeps one Pipeline and processes entries a chunk at a time: the wire-copy
    index is kept and each chunk adds its own articles, where rebuilding it from every recent
    article for each chunk made 3,000 articles take 136 s instead of 41."""
    from service_site import write_feeds, write_site

    from pipeline import cluster

    write_site(local_site.root, 0, 40)
    feeds = write_feeds(tmp_path / "feeds.yaml", local_site.base_url)
    p = build(settings.model_copy(update={"processes": 1, "max_entries_per_cycle": 20}), store, feeds)
    poll_sources(p, datetime.now(UTC))
    process_entries(p)
    index = p.copies
    assert len(index) == store.counts()["articles"] == 20
    made: list[str] = []
    real = cluster.sketch
    monkeypatch.setattr(cluster, "sketch", lambda text: made.append(text) or real(text))
    process_entries(p)
    assert p.copies is index and len(index) == store.counts()["articles"] == 40
    assert len(made) == 20  # the chunk's own pages; the first chunk's are not sketched again
