"""Polite HTTP: honest User-Agent, conditional GET, per-host spacing, caps and an SSRF guard.

``Fetcher.get`` never raises for network trouble: the ``FetchResult`` carries the error, so one
bad host never stops a run.
"""

from __future__ import annotations

import http.client
import http.cookies
import ipaddress
import socket
import threading
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

import certifi
import urllib3

from .records import FetchResult
from .settings import Settings

REDIRECTS = {301, 302, 303, 307, 308}
PERMANENT = {301, 308}
RETRY_AFTER_STATUSES = {429, 503}
Kind = Literal["feed", "page", "robots", "any"]
ACCEPT: dict[str, str] = {
    "feed": "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1",
    "page": "text/html, application/xhtml+xml;q=0.9, */*;q=0.1",
    "robots": "text/plain, */*;q=0.1",
    "any": "*/*",
}
# never fetched, whatever the settings say: cloud metadata services and addresses that are no host
ALWAYS_REFUSED = [
    ipaddress.ip_network(n)
    for n in ("169.254.0.0/16", "fe80::/10", "0.0.0.0/8", "::/128", "100.100.100.200/32", "fd00:ec2::254/128")
]
BINARY_TYPES = ("image/", "audio/", "video/", "font/", "application/pdf", "application/zip")
PAGE_TYPES = ("text/html", "application/xhtml", "text/plain", "application/xml", "text/xml")


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    user_agent: str
    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    total_timeout: float = 60.0
    max_bytes: int = 5_000_000
    max_redirects: int = 5
    per_host_delay: float = 1.0
    allow_private: bool = False
    max_retry_after: float = 86_400.0


def policy_for(settings: Settings) -> FetchPolicy:
    """The fetch policy the settings describe."""
    return FetchPolicy(
        user_agent=settings.user_agent,
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        total_timeout=settings.total_timeout,
        max_bytes=settings.max_response_bytes,
        max_redirects=settings.max_redirects,
        per_host_delay=settings.per_host_delay,
        allow_private=settings.allow_private_networks,
        max_retry_after=settings.max_retry_after_hours * 3600,
    )


class FetchRefusedError(Exception):
    """The request was not made (or was cut off) on purpose: guard, cap, deadline or content type.
    ``permanent``: asking again will not help (a deadline may be met next time; a PDF stays a PDF)."""

    def __init__(self, message: str, permanent: bool = True) -> None:
        super().__init__(message)
        self.permanent = permanent


SPACING_MARGIN = 0.02  # seconds added to every non-zero per-host delay


