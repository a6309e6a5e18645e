"""The web app under load: queue and alert pages with 100,000 alerts and 1,000,000 articles in
SQLite, and claims by 50 responders at once.

    .venv/bin/python bench/web.py [--quick] [--db PATH] [--seconds 10] [--repeat 3] [--clients 20]
                                  [--claimers 50] [--claim-alerts 200] [--claims-mode auto|http|store]

1. Seeding (``bench/web_seed.py``, in its own process): a fresh SQLite file in a temporary folder
   (or ``--db PATH``, made once and reused) with the demo outlets, 1,000,000 articles of ~150 words,
   100,000 alerts (new 20 %, open 50 %, claimed 15 %, sent 10 %, closed 3 %, dismissed 2 %) each
   with its score, evidence and suggested draft, consistent claims, responders' letters, outcomes
   and audit entries. ``--quick``: 10,000 alerts and 100,000 articles, one 4-second round, 50
   alerts to claim (a smoke run of about a minute).
2. The app (``pipeline.web.create_app``, ``cookie_secure=False``) runs in a uvicorn process with
   one worker on 127.0.0.1; the clients run in this process (threads, one ``httpx.Client`` and one
   signed-in session each). The server also gets one bench-only route, ``/bench/hello``: a bare
   async Starlette endpoint, the framework's floor (it still passes the app's middleware).
3. Load: ``--clients`` clients, each sending its next request as soon as the last one is answered,
   for ``--seconds`` after a warm-up, on one page at a time: ``/healthz`` (the reference) and
   ``/bench/hello``; the queue ``/alerts`` as a responder and as an analyst; the queue filtered by
   category and outlet (and other filter combinations); the alert page ``/alerts/{id}`` of a random
   alert as a responder (alerts opened to responders) and as an analyst (any alert). Each phase is
   repeated ``--repeat`` times, interleaved. Per page: median and 95th-percentile latency,
   requests/s, the server's CPU per request (its /proc times over the measured seconds), p95 and
   CPU per request over healthz's in the same round, and whether p95 <= 150 ms; the figures are
   medians over the rounds.
4. Claims: ``--claimers`` responders (one session each) claim ``--claim-alerts`` open alerts
   with letter_cap 3, each in their own random order (``spread``), then all of them claim the same
   alert at the same instant, for 20 alerts in turn (``stampede``). ``--claims-mode http`` posts
   ``/api/alerts/{id}/claim``; ``store`` calls ``Store.claim`` from threads in this process (the
   same code the route runs, without HTTP); ``auto`` takes http when the route exists. Reported:
   claims answered per second, successes, refusals by reason, HTTP 5xx (must be 0), and the cap
   check over the whole database: for every alert, active + sent claims <= letter_cap and
   == claims_taken (``cap_violations`` must be 0).

Prints one JSON object. Peak memory: the server's (VmHWM), the seeder's and this process's.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import httpx  # noqa: E402

TARGET_P95_MS = 150.0
FULL = {"articles": 1_000_000, "alerts": 100_000}
QUICK = {"articles": 100_000, "alerts": 10_000}
STAMPEDE_ALERTS = 20
RESPONDER_VISIBLE = ("open", "claimed", "sent", "closed")


# --- Server --------------------------------------------------------------------------------------


def serve(db: Path, port: int) -> None:
    """The server process: the app as deployed, plus /bench/hello."""
    import uvicorn
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse

    from pipeline.settings import Settings
    from pipeline.web import create_app

    settings = Settings(_env_file=None, database_url=f"sqlite:///{db}", cookie_secure=False)  # type: ignore[call-arg]
    app = create_app(settings)

    async def hello(_request: Request) -> PlainTextResponse:
        return PlainTextResponse("hello")

    app.add_route("/bench/hello", hello)
    uvicorn.run(app, host="127.0.0.1", port=port, workers=1, log_level="warning", access_log=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(db: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--db", str(db), "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}")
        try:
            if httpx.get(base + "/healthz", timeout=2).status_code in (200, 503):  # 503: no scheduler
                return proc, base
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the server did not answer /healthz within 60 s")


def proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


# --- Sessions ------------------------------------------------------------------------------------


def sign_in(db: Path, emails: list[str]) -> list[dict[str, Any]]:
    """A new one-hour session for each user: the cookie, the CSRF header, and who it is."""
    from pipeline.store import Store

    store = Store(f"sqlite:///{db}")
    out = []
    for email in emails:
        found = store.user_login(email)
        if found is None:
            raise SystemExit(f"no user {email} in {db}")
        user = found[0]
        token, csrf = store.create_session(user.id, timedelta(hours=1))
        out.append({"user": user, "cookies": {"mw_session": token}, "headers": {"X-CSRF-Token": csrf}})
    store.close()
    return out


# --- Load ----------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def run_phase(
    base: str,
    sessions: list[dict[str, Any]],
    path_for: Callable[[random.Random], str],
    seconds: float,
    warmup: float,
    server_pid: int,
    seed: int,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Every session a client in its own thread, sending requests back to back."""
    ready, go = threading.Barrier(len(sessions) + 1), threading.Barrier(len(sessions) + 1)
    results: list[list[tuple[float, float, int]]] = [[] for _ in sessions]
    bounds: dict[str, float] = {}

    def client(i: int) -> None:
        rng = random.Random(seed * 1000 + i)
        sess = sessions[i]
        with httpx.Client(
            base_url=base,
            cookies=sess["cookies"],
            headers={**sess["headers"], **(headers or {})},
            timeout=60,
        ) as c:
            c.get("/healthz")  # connect before the clock starts
            ready.wait()
            go.wait()
            out = results[i]
            end = bounds["end"]
            while True:
                t0 = time.perf_counter()
                if t0 >= end:
                    break
                try:
                    status = c.get(path_for(rng)).status_code
                except httpx.HTTPError:
                    status = -1
                out.append((t0, time.perf_counter() - t0, status))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(sessions))]
    for t in threads:
        t.start()
    ready.wait()
    start = time.perf_counter()
    bounds["measure_from"] = start + warmup
    bounds["end"] = start + warmup + seconds
    go.wait()
    time.sleep(warmup)
    cpu0 = proc_cpu_s(server_pid)
    for t in threads:
        t.join()
    cpu1 = proc_cpu_s(server_pid)
    window = seconds
    kept = [(d, s) for per in results for (t0, d, s) in per if t0 >= bounds["measure_from"]]
    lat = [d * 1000 for d, _s in kept]
    statuses = Counter(s for _d, s in kept)
    return {
        "requests": len(kept),
        "median_ms": round(statistics.median(lat), 2) if lat else None,
        "p95_ms": round(percentile(lat, 0.95), 2),
        "p99_ms": round(percentile(lat, 0.99), 2),
        "max_ms": round(max(lat), 1) if lat else None,
        "rps": round(len(kept) / window, 1),
        "server_cpu_ms_per_request": round((cpu1 - cpu0) * 1000 / max(1, len(kept)), 2),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
    }


