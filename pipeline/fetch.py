"""Polite HTTP: honest User-Agent, conditional GET, per-host spacing, caps and an SSRF guard.

``Fetcher.get`` never raises for network trouble: the ``FetchResult`` carries the error, so one
bad host never stops a run.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import requests

from .records import FetchResult

REDIRECTS = {301, 302, 303, 307, 308}


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


class FetchRefusedError(Exception):
    """The request was not made (or was cut off) on purpose: guard, cap or deadline."""


class HostSpacer:
    """Keeps at least *delay* seconds between the starts of two requests to one host."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, host: str) -> None:
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next.get(host, now))
            self._next[host] = start + self.delay
        if start > now:
            time.sleep(start - now)


def check_address(url: str, allow_private: bool) -> None:
    """Refuse URLs whose host resolves to loopback, private, link-local or reserved space."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchRefusedError(f"not an http(s) URL: {url}")
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise FetchRefusedError(f"cannot resolve {parts.hostname}: {exc}") from exc
    for info in infos:
        ip = ipaddress.ip_address(info[4][0])
        if not ip.is_global:
            raise FetchRefusedError(f"refused non-public address {ip} for {parts.hostname}")


class Fetcher:
    """One shared requests session; thread-safe for concurrent ``get`` calls."""

    def __init__(self, policy: FetchPolicy) -> None:
        self.policy = policy
        self.session = requests.Session()
        self.session.headers["User-Agent"] = policy.user_agent
        self.session.headers["Accept-Encoding"] = "gzip, deflate"
        self.spacer = HostSpacer(policy.per_host_delay)

    def get(
        self,
        url: str,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str = "*/*",
    ) -> FetchResult:
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        started = time.monotonic()
        current = url
        try:
            for _hop in range(self.policy.max_redirects + 1):
                check_address(current, self.policy.allow_private)
                self.spacer.wait(urlsplit(current).netloc)
                resp = self._send(current, headers, started)
                if resp.status_code in REDIRECTS and "location" in resp.headers:
                    resp.close()
                    current = urljoin(current, resp.headers["location"])
                    continue
                return self._result(url, current, resp, started)
            raise FetchRefusedError(f"more than {self.policy.max_redirects} redirects")
        except FetchRefusedError as exc:
            return FetchResult(url, current, 0, error=str(exc), elapsed=time.monotonic() - started)
        except requests.RequestException as exc:
            return FetchResult(
                url, current, 0, error=f"{type(exc).__name__}: {exc}", elapsed=time.monotonic() - started
            )

    def _send(self, url: str, headers: dict[str, str], started: float) -> requests.Response:
        remaining = self.policy.total_timeout - (time.monotonic() - started)
        if remaining <= 0:
            raise FetchRefusedError("deadline passed")
        return self.session.get(
            url,
            headers=headers,
            stream=True,
            allow_redirects=False,
            timeout=(self.policy.connect_timeout, min(self.policy.read_timeout, remaining)),
        )

    def _result(self, url: str, final: str, resp: requests.Response, started: float) -> FetchResult:
        with resp:
            body = self._read_capped(resp, started) if resp.status_code != 304 else b""
        return FetchResult(
            url=url,
            final_url=final,
            status=resp.status_code,
            body=body,
            content_type=resp.headers.get("content-type", ""),
            etag=resp.headers.get("etag"),
            last_modified=resp.headers.get("last-modified"),
            error=None if resp.status_code < 400 else f"HTTP {resp.status_code}",
            elapsed=time.monotonic() - started,
        )

    def _read_capped(self, resp: requests.Response, started: float) -> bytes:
        declared = resp.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.policy.max_bytes:
            raise FetchRefusedError(f"response of {declared} bytes is over the {self.policy.max_bytes} cap")
        chunks, size = [], 0
        for chunk in resp.iter_content(65536):
            size += len(chunk)
            if size > self.policy.max_bytes:
                raise FetchRefusedError(f"response over the {self.policy.max_bytes}-byte cap")
            if time.monotonic() - started > self.policy.total_timeout:
                raise FetchRefusedError(f"response took over {self.policy.total_timeout:g}s")
            chunks.append(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        self.session.close()
