"""A synthetic MediaWatch database for bench/web.py: outlets, articles, scores, alerts with their
suggested drafts, users, claims, letters, outcomes and audit entries, all consistent with each
other (claims_taken = active + sent claims <= letter_cap; letters_sent = sent claims).

    .venv/bin/python bench/web_seed.py --db /tmp/web.db [--alerts 100000] [--articles 1000000]

The schema comes from the migrations (``Store.open``); users are made with ``store.create_user``;
everything else is bulk-inserted with SQLAlchemy Core ``insert()`` (executemany, 20,000 rows a
batch, one transaction per table) on the tables of ``pipeline.store.schema``, so Python-side
defaults and the stored formats of datetimes and JSON are the application's own. Texts are made of
~15-word sentences dealt from a pool built from small English and French word lists: ~150 words an
article, ~180 a draft letter. A JSON file beside the database (``<db>.seed.json``) records what was
made, so ``--db`` can reuse it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import resource
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import Table, create_engine, event, insert  # noqa: E402
from sqlalchemy.engine import Connection  # noqa: E402

from pipeline.config import load_feeds  # noqa: E402
from pipeline.demo import DEMO_FEEDS  # noqa: E402
from pipeline.records import CATEGORIES  # noqa: E402
from pipeline.store import Store  # noqa: E402
from pipeline.store.schema import (  # noqa: E402
    Alert,
    AlertCategory,
    Article,
    AuditEntry,
    Claim,
    Cluster,
    Letter,
    Outcome,
    ScoreRow,
)

BATCH = 20_000


def _words(text: str) -> list[str]:
    return text.split()


PASSWORD = "bench-password-123"  # every bench user's; hashed once with argon2
STATUS_MIX = (  # the share of alerts in each state
    ("new", 0.20),
    ("open", 0.50),
    ("claimed", 0.15),
    ("sent", 0.10),
    ("closed", 0.03),
    ("dismissed", 0.02),
)
# How often each complaint category is found (relative); praise alerts carry good_coverage alone.
CATEGORY_WEIGHTS = {
    "agentless_casualties": 10,
    "casualty_doubt": 4,
    "missing_context": 8,
    "one_sided_sourcing": 8,
    "loaded_language": 9,
    "dehumanization": 3,
    "protest_smear": 3,
    "islamophobia": 1,
    "double_standard": 4,
    "headline_framing": 6,
    "factual_error": 2,
}
PRAISE_SHARE = 0.05
WIRE_SHARE = 0.05  # alerted articles that are wire copy, grouped with two other outlets' copies
SPAN = timedelta(days=730)  # articles are spread over the two years before the seed

EN_WORDS = _words(
    """the a of to in and said on for that with was by at from as were is after his her their officials
military strike killed people civilians city north south border government minister army forces
report reports week hospital families children women men school building homes aid workers
ceasefire talks police protest protesters students university council residents local health
ministry figures death toll rose according statement told reporters spokesperson president prime
national international agency news conference morning night attack attacks camp refugee area
region town village street road water food power fuel shortage crossing trucks convoy medical
supplies doctors nurses patients injured wounded dozens hundreds thousands several three four
five many some most other new former senior security group armed fighters militants soldiers
operation operations launched targeted destroyed damaged evacuation orders displaced shelter
tents winter rain cold journalists photographers media outlet editors letter readers community
leaders mosque church synagogue rally march vigil peaceful crowd chanted banners signs calls
demands investigation inquiry court judge law rights groups amnesty human watch united nations
secretary general humanitarian crisis famine warning warned experts analysts economy prices jobs
budget election vote party opposition leader campaign debate parliament committee hearing
witness evidence documents
"""
)
FR_WORDS = _words(
    """le la les un une des de du et à en dans sur pour par avec selon a ont été est sont frappe