def id_lists(db: Path) -> tuple[list[int], list[int], list[str], list[str]]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    visible = [
        r[0]
        for r in con.execute(
            f"SELECT id FROM alerts WHERE status IN ({','.join('?' * len(RESPONDER_VISIBLE))})",
            RESPONDER_VISIBLE,
        )
    ]
    every = [r[0] for r in con.execute("SELECT id FROM alerts")]
    outlets = [r[0] for r in con.execute("SELECT id FROM outlets ORDER BY id")]
    con.close()
    from pipeline.records import CATEGORIES

    return visible, every, outlets, list(CATEGORIES)


def pages(db: Path) -> dict[str, tuple[str, Callable[[random.Random], str]]]:
    """Phase name -> (who: responder|analyst, path maker)."""
    visible, every, outlets, categories = id_lists(db)

    def filtered(rng: random.Random) -> str:
        # half the brief's combination (category and outlet), the rest other filters people use
        pick = rng.random()
        if pick < 0.5:
            return f"/alerts?category={rng.choice(categories)}&outlet={rng.choice(outlets)}"
        if pick < 0.65:
            return f"/alerts?category={rng.choice(categories)}"
        if pick < 0.8:
            return f"/alerts?outlet={rng.choice(outlets)}"
        if pick < 0.9:
            return f"/alerts?language={rng.choice(('en', 'fr'))}&category={rng.choice(categories)}"
        return f"/alerts?status={rng.choice(RESPONDER_VISIBLE)}&outlet={rng.choice(outlets)}"

    return {
        "healthz": ("responder", lambda rng: "/healthz"),
        "hello": ("responder", lambda rng: "/bench/hello"),
        "queue_responder": ("responder", lambda rng: "/alerts"),
        "queue_analyst": ("analyst", lambda rng: "/alerts"),
        "queue_filtered": ("responder", filtered),
        "alert_responder": ("responder", lambda rng: f"/alerts/{rng.choice(visible)}"),
        "alert_analyst": ("analyst", lambda rng: f"/alerts/{rng.choice(every)}"),
    }


# --- Claims --------------------------------------------------------------------------------------