class HostSpacer:
    """Per-host clock: at least *delay* seconds between request starts to one host, plus the
    waits a host asked for (Retry-After). Thread-safe; a slot is reserved before sleeping."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self._next: dict[str, float] = {}
        self._delays: dict[str, float] = {}
        self._blocked: dict[str, float] = {}
        self._sent: dict[str, float] = {}
        self._lock = threading.Lock()

    def set_delay(self, host: str, delay: float) -> None:
        """A host-specific delay (robots.txt Crawl-delay); never below the default."""
        with self._lock:
            self._delays[host] = max(self.delay, delay)

    def block(self, host: str, seconds: float) -> None:
        """The host asked us to come back later."""
        with self._lock:
            until = time.monotonic() + seconds
            self._blocked[host] = max(until, self._blocked.get(host, 0.0))

    def blocked_for(self, host: str) -> float:
        """Seconds until the host may be asked again after a Retry-After (0 if not blocked)."""
        with self._lock:
            return max(0.0, self._blocked.get(host, 0.0) - time.monotonic())

    def _delay(self, host: str) -> float:
        delay = self._delays.get(host, self.delay)
        # what the publisher sees is our spacing plus scheduling jitter on both sides; a small
        # margin keeps the gaps it measures at or above the delay it was promised
        return delay + SPACING_MARGIN if delay > 0 else 0.0

    def _free_at(self, host: str, now: float) -> float:
        """When the next request to *host* may start (call with the lock held)."""
        return max(now, self._next.get(host, now), self._blocked.get(host, now))

    def try_reserve(self, host: str) -> float:
        """Reserve a start now and return 0, or return the seconds to wait (nothing reserved)."""
        with self._lock:
            now = time.monotonic()
            start = self._free_at(host, now)
            if start > now:
                return start - now
            self._next[host] = now + self._delay(host)
            return 0.0

    def pace(self, host: str) -> None:
        """Just before sending on a reserved slot: a thread that started late must not send
        closer than the delay to the request sent before it."""
        with self._lock:
            now = time.monotonic()
            start = max(now, self._sent.get(host, now - 1e9) + self._delay(host))
            self._sent[host] = start
        if start > now:
            time.sleep(start - now)

    def sent(self, host: str) -> None:
        """The request this thread paced for *host* has left (its response began, or it failed).
        Nothing is recorded here: this spacer counts the paced moment as the send, so a thread
        descheduled for longer than SPACING_MARGIN before sending can bring a gap below the
        delay. ``RedisSpacer`` (between processes) starts its clock here instead."""

    def wait(self, host: str) -> None:
        """Reserve the next free start for *host*, sleep until it, then pace the send."""
        with self._lock:
            now = time.monotonic()
            start = self._free_at(host, now)
            self._next[host] = start + self._delay(host)
        if start > now:
            time.sleep(start - now)
        self.pace(host)


def check_address(url: str, allow_private: bool) -> None:
    """Refuse URLs whose host resolves to loopback, private, link-local or reserved space.

    With *allow_private* (demo, tests), loopback and private ranges are allowed; link-local and
    cloud-metadata addresses never are."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchRefusedError(f"not an http(s) URL: {url}")
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise FetchRefusedError(f"cannot resolve {parts.hostname}: {exc}") from exc
    for info in infos:
        ip = ipaddress.ip_address(info[4][0])
        if any(ip in net for net in ALWAYS_REFUSED if net.version == ip.version):
            raise FetchRefusedError(f"refused link-local or metadata address {ip} for {parts.hostname}")
        if not ip.is_global and not allow_private:
            raise FetchRefusedError(f"refused non-public address {ip} for {parts.hostname}")


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds asked for by a Retry-After header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def check_content(kind: Kind, content_type: str, head: bytes) -> None:
    """Refuse bodies that cannot be what we asked for: binary files, HTML instead of a feed."""
    ctype = content_type.split(";", 1)[0].strip().lower()
    utf16 = head.startswith((b"\xff\xfe", b"\xfe\xff"))
    if ctype.startswith(BINARY_TYPES) or (b"\x00" in head[:1024] and not utf16):
        raise FetchRefusedError(f"binary content ({ctype or 'no content-type'}), not a {kind}")
    if kind == "feed" and _looks_like_html(head):
        raise FetchRefusedError(f"got an HTML page ({ctype or 'no content-type'}) instead of a feed")
    if kind == "page" and ctype and not ctype.startswith(PAGE_TYPES):
        raise FetchRefusedError(f"not a web page: content-type {ctype}")


