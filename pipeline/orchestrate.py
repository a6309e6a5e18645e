"""Wires the stages to the store: one cycle = poll due sources, process new entries, revisit.

Each stage is built from per-item steps (``poll_source``, ``store_entry``, ``score_articles``,
``revisit_article``) that the embedded cycle runs here and the distributed worker's tasks
(``pipeline.distributed.tasks``) run one item at a time. In the embedded cycle network work runs
in a thread pool and every database write happens on the calling thread.
"""

from __future__ import annotations

import logging
import random
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.exc import IntegrityError

from . import cluster, extract, revisit
from .alert import ArticleInfo, draft_alert, priority
from .config import FeedsConfig, load_feeds
from .errors import ConfigError
from .fetch import Fetcher, policy_for
from .letters import LetterTemplates, TalkingPoints, load_talking_points
from .polite import DEFER_AFTER, Deferred, HostPool, host_of
from .poll import Poller
from .prepare import PageJob, Prepared, Preparer, WorkerPool, partial_text, prepare_page, processes_for
from .records import AlertDraft, Extracted, FetchResult, Score, ScoreInput, Selectors
from .robots import RobotsCache
from .rules import RuleSet, load_rules
from .score import Scorer, build_scorer
from .settings import Settings
from .store import Store
from .store.alerts import AlertRequest
from .store.articles import NewArticle
from .store.quarantine import ScoringItem
from .store.views import DueSource, PendingEntry, RevisitTarget, WireCopy

log = logging.getLogger(__name__)
CLUSTER_WINDOW = timedelta(days=3)
COPIES_RELOAD = timedelta(hours=1)
COPIES_LOOK = timedelta(seconds=1)  # a worker looks for others' new articles at most this often
Progress = Callable[[str, int, int], None]


@dataclass
class Pipeline:
    settings: Settings
    store: Store
    feeds: FeedsConfig
    fetcher: Fetcher
    templates: LetterTemplates
    points: TalkingPoints
    rules: RuleSet
    robots: RobotsCache | None = None
    stats: dict[str, int] = field(default_factory=dict)
    copies: cluster.CopyIndex = field(default_factory=cluster.CopyIndex)
    rng: random.Random = field(default_factory=random.Random)
    copies_upto: int = 0  # the highest article id in ``copies``
    copies_loaded: datetime | None = None
    copies_checked: datetime | None = None
    workers: WorkerPool | None = None  # page workers kept between cycles (`mediawatch run`)
    _scorer: Scorer | None = None

    @property
    def scorer(self) -> Scorer:
        """The classifier and rules, loaded on first use (polling alone never pays for them)."""
        if self._scorer is None:
            self._scorer = build_scorer(self.settings, self.rules)
        return self._scorer

    def selectors(self, outlet_id: str) -> Selectors:
        """The outlet's extraction selectors from feeds.yaml (empty for unknown outlets)."""
        try:
            return self.feeds.outlet(outlet_id).extraction.selectors()
        except ConfigError:
            return Selectors()

    def extract(self, page: FetchResult, outlet_id: str) -> Extracted:
        return extract.extract_html(
            page.body, source=page.final_url, url=page.final_url, selectors=self.selectors(outlet_id)
        )

    def count(self, key: str, n: int = 1) -> None:
        self.stats[key] = self.stats.get(key, 0) + n

    def fetch_page(self, entry_or_url: PendingEntry | str) -> FetchResult:
        """An article page, if robots.txt lets us (the host slot is already reserved by HostPool
        for entries; a bare URL waits for its slot)."""
        url = entry_or_url if isinstance(entry_or_url, str) else entry_or_url.url
        reserved = not isinstance(entry_or_url, str)
        if self.robots is not None:
            reserved = reserved and self.robots.cached(url)  # fetching robots.txt used the slot
            refused = self.robots.check(url)
            if refused:
                return FetchResult(url, url, 0, error=refused, robots_blocked=True)
        return self.fetcher.get(url, kind="page", reserved=reserved)


def build(
    settings: Settings,
    store: Store,
    feeds_file: Path | None = None,
    base_url: str | None = None,
    sync: bool = True,
) -> Pipeline:
    """Load and validate the configuration files, then sync outlets into the store (unless
    *sync* is off: workers leave that to the scheduler). (Rules are validated here too; the
    trained models load when first needed.)"""
    feeds = load_feeds(feeds_file or settings.feeds_file, base_url)
    fetcher = Fetcher(policy_for(settings), pool_size=settings.workers)
    pipeline = Pipeline(
        settings=settings,
        store=store,
        feeds=feeds,
        fetcher=fetcher,
        robots=RobotsCache(fetcher) if settings.respect_robots else None,
        templates=LetterTemplates(settings.alerts_dir / "templates"),
        points=load_talking_points(settings.alerts_dir / "talking_points.yaml"),
        rules=load_rules(settings.alerts_dir / "rules.yaml"),
    )
    if sync:
        store.sync_outlets(feeds)
    return pipeline