def route_exists(base: str, session: dict[str, Any]) -> bool:
    """Whether POST /api/alerts/{id}/claim is served (an unknown alert: 404 from the route with a
    JSON detail, or 404/405 from the router when there is no such route)."""
    r = httpx.post(
        base + "/api/alerts/999999999/claim",
        cookies=session["cookies"],
        headers=session["headers"],
        timeout=10,
    )
    if r.status_code == 405:
        return False
    if r.status_code == 404:
        try:
            return bool(r.json().get("detail") != "Not Found")
        except ValueError:
            return False
    return True


def claim_targets(db: Path, n: int, rng: random.Random) -> list[int]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    ids = [
        r[0]
        for r in con.execute(
            "SELECT id FROM alerts WHERE status = 'open' AND claims_taken = 0 AND letter_cap = 3"
        )
    ]
    con.close()
    if len(ids) < n:
        raise SystemExit(f"only {len(ids)} unclaimed open alerts left in the database; seed a new one")
    return rng.sample(ids, n)


Attempt = tuple[int, float, str, int]  # alert id, seconds, reason, HTTP status


def reason_of(text: str) -> str:
    """'cap reached: all 3 letter slots for alert 12 are taken' -> 'cap reached'."""
    return re.sub(r"\d+", "N", text.split(":", 1)[0]).strip()


def claim_http(c: httpx.Client, alert_id: int) -> tuple[float, str, int]:
    t0 = time.perf_counter()
    try:
        r = c.post(f"/api/alerts/{alert_id}/claim")
    except httpx.HTTPError as exc:
        return time.perf_counter() - t0, f"transport error: {type(exc).__name__}", -1
    dt = time.perf_counter() - t0
    try:
        body = r.json()
    except ValueError:
        return dt, "answer not JSON", r.status_code
    if not isinstance(body, dict):
        return dt, "unexpected JSON", r.status_code
    if 200 <= r.status_code < 300:
        return dt, reason_of(str(body.get("reason") or "claimed")), r.status_code
    return dt, reason_of(str(body.get("detail") or "")), r.status_code


def claim_store(store: Any, user: Any, alert_id: int) -> tuple[float, str, int]:
    t0 = time.perf_counter()
    try:
        res = store.claim(alert_id, user)
    except Exception as exc:  # counted as a server error
        return time.perf_counter() - t0, f"error: {type(exc).__name__}", 500
    return time.perf_counter() - t0, res.reason, 200 if res.ok else 409