frappes armée forces tués civils ville nord sud frontière gouvernement ministre hôpital familles
enfants femmes hommes école bâtiment maisons aide travailleurs cessez-le-feu pourparlers police
manifestation manifestants étudiants université conseil résidents santé bilan morts hausse
déclaration journalistes porte-parole président premier national agence presse conférence matin
nuit attaque camp réfugiés région village rue route eau nourriture électricité carburant pénurie
passage camions convoi médical fournitures médecins patients blessés dizaines centaines milliers
plusieurs trois quatre cinq nombreux autres nouveau ancien sécurité groupe armés combattants
soldats opération lancé ciblé détruit endommagé évacuation ordres déplacés abri tentes hiver
pluie froid médias rédacteurs lettre lecteurs communauté dirigeants mosquée église synagogue
rassemblement marche veillée pacifique foule droits enquête tribunal juge loi nations unies
secrétaire humanitaire crise famine avertissement
"""
)
FIRST = _words(
    """Alex Sam Jordan Marie Louis Chantal Omar Leila Priya David Sarah Noor Julien Anne
"""
)
LAST = _words(
    """Tremblay Gagnon Roy Smith Brown Wilson Khalil Haddad Singh Martin Côté Nguyen Levy
"""
)


@dataclass
class SeedInfo:
    articles: int
    alerts: int
    responders: int
    analysts: int
    seed: int
    now: str
    seconds: dict[str, float] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    peak_rss_mb: float = 0.0
    outlets: list[str] = field(default_factory=list)
    alerts_by_status: dict[str, int] = field(default_factory=dict)
    complete: bool = False


def info_path(db: Path) -> Path:
    return db.with_name(db.name + ".seed.json")


def load_info(db: Path) -> SeedInfo | None:
    path = info_path(db)
    if not db.is_file() or not path.is_file():
        return None
    data = json.loads(path.read_text())
    info = SeedInfo(**data)
    return info if info.complete else None


def responder_email(i: int) -> str:
    return f"responder{i:04d}@bench.example"


def analyst_email(i: int) -> str:
    return f"analyst{i:02d}@bench.example"


# --- Text ----------------------------------------------------------------------------------------


class Prose:
    """Sentences of 8-22 words dealt from a word list; texts keep each sentence's offset."""

    def __init__(self, words: Sequence[str], rng: random.Random, n: int = 4000) -> None:
        self.rng = rng
        self.sentences = []
        for _ in range(n):
            ws = rng.choices(words, k=rng.randint(8, 22))
            s = " ".join(ws)
            self.sentences.append(s[0].upper() + s[1:] + ".")
        self.titles = []
        for _ in range(n):
            s = " ".join(rng.choices(words, k=rng.randint(6, 12)))
            self.titles.append(s[0].upper() + s[1:])

    def text(self, sentences: int = 10, per_paragraph: int = 3) -> str:
        picked = self.rng.choices(self.sentences, k=sentences)
        paras = [" ".join(picked[i : i + per_paragraph]) for i in range(0, sentences, per_paragraph)]
        return "\n".join(paras)

    def text_with_spans(
        self, sentences: int = 10, per_paragraph: int = 3
    ) -> tuple[str, list[tuple[int, int]]]:
        picked = self.rng.choices(self.sentences, k=sentences)
        out: list[str] = []
        spans: list[tuple[int, int]] = []
        pos = 0
        for i, s in enumerate(picked):
            if i:
                sep = "\n" if i % per_paragraph == 0 else " "
                out.append(sep)
                pos += 1
            spans.append((pos, pos + len(s)))
            out.append(s)
            pos += len(s)
        return "".join(out), spans

    def title(self) -> str:
        return self.rng.choice(self.titles)


# --- Seeding -------------------------------------------------------------------------------------


def _fast_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=DELETE")  # no WAL copy of a gigabyte of new pages
    cur.execute("PRAGMA synchronous=OFF")
    cur.execute("PRAGMA cache_size=-262144")  # 256 MB
    cur.execute("PRAGMA foreign_keys=OFF")
    cur.close()