def poll_sources(p: Pipeline, now: datetime) -> None:
    """Poll every due source. Once the new entries are enough for the page workers, these are
    started (``WorkerPool.start``): they load the models on the core the polling leaves free."""
    workers = p.workers
    new = 0

    def count(name: str, n: int = 1) -> None:
        nonlocal new
        p.count(name, n)
        if name != "new_entries" or workers is None or workers.running or p.settings.processes == 1:
            return
        new += n
        wanted = processes_for(p.settings.processes, new)
        if wanted > 1:
            log.info("%d new entries: starting %d page worker processes", new, wanted)
            workers.start(wanted)

    Poller(p.settings, p.store, p.fetcher, count, p.rng).poll_due(now)


def poll_source(p: Pipeline, source: DueSource, now: datetime) -> None:
    """Poll one source (a worker's poll task): wait for the host's turn, fetch, record the
    outcome and the next check. A host that asked us to wait long is not asked at all."""
    poller = Poller(p.settings, p.store, p.fetcher, p.count, p.rng)
    blocked = p.fetcher.spacer.blocked_for(host_of(source.url))
    outcome: FetchResult | Deferred = (
        Deferred(blocked)
        if blocked > DEFER_AFTER
        else p.fetcher.get(source.url, source.etag, source.last_modified, kind="feed")
    )
    p.count("polls")
    rec = poller._outcome(source, outcome, now)
    moved = p.store.record_poll(source.id, rec, p.settings.redirect_moves_after)
    if moved:
        log.warning("source moved id=%s to=%s (permanent redirects)", source.id, moved)
        p.count("sources_moved")


def _article_info(item: ScoringItem, wire: WireCopy | None) -> ArticleInfo:
    return ArticleInfo(
        title=item.title,
        text=item.text,
        url=item.url,
        published=item.published_at,
        language=item.language or "en",
        wire_agency=(wire.agency if wire else None) or cluster.wire_agency(item.text, item.authors),
        republishers=tuple(dict.fromkeys(m.outlet_name for m in wire.copies if m.outlet_id != item.outlet_id))
        if wire
        else (),
    )


STORE_BATCH = 100  # prepared pages stored in one transaction
SWITCH_INTERVAL = 0.0005  # seconds between GIL hand-overs while worker processes prepare pages


def process_entries(p: Pipeline, progress: Progress | None = None) -> int:
    """Fetch pages politely (robots.txt, per-host limits); extract and score them as they arrive
    (in worker processes for large batches, see ``pipeline.prepare``); store them a chunk at a
    time and raise their alerts. One article's failure marks its entry (and quarantines it, for
    an admin to replay) and never stops the others. Returns how many entries it took up."""
    pending = p.store.pending_entries(p.settings.max_entries_per_cycle)
    if not pending:
        return 0
    refresh_copies(p, look_every=timedelta(0))
    entries_by_id = {e.id: e for e in pending}
    seen = 0

    def advance(n: int) -> None:
        nonlocal seen
        seen += n
        if progress and n:
            progress("articles", seen, len(pending))

    def store(ready: list[Prepared]) -> None:
        for n in store_prepared(p, [(entries_by_id[r.entry_id], r) for r in ready]):
            advance(n)

    pool = HostPool(p.fetcher.spacer, p.settings.workers, p.settings.per_host_connections)
    ready: list[Prepared] = []
    preparer = Preparer(p.settings, lambda: p.scorer, len(pending), p.workers)
    with preparer, _quick_switching(p, preparer):
        for entry, page in pool.run(pending, lambda e: e.url, p.fetch_page):
            if isinstance(page, Deferred) or not page.ok:
                _page_failed(p, entry, page)
                advance(1)
                continue
            ready += preparer.submit(_page_job(p, entry, page))
            if len(ready) >= STORE_BATCH:
                store(ready)
                ready = []
        store(ready + preparer.finish())
    return len(pending)