def run_claims(
    base: str, db: Path, sessions: list[dict[str, Any]], spread: list[int], stampede: list[int], mode: str
) -> dict[str, Any]:
    """Every claimer in its own thread: the spread alerts in its own order, then the stampede alerts
    one at a time, all claimers released together for each."""
    from pipeline.store import Store

    store = Store(f"sqlite:///{db}") if mode == "store" else None
    n = len(sessions)
    barrier = threading.Barrier(n)
    records: dict[str, list[list[Attempt]]] = {
        "spread": [[] for _ in range(n)],
        "stampede": [[] for _ in range(n)],
    }
    marks: dict[str, list[float]] = {"spread": [], "stampede": []}  # list.append is atomic

    def claimer(i: int) -> None:
        sess = sessions[i]
        order = spread[:]
        random.Random(7919 * (i + 1)).shuffle(order)
        c = httpx.Client(base_url=base, cookies=sess["cookies"], headers=sess["headers"], timeout=60)
        with c:
            c.get("/healthz")  # connected before the start

            def once(alert_id: int) -> Attempt:
                if store is not None:
                    return (alert_id, *claim_store(store, sess["user"], alert_id))
                return (alert_id, *claim_http(c, alert_id))

            barrier.wait()
            marks["spread"].append(time.perf_counter())
            records["spread"][i].extend(once(a) for a in order)
            marks["spread"].append(time.perf_counter())
            for alert_id in stampede:
                barrier.wait()
                marks["stampede"].append(time.perf_counter())
                records["stampede"][i].append(once(alert_id))
                marks["stampede"].append(time.perf_counter())

    threads = [threading.Thread(target=claimer, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if store is not None:
        store.close()
    out: dict[str, Any] = {"mode": mode, "claimers": n}
    for phase, alerts in (("spread", spread), ("stampede", stampede)):
        out[phase] = claim_figures([r for rows in records[phase] for r in rows], marks[phase], alerts)
    return out


def claim_figures(flat: list[Attempt], marks: list[float], alerts: list[int]) -> dict[str, Any]:
    lat = [d * 1000 for _a, d, _r, _s in flat]
    reasons = Counter(r for _a, _d, r, _s in flat)
    statuses = Counter(s for _a, _d, _r, s in flat)
    wall = max(marks) - min(marks)
    wins = Counter(a for a, _d, r, _s in flat if r == "claimed")
    return {
        "alerts": len(alerts),
        "attempts": len(flat),
        "wall_s": round(wall, 2),
        "claims_answered_per_s": round(len(flat) / wall, 1),
        "successes": reasons.get("claimed", 0),
        "successes_per_s": round(reasons.get("claimed", 0) / wall, 1),
        "reasons": dict(reasons.most_common()),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "http_5xx": sum(v for k, v in statuses.items() if k >= 500),
        "transport_errors": statuses.get(-1, 0),
        "median_ms": round(statistics.median(lat), 1),
        "p95_ms": round(percentile(lat, 0.95), 1),
        "alerts_without_exactly_3_claims": sum(1 for a in alerts if wins.get(a, 0) != 3),
    }


def cap_check(db: Path, alerts: list[int]) -> dict[str, Any]:
    """Over every alert in the database: active + sent claims <= letter_cap and == claims_taken."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    rows = con.execute(
        """SELECT a.id, a.letter_cap, a.claims_taken, COALESCE(c.n, 0)
           FROM alerts a LEFT JOIN (SELECT alert_id, SUM(status IN ('active', 'sent')) AS n
                                    FROM claims GROUP BY alert_id) c ON c.alert_id = a.id"""
    ).fetchall()
    over = [r[0] for r in rows if r[3] > r[1]]
    mismatch = [r[0] for r in rows if r[3] != r[2]]
    marks = ",".join("?" * len(alerts))
    not_claimed = con.execute(
        f"SELECT COUNT(*) FROM alerts WHERE id IN ({marks}) AND status != 'claimed'", alerts
    ).fetchone()[0]
    audited = con.execute(
        f"SELECT COUNT(*) FROM audit_log WHERE action = 'alert_claimed' AND object_type = 'alert' "
        f"AND object_id IN ({marks})",
        [str(a) for a in alerts],
    ).fetchone()[0]
    claims = con.execute(
        f"SELECT COUNT(*) FROM claims WHERE alert_id IN ({marks}) AND status = 'active'", alerts
    ).fetchone()[0]
    con.close()
    return {
        "alerts_checked": len(rows),
        "cap_violations": len(over),
        "claims_taken_mismatches": len(mismatch),
        "examples": (over + mismatch)[:5],
        "bench_alerts_not_claimed_status": not_claimed,
        "bench_alerts_active_claims": claims,
        "bench_alerts_claim_audit_entries": audited,
    }


# --- Main ----------------------------------------------------------------------------------------


def seed_db(db: Path, articles: int, alerts: int) -> dict[str, Any]:
    from web_seed import load_info

    info = load_info(db)
    if info is not None:
        if (info.articles, info.alerts) != (articles, alerts):
            have, want = f"{info.articles:,}/{info.alerts:,}", f"{articles:,}/{alerts:,}"
            raise SystemExit(f"{db} holds {have} articles/alerts, not {want}")
        return {"reused": True, **info.__dict__}
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench/web_seed.py"),
            "--db",
            str(db),
            "--articles",
            str(articles),
            "--alerts",
            str(alerts),
        ],
        stdout=subprocess.PIPE,
        check=True,
    )
    return {"reused": False, **json.loads(proc.stdout)}


def summarise(rounds: list[dict[str, dict[str, Any]]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in rounds[0]:
        per = [r[name] for r in rounds]
        ratios = [r[name]["p95_ms"] / r["healthz"]["p95_ms"] for r in rounds]
        med_ratios = [r[name]["median_ms"] / r["healthz"]["median_ms"] for r in rounds]
        p95 = statistics.median(x["p95_ms"] for x in per)
        out[name] = {
            "median_ms": round(statistics.median(x["median_ms"] for x in per), 2),
            "p95_ms": round(p95, 2),
            "p99_ms": round(statistics.median(x["p99_ms"] for x in per), 2),
            "rps": round(statistics.median(x["rps"] for x in per), 1),
            "server_cpu_ms_per_request": round(
                statistics.median(x["server_cpu_ms_per_request"] for x in per), 2
            ),
            "p95_over_healthz_p95": round(statistics.median(ratios), 2),
            "cpu_over_healthz_cpu": round(
                statistics.median(
                    r[name]["server_cpu_ms_per_request"] / r["healthz"]["server_cpu_ms_per_request"]
                    for r in rounds
                ),
                2,
            ),
            "median_over_healthz_median": round(statistics.median(med_ratios), 2),
            "meets_p95_target": p95 <= TARGET_P95_MS,
            "p95_ms_by_round": [x["p95_ms"] for x in per],
            "non_200": sum(v for x in per for k, v in x["statuses"].items() if k != "200"),
            "requests": sum(x["requests"] for x in per),
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="10,000 alerts, 100,000 articles, shorter phases")
    ap.add_argument("--db", type=Path, help="seed this file once and reuse it")
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=None, help="measured seconds per phase (10; quick 4)")
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--repeat", type=int, default=None, help="rounds of every phase (3; quick 1)")
    ap.add_argument("--claimers", type=int, default=50)
    ap.add_argument("--claim-alerts", type=int, default=None, help="alerts claimed in turn (200; quick 50)")
    ap.add_argument("--claims-mode", choices=("auto", "http", "store"), default="auto")
    ap.add_argument("--seed", type=int, default=20261201)
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.db, args.port)
        return
    size = QUICK if args.quick else FULL
    seconds = args.seconds if args.seconds is not None else (4.0 if args.quick else 10.0)
    repeat = args.repeat if args.repeat is not None else (1 if args.quick else 3)
    claim_alerts = args.claim_alerts if args.claim_alerts is not None else (50 if args.quick else 200)
    rng = random.Random(args.seed)
    t_start = time.perf_counter()

    tmp = None
    db = args.db
    if db is None:
        tmp = tempfile.TemporaryDirectory(prefix="bench-web-")
        db = Path(tmp.name) / "web.db"
    db = db.resolve()
    t0 = time.perf_counter()
    seeded = seed_db(db, size["articles"], size["alerts"])
    seed_wall = time.perf_counter() - t0
    print(f"seeded in {seed_wall:.1f} s", file=sys.stderr)

    from web_seed import analyst_email, responder_email

    n_analysts = seeded["analysts"]
    responders = sign_in(db, [responder_email(i) for i in range(args.clients)])
    analysts = sign_in(db, [analyst_email(i % n_analysts) for i in range(args.clients)])
    claimers = sign_in(db, [responder_email(100 + i) for i in range(args.claimers)])
    proc, base = start_server(db)
    result: dict[str, Any] = {
        "settings": {
            "articles": size["articles"],
            "alerts": size["alerts"],
            "clients": args.clients,
            "seconds": seconds,
            "warmup": args.warmup,
            "repeat": repeat,
            "server": "uvicorn, 1 worker, h11, 127.0.0.1; clients in another process",
            "cpus": os.cpu_count(),
            "load_average_before": [round(x, 2) for x in os.getloadavg()],
        },
        "seeding": {
            "reused": seeded["reused"],
            "wall_s": round(seed_wall, 1),
            "seconds": seeded["seconds"],
            "rows": seeded["rows"],
            "alerts_by_status": seeded["alerts_by_status"],
            "peak_rss_mb": seeded["peak_rss_mb"],
            "db_mb": round(db.stat().st_size / 1e6),
        },
    }
    try:
        phases = pages(db)
        rounds = []
        for r in range(repeat):
            one: dict[str, dict[str, Any]] = {}
            for name, (role, path_for) in phases.items():
                sessions = responders if role == "responder" else analysts
                one[name] = run_phase(base, sessions, path_for, seconds, args.warmup, proc.pid, args.seed + r)
                print(f"round {r + 1} {name}: {json.dumps(one[name])}", file=sys.stderr)
            rounds.append(one)
        result["pages"] = summarise(rounds)
        result["meets_p95_target"] = all(
            v["meets_p95_target"] for k, v in result["pages"].items() if k not in ("healthz", "hello")
        )

        mode = args.claims_mode
        if mode == "auto":
            mode = "http" if route_exists(base, claimers[0]) else "store"
        targets = claim_targets(db, claim_alerts + STAMPEDE_ALERTS, rng)
        spread, stampede = targets[:claim_alerts], targets[claim_alerts:]
        claims = run_claims(base, db, claimers, spread, stampede, mode)
        claims["check"] = cap_check(db, targets)
        claims["zero_cap_violations"] = (
            claims["check"]["cap_violations"] == 0 and claims["check"]["claims_taken_mismatches"] == 0
        )
        claims["zero_5xx"] = all(
            claims[k]["http_5xx"] == 0 and claims[k]["transport_errors"] == 0 for k in ("spread", "stampede")
        )
        result["claims"] = claims
        result["server_peak_rss_mb"] = proc_peak_rss_mb(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    result["client_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    result["settings"]["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    result["wall_s"] = round(time.perf_counter() - t_start, 1)
    if tmp is not None:
        tmp.cleanup()
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