def _insert(conn: Connection, table: Table, rows: Iterator[dict[str, Any]], counts: dict[str, int]) -> None:
    """executemany in batches; every row must name the same columns (SQLAlchemy compiles the
    statement from the first row's keys and would drop others' extra ones)."""
    batch: list[dict[str, Any]] = []
    keys: set[str] | None = None
    for row in rows:
        if keys is None:
            keys = set(row)
        elif set(row) != keys:
            raise ValueError(f"{table.name}: a row names {sorted(set(row) ^ keys)} unlike the first")
        batch.append(row)
        if len(batch) >= BATCH:
            conn.execute(insert(table), batch)
            counts[table.name] = counts.get(table.name, 0) + len(batch)
            batch = []
    if batch:
        conn.execute(insert(table), batch)
        counts[table.name] = counts.get(table.name, 0) + len(batch)


def _pick_status(rng: random.Random) -> str:
    x, acc = rng.random(), 0.0
    for status, share in STATUS_MIX:
        acc += share
        if x < acc:
            return status
    return STATUS_MIX[-1][0]


def _categories(rng: random.Random) -> list[str]:
    names, weights = list(CATEGORY_WEIGHTS), list(CATEGORY_WEIGHTS.values())
    k = rng.choices((1, 2, 3), weights=(5, 3, 2))[0]
    picked: list[str] = []
    while len(picked) < k:
        c = rng.choices(names, weights=weights)[0]
        if c not in picked:
            picked.append(c)
    return picked