def _looks_like_html(head: bytes) -> bool:
    start = head[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return start.startswith((b"<!doctype html", b"<html"))


def _error_name(exc: Exception) -> str:
    """The name a fetch error is reported under: requests' names for urllib3's errors, so a
    source's error history reads the same as before (``ConnectionError``, ``ReadTimeout``...)."""
    for kind, name in _ERROR_NAMES:
        if isinstance(exc, kind):
            return name
    return "ConnectionError"  # any other urllib3, http.client or socket error


_ERROR_NAMES: tuple[tuple[type[Exception], str], ...] = (
    (urllib3.exceptions.ProxyError, "ProxyError"),
    (urllib3.exceptions.SSLError, "SSLError"),
    # NewConnectionError is a ConnectTimeoutError in urllib3: refused and unresolved come first
    (urllib3.exceptions.NewConnectionError, "ConnectionError"),
    (urllib3.exceptions.ConnectTimeoutError, "ConnectTimeout"),
    (urllib3.exceptions.ReadTimeoutError, "ReadTimeout"),
    (urllib3.exceptions.DecodeError, "ContentDecodingError"),
    (urllib3.exceptions.LocationValueError, "InvalidURL"),
)
_NETWORK_ERRORS = (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError)


def _keep_cookies(jar: dict[str, str], set_cookies: list[str]) -> None:
    """Cookies a redirect sets, for the next hops of the same fetch: a consent or session check
    that sets a cookie and redirects back must not loop. They are forgotten with the fetch."""
    for header in set_cookies:
        parsed: http.cookies.SimpleCookie = http.cookies.SimpleCookie()
        try:
            parsed.load(header)
        except http.cookies.CookieError:
            continue
        jar.update((name, morsel.value) for name, morsel in parsed.items())


def _with_cookies(headers: dict[str, str], jar: dict[str, str] | None) -> dict[str, str]:
    if not jar:
        return headers
    return {**headers, "Cookie": "; ".join(f"{name}={value}" for name, value in jar.items())}


class Fetcher:
    """Connection pools shared by every thread; thread-safe for concurrent ``get`` calls.

    Requests go through urllib3, the HTTP layer requests itself is built on, without requests'
    session layer: that layer (merging cookies, environment settings and hooks, preparing each
    request) cost about 0.8 ms of the main process's CPU a page, half of a fetch
    (``bench/fetch.py``). What it gave that we use is kept here: proxies from the environment
    (``HTTP_PROXY``, ``HTTPS_PROXY``, ``NO_PROXY``), certifi's CA bundle, gzip and deflate, and
    cookies set by a redirect, sent on the next hops of the same fetch (a consent check that sets
    a cookie and redirects back). No cookie is kept from one fetch to the next, and no ``.netrc``
    credentials are ever sent to a publisher."""

    def __init__(self, policy: FetchPolicy, pool_size: int = 16) -> None:
        self.policy = policy
        self._headers = {"User-Agent": policy.user_agent, "Accept-Encoding": "gzip, deflate"}
        self._pool_args: dict[str, Any] = {
            "num_pools": 64,
            "maxsize": max(pool_size, 10),
            "retries": False,
            "ca_certs": certifi.where(),
        }
        self._direct = urllib3.PoolManager(**self._pool_args)
        self._proxies = {k: v for k, v in urllib.request.getproxies_environment().items() if k != "no"}
        self._proxy_pools: dict[str, urllib3.ProxyManager] = {}  # by proxy URL
        self._routes: dict[tuple[str, str], urllib3.PoolManager] = {}  # by (scheme, host)
        self._proxy_lock = threading.Lock()
        self.spacer = HostSpacer(policy.per_host_delay)

    def get(
        self,
        url: str,
        etag: str | None = None,
        last_modified: str | None = None,
        kind: Kind = "any",
        reserved: bool = False,
    ) -> FetchResult:
        """GET *url*. ``reserved``: the caller already took this host's slot (``try_reserve``)."""
        headers = {**self._headers, "Accept": ACCEPT[kind]}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        started = time.monotonic()
        current, permanent = url, True
        cookies: dict[str, dict[str, str]] = {}  # set by this fetch's redirects, by host
        try:
            for hop in range(self.policy.max_redirects + 1):
                check_address(current, self.policy.allow_private)
                host = urlsplit(current).netloc
                if hop or not reserved:
                    self.spacer.wait(host)
                else:
                    self.spacer.pace(host)
                try:
                    resp = self._send(current, _with_cookies(headers, cookies.get(host)), started)
                finally:
                    self.spacer.sent(host)
                location = resp.headers.get("location")
                if resp.status in REDIRECTS and location is not None:
                    _keep_cookies(cookies.setdefault(host, {}), resp.headers.getlist("set-cookie"))
                    resp.drain_conn()
                    resp.release_conn()
                    permanent = permanent and resp.status in PERMANENT
                    current = urljoin(current, location)
                    continue
                result = self._result(url, current, resp, started, kind)
                result.permanent_redirect = current if permanent and current != url else None
                return result
            raise FetchRefusedError(f"more than {self.policy.max_redirects} redirects (last: {current})")
        except FetchRefusedError as exc:
            elapsed = time.monotonic() - started
            return FetchResult(url, current, 0, error=str(exc), elapsed=elapsed, refused=exc.permanent)
        except _NETWORK_ERRORS as exc:
            return FetchResult(
                url, current, 0, error=f"{_error_name(exc)}: {exc}", elapsed=time.monotonic() - started
            )

    def _manager(self, url: str) -> urllib3.PoolManager:
        """The pools for *url*: direct, or through the proxy the environment names for its
        scheme unless ``NO_PROXY`` exempts its host."""
        if not self._proxies:
            return self._direct
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        manager = self._routes.get(key)
        if manager is None:
            proxy = self._proxies.get(parts.scheme)
            if not proxy or urllib.request.proxy_bypass(parts.netloc):
                manager = self._direct
            else:
                with self._proxy_lock:
                    if proxy not in self._proxy_pools:
                        self._proxy_pools[proxy] = urllib3.ProxyManager(proxy, **self._pool_args)
                    manager = self._proxy_pools[proxy]
            self._routes[key] = manager
        return manager

    def _send(self, url: str, headers: dict[str, str], started: float) -> urllib3.BaseHTTPResponse:
        remaining = self.policy.total_timeout - (time.monotonic() - started)
        if remaining <= 0:
            raise FetchRefusedError(f"deadline of {self.policy.total_timeout:g}s passed", permanent=False)
        return self._manager(url).request(
            "GET",
            url,
            headers=headers,
            preload_content=False,
            redirect=False,
            retries=False,
            timeout=urllib3.Timeout(
                connect=self.policy.connect_timeout, read=min(self.policy.read_timeout, remaining)
            ),
        )

    def _result(
        self, url: str, final: str, resp: urllib3.BaseHTTPResponse, started: float, kind: Kind
    ) -> FetchResult:
        status = resp.status
        retry_after = None
        if status in RETRY_AFTER_STATUSES:
            retry_after = retry_after_seconds(resp.headers.get("retry-after"))
            if retry_after is not None:
                retry_after = min(retry_after, self.policy.max_retry_after)
                self.spacer.block(urlsplit(final).netloc, retry_after)
        try:
            if 200 <= status < 300:
                check_content(kind, resp.headers.get("content-type", ""), b"")
                body = self._read_capped(resp, started, kind)
            else:
                body = b""
                resp.drain_conn()
        except BaseException:
            resp.close()  # part of the body is unread: the connection cannot be used again
            raise
        finally:
            resp.release_conn()
        return FetchResult(
            url=url,
            final_url=final,
            status=status,
            body=body,
            content_type=resp.headers.get("content-type", ""),
            etag=resp.headers.get("etag"),
            last_modified=resp.headers.get("last-modified"),
            error=None if status < 400 else f"HTTP {status}",
            elapsed=time.monotonic() - started,
            retry_after=retry_after,
        )

    def _read_capped(self, resp: urllib3.BaseHTTPResponse, started: float, kind: Kind) -> bytes:
        """Read the (decoded) body, stopping at the size cap or the total deadline.

        ``read1`` returns whatever has arrived, so a server that drips a byte at a time is
        cut off at the deadline instead of holding the worker."""
        cap = self.policy.max_bytes
        declared = resp.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > cap:
            raise FetchRefusedError(f"response of {declared} bytes is over the {cap}-byte cap")
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = resp.read1(65536, decode_content=True)
            if not chunk:
                break
            if not chunks:
                check_content(kind, resp.headers.get("content-type", ""), chunk)
            size += len(chunk)
            if size > cap:
                raise FetchRefusedError(f"response over the {cap}-byte cap")
            if time.monotonic() - started > self.policy.total_timeout:
                raise FetchRefusedError(
                    f"response took over {self.policy.total_timeout:g}s (deadline)", permanent=False
                )
            chunks.append(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        self._direct.clear()
        for manager in self._proxy_pools.values():
            manager.clear()