@contextmanager
def _quick_switching(p: Pipeline, preparer: Preparer) -> Iterator[None]:
    """While worker processes prepare the pages, this process's threads only fetch, hand pages
    over and store: let them take turns every 0.5 ms instead of 5. Otherwise a fetch thread
    whose response has arrived waits up to 5 ms for the main thread to let go of the GIL, and
    the workers wait for pages (3,000 pages: 41 s at 5 ms, 24 s at 0.5 ms)."""
    if preparer.processes == 1:
        yield
        return
    p.count("worker_processes", preparer.processes)
    before = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def _page_job(p: Pipeline, entry: PendingEntry, page: FetchResult) -> PageJob:
    return PageJob(
        entry.id,
        page.final_url,
        page.body,
        page.status,
        page.content_type,
        p.selectors(entry.outlet_id),
        entry.title,
        entry.summary,
        p.settings.keep_raw_pages,
    )


def store_prepared(p: Pipeline, batch: list[tuple[PendingEntry, Prepared]]) -> Iterator[int]:
    """Store prepared pages, then save their scores and raise their alerts. Yields how many
    entries each step finished, for progress."""
    good = [(e, r) for e, r in batch if r.doc is not None]
    for e, r in batch:
        if r.doc is None:
            _quarantine_entry(p, e, r.error or "extraction failed", r.trace)
    yield len(batch) - len(good)
    stored = _store_articles(p, good)
    yield len(good)
    scored = []
    for item, r, score_id in stored:
        if r.score is None:
            log.error("scoring failed article=%s: %s", item.article_id, r.score_error)
            args = {"item_id": item.article_id}
            p.store.quarantine("score", item.article_id, args, r.score_error or "", r.trace, 1)
            p.count("score_errors")
            continue
        scored.append((item, r.score, score_id or p.store.save_score(item.article_id, r.score)))
    if scored:
        raise_alerts(p, scored)


def _store_articles(
    p: Pipeline, good: list[tuple[PendingEntry, Prepared]]
) -> list[tuple[ScoringItem, Prepared, int | None]]:
    """New URLs all in one transaction; the rest (a URL already stored, or twice in the batch)
    one at a time as ``store_entry`` does. Returns what to score, with the score id when the
    score was stored with the article."""
    stored_urls = p.store.article_ids_for_urls([r.url for _e, r in good])
    new: list[tuple[PendingEntry, Prepared]] = []
    single: list[tuple[PendingEntry, Prepared]] = []
    urls: set[str] = set()
    for e, r in good:
        (single if r.url in stored_urls or r.url in urls else new).append((e, r))
        urls.add(r.url)
    try:
        ids = p.store.save_new_articles([_new_article(e, r) for e, r in new])
    except IntegrityError:  # another writer stored one of these URLs meanwhile: one at a time
        new, single, ids = [], good, []
    stored: list[tuple[ScoringItem, Prepared, int | None]] = []
    for (e, r), (article_id, score_id) in zip(new, ids, strict=True):
        _count_stored(p, r)
        if r.doc is not None and r.doc.status == "ok":
            _cluster(p, article_id, r.text, r.sketch)
        stored.append((_scoring_item(e, r, article_id), r, score_id))
    for e, r in single:
        try:
            item = _store_one(p, e, r)
        except Exception as exc:  # a bug or hostile page: keep the entry, say why
            log.exception("article failed entry=%s url=%s", e.id, e.url)
            _quarantine_entry(p, e, f"{type(exc).__name__}: {exc}", traceback.format_exc())
            continue
        if item is not None:
            stored.append((item, r, None))
    return stored


def _quarantine_entry(p: Pipeline, entry: PendingEntry, error: str, trace: str) -> None:
    log.error("article failed entry=%s url=%s: %s", entry.id, entry.url, error)
    p.store.quarantine("fetch", entry.id, {"entry_id": entry.id}, error, trace, 1)
    p.count("article_errors")


def _new_article(entry: PendingEntry, r: Prepared) -> NewArticle:
    assert r.doc is not None
    return NewArticle(
        entry.id,
        entry.outlet_id,
        r.url,
        r.doc,
        entry.summary,
        entry.published_at,
        r.agency,
        r.partial,
        r.page,
        r.score,
    )


def _count_stored(p: Pipeline, r: Prepared) -> None:
    p.count("articles")
    p.count("partial", int(r.partial is not None))


def _scoring_item(entry: PendingEntry, r: Prepared, article_id: int) -> ScoringItem:
    assert r.doc is not None
    return ScoringItem(
        article_id,
        entry.outlet_id,
        entry.canonical_url,
        r.doc.title or entry.title,
        r.text,
        r.doc.language,
        list(r.doc.authors),
        entry.published_at,
    )


