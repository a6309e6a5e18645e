"""robots.txt for article pages (RFC 9309, parsed by protego), cached per host.

Feeds are listed by a person in feeds.yaml and are fetched as feed readers do; every article
page is checked here first. A robots.txt that is missing (4xx) allows everything; one that
cannot be reached (5xx, network error) disallows everything for a shorter while, as the RFC says.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from protego import Protego

from .fetch import Fetcher

AGENT = "MediaWatch"
MAX_HOSTS = 2000
MAX_CRAWL_DELAY = 60.0
ROBOTS_BYTES = 512_000


@dataclass(slots=True)
class HostRules:
    parser: Protego | None  # None: allow all
    disallow_all: bool
    note: str
    expires: float


class RobotsCache:
    """``allowed(url)`` and the host's Crawl-delay, one robots.txt fetch per host per *ttl*."""

    def __init__(self, fetcher: Fetcher, ttl: float = 86_400.0, error_ttl: float = 3_600.0) -> None:
        self.fetcher = fetcher
        self.ttl, self.error_ttl = ttl, error_ttl
        self._hosts: OrderedDict[str, HostRules] = OrderedDict()
        self._lock = threading.Lock()
        self._host_locks: dict[str, threading.Lock] = {}

    def check(self, url: str) -> str | None:
        """None when *url* may be fetched; otherwise why not."""
        rules = self._rules(url)
        if rules.disallow_all:
            return f"robots.txt unreachable ({rules.note}); not fetching pages from this host for now"
        if rules.parser is not None and not rules.parser.can_fetch(url, AGENT):
            return "robots.txt disallows this page for MediaWatch"
        return None

    def cached(self, url: str) -> bool:
        """True when the host's rules are known (checking *url* will make no request)."""
        return self._get(urlsplit(url).netloc.lower()) is not None

    def _rules(self, url: str) -> HostRules:
        parts = urlsplit(url)
        host = parts.netloc.lower()
        with self._lock:
            lock = self._host_locks.setdefault(host, threading.Lock())
        with lock:  # one fetch per host, even with many pages of it in flight
            cached = self._get(host)
            if cached is not None:
                return cached
            rules = self._load(urlunsplit((parts.scheme, parts.netloc, "/robots.txt", "", "")))
            self._put(host, rules)
            if rules.parser is not None:
                delay = rules.parser.crawl_delay(AGENT)
                if delay:
                    self.fetcher.spacer.set_delay(host, min(float(delay), MAX_CRAWL_DELAY))
            return rules

    def _load(self, robots_url: str) -> HostRules:
        result = self.fetcher.get(robots_url, kind="robots")
        now = time.monotonic()
        if result.ok:
            text = result.body[:ROBOTS_BYTES].decode("utf-8", errors="replace")
            return HostRules(Protego.parse(text), False, "ok", now + self.ttl)
        if 400 <= result.status < 500 and result.status != 429:
            return HostRules(None, False, f"HTTP {result.status}: no rules", now + self.ttl)
        return HostRules(None, True, result.error or f"HTTP {result.status}", now + self.error_ttl)

    def _get(self, host: str) -> HostRules | None:
        with self._lock:
            rules = self._hosts.get(host)
            if rules is None or rules.expires < time.monotonic():
                return None
            self._hosts.move_to_end(host)
            return rules

    def _put(self, host: str, rules: HostRules) -> None:
        with self._lock:
            self._hosts[host] = rules
            self._hosts.move_to_end(host)
            while len(self._hosts) > MAX_HOSTS:
                self._hosts.popitem(last=False)
