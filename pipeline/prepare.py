"""The per-page work of a cycle that needs no database: extract the article, decide which text
to keep, compress the page as fetched and score the article.

``Preparer`` runs it for the embedded cycle: in the calling process for small batches, and in
worker processes (one per core, ``MEDIAWATCH_PROCESSES``) for batches of ``PROCESS_MIN`` pages
or more, so extraction and scoring use every core while the calling process fetches and writes
to the database. Workers are started with ``spawn`` (the caller may hold threads and database
connections, which ``fork`` would copy half-way) and load the models once. A ``WorkerPool``
keeps them between batches: `mediawatch run` processes its entries in small chunks (so that
SIGTERM is answered quickly) and its cycles every few minutes, and a worker costs about two
seconds of CPU to start. A page that fails comes back as a ``Prepared`` with its error and
traceback, never as an exception, so one bad page never costs the others.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

from . import cluster, entries, extract
from .records import Extracted, Score, ScoreInput, Selectors, StoredPage, compress_page

if TYPE_CHECKING:
    from .score import Scorer
    from .settings import Settings

log = logging.getLogger(__name__)

PROCESS_MIN = 200  # below this many pages, starting workers costs more than they save
JOBS_PER_TASK = 8  # pages sent to a worker at once (one model call for them)
# tasks in flight per worker: about a second of work queued, so the workers stay busy while the
# calling process stores a batch (100 pages) or waits on the network
TASKS_PER_WORKER = 16
INLINE_BATCH = 100  # pages prepared at once in the calling process (one model call for them)


@dataclass(slots=True)
class PageJob:
    """A fetched page and what the feed said about it."""

    entry_id: int
    fetched_url: str
    body: bytes
    status: int
    content_type: str
    selectors: Selectors
    title: str
    summary: str
    keep_raw: bool


@dataclass(slots=True)
class Prepared:
    """What a page became: the article to store, its score, or why neither."""

    entry_id: int
    doc: Extracted | None = None  # its text is the text to store and score (see partial_text)
    partial: str | None = None
    url: str = ""  # the article's URL (canonical when the page may claim it)
    page: StoredPage | None = None  # the page as fetched, compressed (when raw pages are kept)
    score: Score | None = None
    error: str | None = None  # extraction failed: the entry is quarantined
    score_error: str | None = None  # scoring failed: the article is stored, the score quarantined
    trace: str = ""
    agency: str | None = None  # the wire service credited (``cluster.wire_agency``)
    sketch: cluster.Sketch | None = None  # for wire-copy matching (pages extracted whole)

    @property
    def text(self) -> str:
        return self.doc.text if self.doc is not None else ""


def partial_text(doc: Extracted, summary: str) -> tuple[str, str | None]:
    """The text to store and score, and why it is less than the full article (None when it is
    not). A paywall, a teaser shorter than the feed's summary or an unreadable page keeps the
    longer of the page text and the summary, so scoring uses whatever is available."""
    page_words, summary_words = len(doc.text.split()), len(summary.split())
    text = doc.text if page_words >= summary_words else summary
    if doc.status != "ok":
        return summary, f"{doc.status}: {doc.reason or 'no article text'}; feed summary kept"
    if doc.paywalled:
        return text, "paywall: only the text before the subscription prompt"
    if page_words < summary_words:
        return text, f"page text ({page_words} words) shorter than the feed summary ({summary_words})"
    return text, None


def article_url(declared: str | None, fetched: str) -> str:
    """The page's canonical link when it stays on the same site, else the URL it was fetched from
    (a page may not claim another site's address)."""
    if declared:
        declared = urljoin(fetched, declared)
        same_site = _site(declared) == _site(fetched)
        if same_site and urlsplit(declared).scheme in ("http", "https"):
            return entries.canonical_url(declared)
    return entries.canonical_url(fetched)


def _site(url: str) -> str:
    return (urlsplit(url).netloc or "").lower().removeprefix("www.")


def prepare_page(job: PageJob) -> Prepared:
    """Extract one page (no score yet), compress it as the store keeps it, and make what storing
    it needs (its wire credit, its sketch for wire-copy matching), so that worker processes do
    this work, not the process that stores."""
    doc = extract.extract_html(job.body, source=job.fetched_url, url=job.fetched_url, selectors=job.selectors)
    doc.title = doc.title or job.title
    doc.text, partial = partial_text(doc, job.summary)
    page = None
    if job.keep_raw:
        gz, digest = compress_page(job.body)
        page = StoredPage(job.fetched_url, gz, digest, len(job.body), job.status, job.content_type)
    url = article_url(doc.canonical_url, job.fetched_url)
    agency = cluster.wire_agency(doc.text, doc.authors)
    made = cluster.sketch(doc.text) if doc.status == "ok" else None
    return Prepared(job.entry_id, doc, partial, url, page, agency=agency, sketch=made)


def extract_page(job: PageJob) -> Prepared:
    """``prepare_page``, with a failure returned in ``error`` instead of raised."""
    try:
        return prepare_page(job)
    except Exception as exc:  # a bug or a hostile page: this page only
        return Prepared(job.entry_id, error=f"{type(exc).__name__}: {exc}", trace=traceback.format_exc())


def score_prepared(done: Sequence[Prepared], scorer: Scorer) -> None:
    """Score the extracted pages in one model call; if that fails, one by one, so only the
    article that breaks the scorer goes without a score."""
    todo = [d for d in done if d.doc is not None]
    inputs = [
        ScoreInput(str(d.entry_id), d.doc.title, d.text, language=d.doc.language) for d in todo if d.doc
    ]
    try:
        for d, score in zip(todo, scorer.score_many(inputs), strict=True):
            d.score = score
        return
    except Exception:
        pass
    for d, item in zip(todo, inputs, strict=True):
        try:
            d.score = scorer.score(item)
        except Exception as exc:
            d.score_error, d.trace = f"{type(exc).__name__}: {exc}", traceback.format_exc()


def prepare_many(jobs: Sequence[PageJob], scorer: Scorer) -> list[Prepared]:
    done = [extract_page(j) for j in jobs]
    score_prepared(done, scorer)
    return done


# -- worker processes ------------------------------------------------------------------------------

_scorer: Scorer | None = None


def _init_worker(settings: Settings) -> None:
    global _scorer
    from .score import build_scorer

    _scorer = build_scorer(settings)


def _work(jobs: list[PageJob]) -> list[Prepared]:
    assert _scorer is not None, "worker started without its initializer"
    return prepare_many(jobs, _scorer)


def _started() -> int:
    """A task that does nothing: sent so that a worker starts (and loads the models) now."""
    return os.getpid()


def processes_for(setting: int, pages: int) -> int:
    """How many worker processes to use for *pages* pages (1: none, work in the caller)."""
    if setting == 1:
        return 1
    if setting == 0:
        return (os.cpu_count() or 1) if pages >= PROCESS_MIN else 1
    return setting


class WorkerPool:
    """Worker processes kept from one batch to the next: started when first needed (with the
    models of the settings it was made with), stopped by ``close``, or at once by ``discard``
    when a worker has died."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._pool: ProcessPoolExecutor | None = None
        self.processes = 0
        self.starts = 0  # how many times workers were started

    @property
    def running(self) -> bool:
        return self._pool is not None

    def executor(self, processes: int) -> ProcessPoolExecutor:
        """The running workers (started now if there are none, or not *processes* of them)."""
        if self._pool is not None and self.processes != processes:
            self.close()
        if self._pool is None:
            log.info("starting %d page worker processes", processes)
            self._pool = ProcessPoolExecutor(
                processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(self._settings,),
            )
            self.processes = processes
            self.starts += 1
        return self._pool

    def start(self, processes: int) -> None:
        """Start *processes* workers now, without waiting for them: each loads the models while
        the caller goes on (a cycle's polling, which needs one core), so they are ready when the
        first pages are. Spawned workers start one per task sent, hence a task for each."""
        if self._pool is not None and self.processes == processes:
            return
        pool = self.executor(processes)
        for _ in range(processes):
            pool.submit(_started)

    def discard(self) -> None:
        """Stop the workers at once, abandoning their tasks (one of them died)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def close(self) -> None:
        """Stop the workers once their current tasks are done."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class Preparer:
    """Prepares pages as they are fetched; ``submit`` returns what is ready, ``finish`` the rest.

    *scorer* is a callable so that the caller's models load only if it does the work itself.
    *workers*: processes kept by the caller, used whenever they are running, whatever the
    number of pages (else the preparer starts its own for a large batch and stops them after)."""

    def __init__(
        self, settings: Settings, scorer: Callable[[], Scorer], pages: int, workers: WorkerPool | None = None
    ) -> None:
        self._scorer = scorer
        self.processes = processes_for(settings.processes, pages)
        if workers is not None and workers.running and settings.processes != 1:
            self.processes = workers.processes
        self._workers = workers if workers is not None else WorkerPool(settings)
        self._owned = workers is None
        self._pool: ProcessPoolExecutor | None = None
        if self.processes > 1:
            log.info("preparing %d pages in %d worker processes", pages, self.processes)
            self._pool = self._workers.executor(self.processes)
        self._jobs: list[PageJob] = []
        self._running: dict[Future[list[Prepared]], list[PageJob]] = {}
        self._ready: list[Prepared] = []

    def __enter__(self) -> Preparer:
        return self

    def __exit__(self, *exc: object) -> None:
        for future in self._running:  # (a batch left half-way: its pages stay pending)
            future.cancel()
        if self._owned:
            self._workers.close()

    def submit(self, job: PageJob) -> list[Prepared]:
        self._jobs.append(job)
        if len(self._jobs) >= (JOBS_PER_TASK if self._pool else INLINE_BATCH):
            self._dispatch()
        self._collect(block=False)
        return self._take()

    def finish(self) -> list[Prepared]:
        self._dispatch()
        while self._running:
            self._collect(block=True)
        return self._take()

    def _take(self) -> list[Prepared]:
        ready, self._ready = self._ready, []
        return ready

    def _dispatch(self) -> None:
        jobs, self._jobs = self._jobs, []
        if not jobs:
            return
        if self._pool is None:
            self._ready += prepare_many(jobs, self._scorer())
            return
        # a bounded number of tasks in flight: pages wait here, not in the pool's queue
        while len(self._running) >= TASKS_PER_WORKER * self.processes:
            self._collect(block=True)
        try:
            self._running[self._pool.submit(_work, jobs)] = jobs
        except BrokenProcessPool:
            self._broken(jobs)

    def _collect(self, block: bool) -> None:
        if not self._running:
            return
        done, _ = wait(list(self._running), timeout=None if block else 0, return_when=FIRST_COMPLETED)
        for future in done:
            jobs = self._running.pop(future)
            try:
                self._ready += future.result()
            except BrokenProcessPool:
                self._broken(jobs)

    def _broken(self, jobs: list[PageJob]) -> None:
        """A worker died (killed, or crashed on a page): carry on in this process."""
        log.error("a page worker process died; preparing the remaining pages in this process")
        if self._pool is not None:
            self._workers.discard()
            self._pool = None
        self._ready += prepare_many(jobs, self._scorer())