class Seeder:
    """Builds the rows; one method per table group, all sharing the random stream and the plan."""

    def __init__(self, db: Path, n_articles: int, n_alerts: int, responders: int, analysts: int, seed: int):
        if db.exists():
            raise SystemExit(f"{db} exists; give a new path or reuse a finished one")
        self.db, self.url = db, f"sqlite:///{db}"
        self.n_articles, self.n_alerts = n_articles, n_alerts
        self.rng = random.Random(seed)
        self.now = datetime.now(UTC).replace(microsecond=0)
        self.info = SeedInfo(n_articles, n_alerts, responders, analysts, seed, self.now.isoformat())
        self.prose = {"en": Prose(EN_WORDS, self.rng), "fr": Prose(FR_WORDS, self.rng)}
        self.counts: dict[str, int] = {}
        self.alert_text: dict[int, tuple[str, list[tuple[int, int]], str]] = {}
        self.rows: dict[str, list[dict[str, Any]]] = {
            "scores": [],
            "alerts": [],
            "letters": [],
            "claims": [],
            "outcomes": [],
            "audit_log": [],
            "alert_categories": [],
        }

    # ------------------------------------------------------------------ through the store
    def users(self) -> None:
        """Schema, outlets and users as the application makes them."""
        from pipeline.web.auth import hash_password

        store = Store.open(self.url)
        feeds = load_feeds(DEMO_FEEDS, "http://127.0.0.1:1")
        store.sync_outlets(feeds)
        self.outlets = list(feeds.outlets)
        self.info.outlets = [o.id for o in self.outlets]
        pw = hash_password(PASSWORD)  # once: argon2 takes tens of milliseconds
        self.admin_id = store.create_user("admin@bench.example", "admin", pw, name="Bench Admin")
        for i in range(self.info.analysts):
            store.create_user(analyst_email(i), "analyst", pw, name=f"Analyst {i}")
        rng = self.rng
        self.responder_ids = [
            store.create_user(
                responder_email(i),
                "responder",
                pw,
                name=f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                language="fr" if i % 5 == 0 else "en",
            )
            for i in range(self.info.responders)
        ]
        store.close()

    # ------------------------------------------------------------------ the plan
    def plan(self) -> None:
        """Which articles are alerted, each article's outlet, and the wire-copy clusters: one
        alerted article in twenty with the next two unalerted articles as other outlets' copies."""
        rng, n = self.rng, self.n_articles
        self.alerted = sorted(rng.sample(range(1, n + 1), self.n_alerts))
        alerted_set = set(self.alerted)
        self.wire_of: dict[int, int] = {}
        self.clusters: list[dict[str, Any]] = []
        for art in self.alerted:
            if rng.random() >= WIRE_SHARE:
                continue
            members = [art]
            nxt = art + 1
            while len(members) < 3 and nxt <= n:
                if nxt not in alerted_set and nxt not in self.wire_of:
                    members.append(nxt)
                nxt += 1
            cid = len(self.clusters) + 1
            self.wire_of.update(dict.fromkeys(members, cid))
            self.clusters.append(
                {
                    "id": cid,
                    "originator": "The Canadian Press",
                    "origin_article_id": art,
                    "created_at": self.now,
                }
            )
        weights = [o.reach for o in self.outlets]
        self.outlet_of = [0, *rng.choices(range(len(self.outlets)), weights=weights, k=n)]
        self.alerted_set = alerted_set
        self.step = SPAN / n
        self.start = self.now - SPAN

    def published(self, article_id: int) -> datetime:
        return self.start + self.step * article_id

    # ------------------------------------------------------------------ articles
    def articles(self) -> Iterator[dict[str, Any]]:
        rng = self.rng
        for i in range(1, self.n_articles + 1):
            o = self.outlets[self.outlet_of[i]]
            p = self.prose[o.language]
            title = p.title()
            if i in self.alerted_set:
                text, spans = p.text_with_spans()
                self.alert_text[i] = (text, spans, title)
            else:
                text = p.text()
            when = self.published(i)
            cid = self.wire_of.get(i)
            yield {
                "id": i,
                "url": f"https://{o.id}.example/news/{when:%Y/%m/%d}/{i:07d}",
                "outlet_id": o.id,
                "title": title,
                "text": text,
                "summary": text[:160],
                "published_at": when,
                "language": o.language,
                "authors": [f"{rng.choice(FIRST)} {rng.choice(LAST)}"],
                "status": "ok",
                "wire_agency": "The Canadian Press" if cid else None,
                "cluster_id": cid,
                "section": "news",
                "paywalled": False,
                "partial": i % 97 == 0,
                "partial_reason": "paywall: the page gave a teaser" if i % 97 == 0 else None,
                "content_hash": hashlib.blake2b(text.encode(), digest_size=32).hexdigest(),
                "first_seen_at": when + timedelta(minutes=7),
                "last_fetched_at": when + timedelta(minutes=7),
            }

    # ------------------------------------------------------------------ alerts and their rows
    def alerts(self) -> None:
        for alert_id, art in enumerate(self.alerted, start=1):
            self.one_alert(alert_id, art)
        self.rows["audit_log"].sort(key=lambda r: r["at"])

    def one_alert(self, alert_id: int, art: int) -> None:
        rng, rows = self.rng, self.rows
        o = self.outlets[self.outlet_of[art]]
        text, spans, title = self.alert_text.pop(art)
        created = self.published(art) + timedelta(minutes=40)
        praise = rng.random() < PRAISE_SHARE
        cats = ["good_coverage"] if praise else _categories(rng)
        severity = round(rng.uniform(0.3, 1.0), 4)
        age_days = (self.now - created).total_seconds() / 86400
        evidence = self.evidence(cats, text, spans)
        rows["scores"].append(self.score(alert_id, art, cats, severity, praise, evidence, created))
        status = _pick_status(rng)
        self.info.alerts_by_status[status] = self.info.alerts_by_status.get(status, 0) + 1
        cap = 3 if rng.random() < 0.8 else rng.choice((1, 2, 5))
        triaged_at = created + timedelta(hours=2) if status != "new" else None
        analyst = analyst_email(rng.randrange(self.info.analysts)) if triaged_at else None
        active = sent = 0
        if status == "claimed":
            active = rng.randint(1, cap)
        elif status == "sent":
            sent = rng.randint(1, cap)
            active = rng.randint(0, cap - sent)
        elif status == "closed":
            sent = rng.randint(1, cap)
        first_sent = triaged_at + timedelta(hours=20) if sent and triaged_at else None
        self.letter(alert_id, o, None, f"About “{title}”", created, None, 12)
        if triaged_at:
            rows["audit_log"].append(
                _audit(triaged_at, analyst or "", "alert_approved", alert_id, {"letter_cap": cap})
            )
        self.claims(alert_id, o, title, triaged_at or created, active, sent, first_sent)
        if status == "closed":
            kind = rng.choice(("letter_published", "correction", "editors_note"))
            rows["outcomes"].append(
                {
                    "alert_id": alert_id,
                    "kind": kind,
                    "note": "",
                    "confirmed": True,
                    "recorded_by": self.admin_id,
                    "created_at": self.now - timedelta(days=1),
                }
            )
        priority = round(0.5 * severity + 0.06 * o.reach + 0.3 * math.exp(-age_days / 14), 5)
        rows["alert_categories"].extend(  # the queue's category index (migration 0008)
            {
                "alert_id": alert_id,
                "category": c,
                "priority": priority,
                "outlet_id": o.id,
                "language": o.language,
            }
            for c in cats
        )
        rows["alerts"].append(
            {
                "id": alert_id,
                "article_id": art,
                "outlet_id": o.id,
                "language": o.language,
                "score_id": alert_id,
                "status": status,
                "kind": "praise" if praise else "complaint",
                "severity": severity,
                "priority": priority,
                "categories": cats,
                "summary": f"{o.name}: " + ", ".join(c.replace("_", " ") for c in cats),
                "evidence": evidence,
                "created_at": created,
                "updated_at": triaged_at or created,
                "explanation": self.prose["en"].text(sentences=2) if triaged_at else None,
                "triaged_by": analyst,
                "triaged_at": triaged_at,
                "dismiss_reason": "not about the conflict" if status == "dismissed" else None,
                "letter_cap": cap,
                "claims_taken": active + sent,
                "letters_sent": sent,
                "first_sent_at": first_sent,
            }
        )
        rows["audit_log"].append(_audit(created, "pipeline", "alert_raised", alert_id, {"article_id": art}))

    def evidence(self, cats: list[str], text: str, spans: list[tuple[int, int]]) -> list[dict[str, Any]]:
        rng, out = self.rng, []
        for c in cats:
            for _ in range(rng.randint(1, 2)):
                a, b = spans[rng.randrange(len(spans))]
                out.append(
                    {
                        "category": c,
                        "quote": text[a:b],
                        "start": a,
                        "end": b,
                        "source": f"rule:{c}-{rng.randint(1, 9)}" if rng.random() < 0.7 else "model",
                        "field": "text",
                        "explanation": "This passage " + self.prose["en"].title().lower() + ".",
                        "replacement": None,
                    }
                )
        return out

    def score(
        self,
        alert_id: int,
        art: int,
        cats: list[str],
        severity: float,
        praise: bool,
        evidence: list[dict[str, Any]],
        created: datetime,
    ) -> dict[str, Any]:
        rng = self.rng
        probs = {c: round(rng.uniform(0.0, 0.3), 3) for c in CATEGORIES}
        probs.update({c: round(rng.uniform(0.6, 0.99), 3) for c in cats})
        return {
            "id": alert_id,
            "article_id": art,
            "model_version": "bench-1",
            "content_hash": "",
            "relevant": True,
            "relevance": round(rng.uniform(0.6, 1.0), 3),
            "categories": probs,
            "alert": True,
            "kind": "praise" if praise else "complaint",
            "severity": severity,
            "evidence": [
                {k: e[k] for k in ("category", "quote", "start", "end", "source", "field")} for e in evidence
            ],
            "created_at": created,
        }

    def letter(
        self,
        alert_id: int,
        o: Any,
        user_id: int | None,
        subject: str,
        created: datetime,
        sent_at: datetime | None,
        sentences: int,
    ) -> int:
        """A letter row: the suggested draft (no user) or a responder's sent letter; its id."""
        body = self.prose[o.language].text(sentences=sentences, per_paragraph=4)
        letters = self.rows["letters"]
        letters.append(
            {
                "id": len(letters) + 1,
                "alert_id": alert_id,
                "user_id": user_id,
                "is_draft": sent_at is None,
                "language": o.language,
                "recipient": o.letters.email,
                "subject": subject,
                "body": body,
                "word_count": len(body.split()),
                "word_limit": o.letters.word_limit,
                "created_at": created,
                "sent_at": sent_at,
                "shared": user_id is not None and self.rng.random() < 0.3,
                "updated_at": sent_at,
            }
        )
        return len(letters)

    def claims(
        self,
        alert_id: int,
        o: Any,
        title: str,
        opened: datetime,
        active: int,
        sent: int,
        first_sent: datetime | None,
    ) -> None:
        """*active* + *sent* claims by distinct responders; a sent claim has its letter."""
        rng, rows = self.rng, self.rows
        for n, who in enumerate(rng.sample(self.responder_ids, active + sent)):
            is_sent = n < sent
            claimed_at = opened + timedelta(hours=rng.uniform(0.5, 12))
            letter_id = None
            if is_sent:
                letter_id = self.letter(
                    alert_id, o, who, f"Your article “{title}”", claimed_at, first_sent, 9
                )
            rows["claims"].append(
                {
                    "alert_id": alert_id,
                    "user_id": who,
                    "claimed_at": claimed_at,
                    "status": "sent" if is_sent else "active",
                    "sent_at": first_sent if is_sent else None,
                    "letter_id": letter_id,
                }
            )
            rows["audit_log"].append(_audit(claimed_at, responder_email(who), "alert_claimed", alert_id, {}))