def store_entry(p: Pipeline, entry: PendingEntry, page: FetchResult | Deferred) -> ScoringItem | None:
    """Extract a fetched page and store its article (or note why not); returns what to score.

    Safe to run again for the same entry: an article already stored under the URL that no entry
    owns yet (a worker died between storing it and marking its entry) is taken over, not
    counted as a duplicate."""
    if isinstance(page, Deferred) or not page.ok:
        _page_failed(p, entry, page)
        return None
    return _store_one(p, entry, prepare_page(_page_job(p, entry, page)))


def _store_one(p: Pipeline, entry: PendingEntry, r: Prepared) -> ScoringItem | None:
    """Store one prepared page (``store_entry`` after extraction)."""
    assert r.doc is not None
    existing = p.store.article_id_for_url(r.url)
    if existing is not None and p.store.article_owner(existing) not in (None, entry.id):
        p.store.mark_entry(entry.id, "duplicate", article_id=existing)
        p.count("duplicates")
        return None
    if existing is not None:
        article_id = existing
    else:
        article_id = p.store.save_article(
            entry.outlet_id, r.url, r.doc, entry.summary, entry.published_at, r.agency, r.partial
        )
        if r.page is not None:
            p.store.save_page(article_id, r.page)
        if r.doc.status == "ok":
            _cluster(p, article_id, r.text, r.sketch)
    p.store.mark_entry(entry.id, "processed", article_id=article_id)
    _count_stored(p, r)
    return _scoring_item(entry, r, article_id)


def _page_failed(p: Pipeline, entry: PendingEntry, page: FetchResult | Deferred) -> None:
    """Robots refusals and permanent errors end the entry; throttling and outages retry it later."""
    if isinstance(page, Deferred):
        retry = datetime.now(UTC) + timedelta(seconds=page.seconds)
        p.store.retry_entry(
            entry.id, retry, "host asked us to wait (Retry-After)", p.settings.page_attempts + 1
        )
        p.count("pages_deferred")
        return
    if page.robots_blocked:
        p.store.mark_entry(entry.id, "blocked", error=page.error)
        p.count("robots_blocked")
        return
    p.count("page_errors")
    if page.refused or (400 <= page.status < 500 and page.status != 429):
        p.store.mark_entry(entry.id, "failed", error=page.error)
        return
    wait = page.retry_after or 60 * 15 * 2**entry.attempts * p.rng.uniform(0.5, 1.0)
    retry = datetime.now(UTC) + timedelta(seconds=wait)
    p.store.retry_entry(entry.id, retry, page.error or f"HTTP {page.status}", p.settings.page_attempts)


def _cluster(p: Pipeline, article_id: int, text: str, made: cluster.Sketch | None = None) -> None:
    match = p.copies.find(text, exclude=article_id, made=made)
    if match is not None:
        p.store.join_cluster(article_id, match)
        p.count("clustered")
    p.copies.add(article_id, text, made)


def _load_copies(p: Pipeline) -> None:
    """Index the stories of the last few days once per cycle, for wire-copy matching."""
    p.copies = cluster.CopyIndex()
    now = datetime.now(UTC)
    rows = p.store.recent_for_clustering(now - CLUSTER_WINDOW)
    p.copies.add_many((article_id, text) for article_id, text, _c in rows)
    p.copies_upto = max((r[0] for r in rows), default=0)
    p.copies_loaded = now


def refresh_copies(p: Pipeline, look_every: timedelta = COPIES_LOOK) -> None:
    """A long-lived process's index (a Celery worker; `mediawatch run`, whose process job works
    a chunk of entries at a time): add the articles others stored since the last look, and
    start again from the window every hour (so it never grows past it). Building it from the
    window for every chunk cost `mediawatch run` a sketch of every recent article per chunk:
    3,000 articles took 136 s instead of 41 (``bench/scale.py``'s service mode)."""
    now = datetime.now(UTC)
    if p.copies_loaded is None or now - p.copies_loaded > COPIES_RELOAD:
        _load_copies(p)
        p.copies_checked = now
        return
    if p.copies_checked is not None and now - p.copies_checked < look_every:
        return
    rows = p.store.clustering_texts_after(p.copies_upto, now - CLUSTER_WINDOW)
    p.copies.add_many(r for r in rows if r[0] not in p.copies)  # (this process's own are in)
    p.copies_upto = max((r[0] for r in rows), default=p.copies_upto)
    p.copies_checked = now


def score_articles(p: Pipeline, batch: list[ScoringItem]) -> None:
    """Score stored articles (one model call for the batch) and raise their alerts.
    Safe to run again: a score is stored once per article, model and text, an alert once per
    article (and once per wire story)."""
    items = [ScoreInput(str(i.article_id), i.title, i.text, language=i.language) for i in batch]
    for item, score in zip(batch, p.scorer.score_many(items), strict=True):
        alert_article(p, item, score)


