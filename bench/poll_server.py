"""Simulated publishers for bench/poll.py, run as a separate process so its CPU is not charged to
the poller.

    .venv/bin/python bench/poll_server.py [--seed 20261120] [--hosts 50] [--feeds-per-host 20]

One ``ThreadingHTTPServer`` (HTTP/1.1, keep-alive) per address 127.0.0.2, 127.0.0.3, ... all on
the same free port. Every feed is fictional generated RSS 2.0 (guid, link, title, description,
pubDate with assorted UTC offsets, dc:creator, category), served gzip-compressed when asked, with
an ETag and a Last-Modified. Each feed has a fixed latency drawn uniformly from
[min, max] with the seed: the time the publisher takes to build and send the full feed, paid by
every 200. A request whose If-None-Match matches (or, without one, whose If-Modified-Since is not
older than Last-Modified) is answered 304 from the validator cache after *cached_latency*.

Protocol on stdin/stdout, one JSON object per line: on start it prints
``{"port": ..., "feeds": [[url, latency_s], ...]}``; the line ``stats`` prints request counts and
what the server saw of the client's politeness (most requests in flight per host and overall,
shortest gap between request starts to one host) since the previous ``stats``; end of input stops it.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import random
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.message import Message
from email.utils import format_datetime, formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

# fmt: off
SECTIONS = ("politique", "local", "economy", "world", "sports", "culture", "opinion", "sciences", "health",
            "justice")
PLACES = ("Trois-Rivières", "Kamloops", "Moncton", "Sherbrooke", "Red Deer", "Gatineau", "Thunder Bay",
          "Rimouski", "Nanaimo", "Sudbury", "Lethbridge", "Saguenay", "Brandon", "Kingston")
SUBJECTS = ("City council", "The school board", "Transit authority", "A local clinic", "The food bank",
            "Provincial ministry", "Hospital foundation", "Regional police", "Library board",
            "The port authority", "A housing co-op", "Fire department", "Teachers' union")
VERBS = ("approves", "delays", "rejects", "reviews", "expands", "cuts", "defends", "unveils", "pauses",
         "questions", "funds", "revisits")
OBJECTS = ("budget for new rink", "shelter expansion plan", "bus route changes", "heritage bylaw",
           "youth sports grants", "water main repairs", "downtown bike lanes", "night clinic hours",
           "snow removal contract", "festival permits", "rent support program", "bridge inspection")
FIRST = ("Amélie", "Jordan", "Priya", "Marc-André", "Fatima", "Liam", "Sophie", "Noah", "Chloé", "Ravi",
         "Émile", "Grace", "Yusuf", "Maëlle")
LAST = ("Tremblay", "MacLeod", "Singh", "Gagnon", "Okafor", "Roy", "Chen", "Bouchard", "Nguyen", "Fraser",
        "Côté", "Haddad")
# fmt: on
OFFSETS = [UTC] + [timezone(timedelta(minutes=m)) for m in (-300, -240, -210, -480, 60, 330)]
LAST_MODIFIED = formatdate(time.time() - 600, usegmt=True)


@dataclass(frozen=True, slots=True)
class Feed:
    path: str
    latency: float
    body: bytes
    gzipped: bytes
    etag: str


def _sentence(rng: random.Random) -> str:
    return (
        f"{rng.choice(SUBJECTS)} in {rng.choice(PLACES)} {rng.choice(VERBS)} the "
        f"{rng.choice(OBJECTS)} after {rng.randint(2, 40)} residents spoke at a {rng.randint(2, 5)}-hour "
        f"meeting on {rng.choice(('Monday', 'Tuesday', 'Wednesday', 'Thursday'))}."
    )


def _item(rng: random.Random, domain: str, section: str, article: int, when: datetime, seen: set[str]) -> str:
    title = ""
    while not title or title.casefold() in seen:  # every story distinct (no fingerprint duplicates)
        title = (
            f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} "
            f"in {rng.choice(PLACES)} ({rng.randint(1, 999)})"
        )
    seen.add(title.casefold())
    slug = "-".join(title.lower().replace("(", "").replace(")", "").replace("'", "").split()[:8])
    link = f"https://www.{domain}/{section}/{when:%Y/%m/%d}/{slug}-{article}.html"
    guid = (
        f'<guid isPermaLink="true">{link}</guid>'
        if article % 2
        else f'<guid isPermaLink="false">{domain}:{article}</guid>'
    )
    summary = " ".join(_sentence(rng) for _ in range(rng.randint(2, 4)))
    description = escape(f"<p>{summary}</p>") if article % 3 == 0 else escape(summary)
    author = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    return (
        f"<item><title>{escape(title)}</title><link>{link}</link>{guid}"
        f"<description>{description}</description>"
        f"<pubDate>{format_datetime(when.astimezone(rng.choice(OFFSETS)))}</pubDate>"
        f"<dc:creator>{escape(author)}</dc:creator><category>{section}</category></item>"
    )


def _feed_xml(rng: random.Random, host: int, k: int, section: str, items: int, now: datetime) -> bytes:
    domain = f"gazette{host:02d}.example"
    seen: set[str] = set()
    when = now - timedelta(minutes=rng.randint(1, 30))
    parts = []
    for i in range(items):
        parts.append(_item(rng, domain, section, host * 1_000_000 + k * 1000 + i, when, seen))
        when -= timedelta(minutes=rng.randint(5, 180))
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f"<channel><title>Gazette {host:02d} — {section}</title><link>https://www.{domain}/</link>"
        f"<description>Fictional local news, section {section}</description><language>en-ca</language>"
        f"<lastBuildDate>{format_datetime(now)}</lastBuildDate><ttl>15</ttl>{''.join(parts)}"
        "</channel></rss>\n"
    ).encode()


def build_feeds(
    seed: int, hosts: int, per_host: int, items: int, lo: float, hi: float
) -> dict[str, list[Feed]]:
    """Feeds by address: each with its body, gzipped body, ETag and fixed latency."""
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    out: dict[str, list[Feed]] = {}
    for h in range(hosts):
        address = f"127.0.0.{h + 2}"
        out[address] = []
        for k in range(per_host):
            section = f"{SECTIONS[k % len(SECTIONS)]}-{k}"
            body = _feed_xml(rng, h, k, section, items, now)
            latency = round(rng.uniform(lo, hi), 4)
            etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
            gz = gzip.compress(body, compresslevel=6, mtime=0)
            out[address].append(Feed(f"/feeds/{section}.xml", latency, body, gz, etag))
    return out


@dataclass
class Stats:
    """What the server saw, for checking the client's politeness."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    statuses: dict[str, int] = field(default_factory=dict)
    inflight: dict[str, int] = field(default_factory=dict)
    max_inflight_host: int = 0
    total: int = 0
    max_total: int = 0
    last_start: dict[str, float] = field(default_factory=dict)
    min_gap: float | None = None
    conditional: int = 0

    def start(self, host: str, conditional: bool) -> None:
        with self.lock:
            now = time.monotonic()
            if host in self.last_start:
                gap = now - self.last_start[host]
                self.min_gap = gap if self.min_gap is None else min(self.min_gap, gap)
            self.last_start[host] = now
            self.inflight[host] = self.inflight.get(host, 0) + 1
            self.total += 1
            self.max_inflight_host = max(self.max_inflight_host, self.inflight[host])
            self.max_total = max(self.max_total, self.total)
            self.conditional += conditional

    def end(self, host: str, status: int) -> None:
        with self.lock:
            self.inflight[host] -= 1
            self.total -= 1
            self.statuses[str(status)] = self.statuses.get(str(status), 0) + 1

    def take(self) -> dict[str, object]:
        with self.lock:
            out = {
                "responses": dict(sorted(self.statuses.items())),
                "conditional_requests": self.conditional,
                "max_in_flight_per_host": self.max_inflight_host,
                "max_in_flight_total": self.max_total,
                "min_start_gap_per_host_s": None if self.min_gap is None else round(self.min_gap, 4),
            }
            self.statuses, self.conditional, self.max_inflight_host, self.max_total = {}, 0, 0, 0
            self.last_start, self.min_gap = {}, None
            return out