def _audit(at: datetime, actor: str, action: str, alert_id: int, detail: dict[str, Any]) -> dict[str, Any]:
    return {
        "at": at,
        "actor": actor,
        "action": action,
        "object_type": "alert",
        "object_id": str(alert_id),
        "detail": detail,
    }


TABLES = {
    "scores": ScoreRow.__table__,
    "alerts": Alert.__table__,
    "alert_categories": AlertCategory.__table__,
    "letters": Letter.__table__,
    "claims": Claim.__table__,
    "outcomes": Outcome.__table__,
    "audit_log": AuditEntry.__table__,
}


def seed(
    db: Path,
    n_articles: int,
    n_alerts: int,
    responders: int = 400,
    analysts: int = 20,
    seed_value: int = 20261201,
    log: Any = None,
) -> SeedInfo:
    """Build the database at *db* (which must not exist yet)."""
    say = log or (lambda *_a: None)
    sd = Seeder(db, n_articles, n_alerts, responders, analysts, seed_value)
    info, t_all = sd.info, time.perf_counter()
    t0 = time.perf_counter()
    sd.users()
    info.seconds["schema_users"] = round(time.perf_counter() - t0, 2)
    say(f"schema, outlets, {1 + analysts + responders} users: {info.seconds['schema_users']} s")
    sd.plan()
    engine = create_engine(sd.url)
    event.listen(engine, "connect", _fast_pragmas)
    t0 = time.perf_counter()
    with engine.begin() as conn:
        _insert(conn, Cluster.__table__, iter(sd.clusters), sd.counts)  # type: ignore[arg-type]
        _insert(conn, Article.__table__, sd.articles(), sd.counts)  # type: ignore[arg-type]
    info.seconds["articles"] = round(time.perf_counter() - t0, 2)
    say(f"{n_articles:,} articles: {info.seconds['articles']} s")
    t0 = time.perf_counter()
    sd.alerts()
    with engine.begin() as conn:
        for name, table in TABLES.items():
            _insert(conn, table, iter(sd.rows[name]), sd.counts)  # type: ignore[arg-type]
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA journal_mode=WAL")
    engine.dispose()
    info.seconds["alerts"] = round(time.perf_counter() - t0, 2)
    say(f"{n_alerts:,} alerts and their rows: {info.seconds['alerts']} s")
    info.rows = sd.counts
    info.alerts_by_status = dict(sorted(info.alerts_by_status.items()))
    info.seconds["total"] = round(time.perf_counter() - t_all, 2)
    info.peak_rss_mb = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    info.complete = True
    info_path(db).write_text(json.dumps(asdict(info), indent=1))
    return info


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", type=Path, required=True)
    ap.add_argument("--articles", type=int, default=1_000_000)
    ap.add_argument("--alerts", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=20261201)
    args = ap.parse_args()
    info = seed(
        args.db, args.articles, args.alerts, seed_value=args.seed, log=lambda m: print(m, file=sys.stderr)
    )
    print(json.dumps(asdict(info), indent=1))


if __name__ == "__main__":
    main()