def alert_article(p: Pipeline, item: ScoringItem, score: Score) -> None:
    raise_alert(p, item, score, p.store.save_score(item.article_id, score))


def raise_alert(p: Pipeline, item: ScoringItem, score: Score, score_id: int) -> None:
    """Count the stored score and raise its alert, if it has one (once per wire story)."""
    raise_alerts(p, [(item, score, score_id)])


def raise_alerts(p: Pipeline, scored: list[tuple[ScoringItem, Score, int]]) -> None:
    """``raise_alert`` for several stored scores, in one transaction."""
    requests = []
    for item, score, score_id in scored:
        p.count("scored")
        p.count("relevant", int(score.relevant))
        config = p.feeds.outlet(item.outlet_id)  # an outlet missing from feeds.yaml is an error here
        # (the revisit sample is drawn for articles without an alert only)
        sample = not score.alert and p.rng.random() < p.settings.revisit_sample
        cap = config.letters.cap or p.settings.letter_cap
        payload = (item, score, config)
        requests.append(AlertRequest(item.article_id, score_id, score.alert, sample, cap, payload))
    hours = p.settings.revisit_schedule_hours
    outcomes = p.store.raise_alerts(requests, lambda r, wire: _draft(p, r, wire), hours)
    for outcome in outcomes:
        if outcome.joined is not None:
            p.count("wire_copies_joined")
        if outcome.alert_id is not None:
            p.count("alerts")


def _draft(p: Pipeline, request: AlertRequest, wire: WireCopy | None) -> AlertDraft | None:
    item, score, config = request.payload
    outlet = config.model_dump(mode="json")
    return draft_alert(score, _article_info(item, wire), outlet, p.templates, p.points)


def revisit_articles(p: Pipeline, now: datetime) -> None:
    """Fetch watched articles whose scheduled re-fetch has come; store what changed."""
    for target in p.store.revisit_targets(now):
        revisit_article(p, target)


def revisit_article(p: Pipeline, target: RevisitTarget) -> None:
    """Fetch one watched article again and store what changed (moves it to its next step)."""
    schedule = p.settings.revisit_schedule_hours
    page = p.fetch_page(target.url)
    doc = p.extract(page, target.outlet_id) if page.ok else None
    if doc is None or doc.status != "ok" or _teaser_of(doc, target.text):
        p.store.record_revisit(target.article_id, schedule, None)
        p.count("revisit_errors")
        return
    text, partial = partial_text(doc, target.summary)
    rev = revisit.compare(target.title, target.text, doc.title, text)
    outcome = p.store.record_revisit(
        target.article_id, schedule, (doc.title, text, rev.diff, rev.correction_note), partial
    )
    if outcome.changed and p.settings.keep_raw_pages:
        p.store.save_raw_page(
            target.article_id,
            page.final_url,
            page.body,
            page.status,
            page.content_type,
            outcome.version_id,
        )
    p.count("revisits")
    p.count("articles_changed", int(outcome.changed))
    p.count("candidate_outcomes", int(outcome.outcome_id is not None))


def _teaser_of(doc: Extracted, stored: str) -> bool:
    """A paywalled re-fetch shorter than what is stored is the paywall, not an edit."""
    return doc.paywalled and len(doc.text.split()) < len(stored.split())


def prune_raw_pages(p: Pipeline, now: datetime) -> None:
    s = p.settings
    p.count("raw_pages_pruned", p.store.prune_raw_pages(now, s.raw_page_days, s.raw_page_alerted_days))


def run_cycle(p: Pipeline, progress: Progress | None = None) -> dict[str, int]:
    """One full cycle; recorded in the runs table, errors included."""
    p.stats = {}
    run_id = p.store.start_run("cycle")
    now = datetime.now(UTC)
    own_workers = p.workers is None  # (`mediawatch run` keeps its own between cycles)
    if own_workers:
        p.workers = WorkerPool(p.settings)
    try:
        poll_sources(p, now)
        process_entries(p, progress)
        revisit_articles(p, now)
        prune_raw_pages(p, now)
        p.count("reprioritised", p.store.reprioritise(priority, now))
    except Exception as exc:
        p.store.finish_run(run_id, p.stats, "failed", f"{type(exc).__name__}: {exc}")
        raise
    finally:
        if own_workers and p.workers is not None:
            p.workers.close()
            p.workers = None
    p.store.finish_run(run_id, p.stats)
    log.info("cycle done %s", " ".join(f"{k}={v}" for k, v in sorted(p.stats.items())))
    return dict(p.stats)