def _fresh(headers: Message, feed: Feed) -> bool:
    """Does the conditional request match the cached validators?"""
    inm = headers.get("If-None-Match")
    if inm is not None:
        tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
        return feed.etag in tags or "*" in tags
    ims = headers.get("If-Modified-Since")
    if not ims:
        return False
    try:
        return parsedate_to_datetime(ims) >= parsedate_to_datetime(LAST_MODIFIED)
    except (TypeError, ValueError):
        return False


def _handler(
    host: str, feeds: dict[str, Feed], stats: Stats, cached_latency: float
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "BenchFeeds/1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            feed = feeds.get(self.path)
            conditional = "If-None-Match" in self.headers or "If-Modified-Since" in self.headers
            stats.start(host, conditional)
            status = 404
            try:
                if feed is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif _fresh(self.headers, feed):
                    time.sleep(cached_latency)
                    status = 304
                    self.send_response(304)
                    self.send_header("ETag", feed.etag)
                    self.send_header("Last-Modified", LAST_MODIFIED)
                    self.end_headers()
                else:
                    time.sleep(feed.latency)
                    status = 200
                    self._send_feed(feed)
            finally:
                stats.end(host, status)

        def _send_feed(self, feed: Feed) -> None:
            gz = "gzip" in self.headers.get("Accept-Encoding", "")
            body = feed.gzipped if gz else feed.body
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            if gz:
                self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("ETag", feed.etag)
            self.send_header("Last-Modified", LAST_MODIFIED)
            self.send_header("Cache-Control", "max-age=300")
            self.end_headers()
            self.wfile.write(body)

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64


def _free_port(addresses: list[str]) -> int:
    for _ in range(50):
        with socket.socket() as s:
            s.bind((addresses[0], 0))
            port = int(s.getsockname()[1])
        ok = True
        for address in addresses[1:]:
            with socket.socket() as s:
                try:
                    s.bind((address, port))
                except OSError:
                    ok = False
                    break
        if ok:
            return port
    raise SystemExit("bench/poll_server.py: no port free on every address")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seed", type=int, default=20261120)
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--feeds-per-host", type=int, default=20)
    parser.add_argument("--items", type=int, default=30)
    parser.add_argument("--min-latency", type=float, default=0.05)
    parser.add_argument("--max-latency", type=float, default=0.5)
    parser.add_argument("--cached-latency", type=float, default=0.01)
    args = parser.parse_args()
    by_host = build_feeds(
        args.seed, args.hosts, args.feeds_per_host, args.items, args.min_latency, args.max_latency
    )
    stats = Stats()
    addresses = list(by_host)
    port = _free_port(addresses)
    servers = []
    for address, feeds in by_host.items():
        handler = _handler(address, {f.path: f for f in feeds}, stats, args.cached_latency)
        server = _Server((address, port), handler)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
    plan = [[f"http://{a}:{port}{f.path}", f.latency] for a, feeds in by_host.items() for f in feeds]
    sizes = [len(f.body) for feeds in by_host.values() for f in feeds]
    print(json.dumps({"port": port, "feeds": plan, "mean_feed_bytes": sum(sizes) // len(sizes)}), flush=True)
    for line in sys.stdin:
        if line.strip() == "stats":
            print(json.dumps(stats.take()), flush=True)
    for server in servers:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    main()
