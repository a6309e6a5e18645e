"""Polite HTTP against a real local server (pipeline/fetch.py, pipeline/demo/server.py)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pipeline.demo.server import LocalSite, Override
from pipeline.fetch import (
    Fetcher,
    FetchPolicy,
    FetchRefusedError,
    HostSpacer,
    check_address,
    retry_after_seconds,
)

UA = "MediaWatch/test (+https://mediawatch.example.org/bot; tests@example.org)"


def _policy(**overrides: object) -> FetchPolicy:
    values: dict[str, object] = {
        "user_agent": UA,
        "connect_timeout": 2.0,
        "read_timeout": 5.0,
        "total_timeout": 10.0,
        "per_host_delay": 0.0,
        "allow_private": True,
    }
    values.update(overrides)
    return FetchPolicy(**values)  # type: ignore[arg-type]


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    f = Fetcher(_policy())
    yield f
    f.close()


def _headers(site: LocalSite, index: int = -1) -> dict[str, str]:
    """Request headers of one recorded request, with lower-case names."""
    return {k.lower(): v for k, v in site.requests[index][1].items()}


# ------------------------------------------------------------------ plain and conditional GET


def test_200_returns_body_type_and_validators(local_site: LocalSite, fetcher: Fetcher) -> None:
    (local_site.root / "feed.xml").write_bytes(b"<rss version='2.0'><channel/></rss>")
    result = fetcher.get(f"{local_site.base_url}/feed.xml")
    assert result.status == 200
    assert result.ok
    assert result.error is None
    assert result.body == b"<rss version='2.0'><channel/></rss>"
    assert result.content_type.startswith("application/rss+xml")
    assert result.etag and result.etag.startswith('"')
    assert result.last_modified
    assert result.final_url == result.url == f"{local_site.base_url}/feed.xml"


def test_conditional_get_sends_validators_and_gets_304(local_site: LocalSite, fetcher: Fetcher) -> None:
    (local_site.root / "feed.xml").write_bytes(b"<rss version='2.0'><channel/></rss>")
    url = f"{local_site.base_url}/feed.xml"
    first = fetcher.get(url)
    second = fetcher.get(url, etag=first.etag, last_modified=first.last_modified)
    sent = _headers(local_site)
    assert sent["if-none-match"] == first.etag
    assert sent["if-modified-since"] == first.last_modified
    assert second.status == 304
    assert second.not_modified
    assert second.error is None
    assert second.body == b""


def test_304_keeps_validators(local_site: LocalSite, fetcher: Fetcher) -> None:
    (local_site.root / "page.html").write_text("<p>hello</p>")
    url = f"{local_site.base_url}/page.html"
    first = fetcher.get(url)
    again = fetcher.get(url, etag=first.etag)
    assert again.not_modified
    assert again.etag == first.etag


def test_changed_resource_with_stale_etag_gets_200(local_site: LocalSite, fetcher: Fetcher) -> None:
    path = local_site.root / "page.html"
    path.write_text("<p>version one</p>")
    url = f"{local_site.base_url}/page.html"
    first = fetcher.get(url)
    path.write_text("<p>version two</p>")
    second = fetcher.get(url, etag=first.etag)
    assert second.status == 200
    assert second.body == b"<p>version two</p>"
    assert second.etag != first.etag


def test_plain_get_sends_no_conditional_headers(local_site: LocalSite, fetcher: Fetcher) -> None:
    (local_site.root / "a.txt").write_text("a")
    fetcher.get(f"{local_site.base_url}/a.txt", kind="robots")
    sent = _headers(local_site)
    assert "if-none-match" not in sent
    assert "if-modified-since" not in sent
    assert sent["accept"].startswith("text/plain")


def test_user_agent_is_the_policy_one_never_a_browser(local_site: LocalSite, fetcher: Fetcher) -> None:
    (local_site.root / "a.txt").write_text("a")
    fetcher.get(f"{local_site.base_url}/a.txt")
    ua = _headers(local_site)["user-agent"]
    assert ua == UA
    assert "tests@example.org" in ua
    assert "Mozilla" not in ua


# ------------------------------------------------------------------ caps and redirects


def test_response_over_max_bytes_is_refused_without_exception(local_site: LocalSite) -> None:
    (local_site.root / "big.txt").write_bytes(b"x" * 5000)
    f = Fetcher(_policy(max_bytes=1000))
    try:
        result = f.get(f"{local_site.base_url}/big.txt")
    finally:
        f.close()
    assert result.error is not None
    assert "1000" in result.error
    assert result.body == b""
    assert not result.ok


def test_response_at_max_bytes_is_accepted(local_site: LocalSite) -> None:
    (local_site.root / "exact.txt").write_bytes(b"y" * 1000)
    f = Fetcher(_policy(max_bytes=1000))
    try:
        result = f.get(f"{local_site.base_url}/exact.txt")
    finally:
        f.close()
    assert result.ok
    assert len(result.body) == 1000


def test_redirect_to_relative_location_is_followed(local_site: LocalSite, fetcher: Fetcher) -> None:
    (local_site.root / "news").mkdir()
    (local_site.root / "news" / "new.html").write_text("<p>moved here</p>")
    local_site.overrides["/news/old.html"] = Override(301, headers={"Location": "new.html"})
    result = fetcher.get(f"{local_site.base_url}/news/old.html")
    assert result.status == 200
    assert result.body == b"<p>moved here</p>"
    assert result.url == f"{local_site.base_url}/news/old.html"
    assert result.final_url == f"{local_site.base_url}/news/new.html"
    assert [path for path, _ in local_site.requests] == ["/news/old.html", "/news/new.html"]


def test_redirect_chain_within_limit_is_followed(local_site: LocalSite) -> None:
    (local_site.root / "end.txt").write_text("end")
    local_site.overrides["/r1"] = Override(302, headers={"Location": "/r2"})
    local_site.overrides["/r2"] = Override(307, headers={"Location": "/end.txt"})
    f = Fetcher(_policy(max_redirects=2))
    try:
        result = f.get(f"{local_site.base_url}/r1")
    finally:
        f.close()
    assert result.ok
    assert result.body == b"end"


def test_redirect_chain_longer_than_limit_is_an_error(local_site: LocalSite) -> None:
    for i in range(5):
        local_site.overrides[f"/hop{i}"] = Override(302, headers={"Location": f"/hop{i + 1}"})
    (local_site.root / "hop5").write_text("never reached")
    f = Fetcher(_policy(max_redirects=2))
    try:
        result = f.get(f"{local_site.base_url}/hop0")
    finally:
        f.close()
    assert result.error is not None
    assert "redirect" in result.error
    assert not result.ok
    assert len(local_site.requests) == 3  # the first request and two followed redirects


def test_redirect_loop_ends_with_an_error(local_site: LocalSite, fetcher: Fetcher) -> None:
    local_site.overrides["/loop"] = Override(302, headers={"Location": "/loop"})
    result = fetcher.get(f"{local_site.base_url}/loop")
    assert result.error is not None
    assert "redirect" in result.error
    assert len(local_site.requests) == fetcher.policy.max_redirects + 1


# ------------------------------------------------------------------ SSRF guard


def test_private_address_is_refused_before_any_request(local_site: LocalSite) -> None:
    (local_site.root / "secret.txt").write_text("internal")
    f = Fetcher(_policy(allow_private=False))
    try:
        result = f.get(f"{local_site.base_url}/secret.txt")
    finally:
        f.close()
    assert result.error is not None
    assert "127.0.0.1" in result.error
    assert result.body == b""
    assert local_site.requests == []


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://10.1.2.3/",
        "http://192.168.0.10/admin",
        "http://[::1]/",
        "http://100.64.0.1/",  # carrier-grade NAT
    ],
)
def test_check_address_refuses_non_public_addresses(url: str) -> None:
    with pytest.raises(FetchRefusedError, match="non-public address"):
        check_address(url, allow_private=False)


@pytest.mark.parametrize(
    "url", ["http://169.254.169.254/latest/meta-data/", "http://0.0.0.0:8000/", "http://[fe80::1]/"]
)
@pytest.mark.parametrize("allow_private", [False, True])
def test_metadata_and_link_local_addresses_are_refused_even_when_private_is_allowed(
    url: str, allow_private: bool
) -> None:
    with pytest.raises(FetchRefusedError, match="link-local or metadata"):
        check_address(url, allow_private=allow_private)


def test_every_redirect_hop_is_checked(local_site: LocalSite) -> None:
    local_site.overrides["/go"] = Override(302, b"", {"Location": "http://169.254.169.254/latest/meta-data/"})
    f = Fetcher(_policy())
    result = f.get(f"{local_site.base_url}/go")
    f.close()
    assert result.error and "metadata" in result.error
    assert result.final_url == "http://169.254.169.254/latest/meta-data/"


def test_check_address_refuses_non_http_schemes() -> None:
    with pytest.raises(FetchRefusedError, match="not an http"):
        check_address("file:///etc/passwd", allow_private=True)


def test_check_address_allows_private_when_told() -> None:
    check_address("http://127.0.0.1:9/", allow_private=True)  # no exception


def test_non_http_url_gives_error_result(fetcher: Fetcher) -> None:
    result = fetcher.get("ftp://127.0.0.1/file")
    assert result.error is not None
    assert "not an http" in result.error


# ------------------------------------------------------------------ errors never raise


@pytest.mark.parametrize("status", [404, 500, 503])
def test_http_error_status_gives_error(local_site: LocalSite, fetcher: Fetcher, status: int) -> None:
    local_site.overrides["/broken"] = Override(status, b"oops", {"Content-Type": "text/plain"})
    result = fetcher.get(f"{local_site.base_url}/broken")
    assert result.status == status
    assert result.error == f"HTTP {status}"
    assert not result.ok


def test_missing_file_gives_http_404(local_site: LocalSite, fetcher: Fetcher) -> None:
    result = fetcher.get(f"{local_site.base_url}/nothing-here.html")
    assert result.status == 404
    assert result.error == "HTTP 404"


def test_connection_refused_gives_error_not_exception(fetcher: Fetcher) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens on this port now
    result = fetcher.get(f"http://127.0.0.1:{port}/feed.xml")
    assert result.status == 0
    assert result.error is not None
    assert "ConnectionError" in result.error
    assert not result.ok


# ------------------------------------------------------------------ per-host spacing


def test_host_spacer_spaces_two_calls_to_one_host() -> None:
    spacer = HostSpacer(0.2)
    spacer.wait("news.example")
    start = time.monotonic()
    spacer.wait("news.example")
    assert time.monotonic() - start >= 0.18


def test_host_spacer_does_not_delay_other_hosts() -> None:
    spacer = HostSpacer(30.0)
    spacer.wait("a.example")
    start = time.monotonic()
    spacer.wait("b.example")
    assert time.monotonic() - start < 5.0  # far below the 30 s a shared spacing would impose


def test_fetcher_spaces_requests_to_one_host(local_site: LocalSite) -> None:
    (local_site.root / "a.txt").write_text("a")
    f = Fetcher(_policy(per_host_delay=0.2))
    try:
        f.get(f"{local_site.base_url}/a.txt")
        start = time.monotonic()
        f.get(f"{local_site.base_url}/a.txt")
        elapsed = time.monotonic() - start
    finally:
        f.close()
    assert elapsed >= 0.18


# ------------------------------------------------------------------ content, Retry-After, deadline


@pytest.mark.parametrize(
    ("kind", "ctype", "body", "refusal"),
    [
        ("feed", "text/html", b"<!DOCTYPE html><html><p>hi</p></html>", "instead of a feed"),
        ("feed", "application/xml", b"\n  <html><body>login</body></html>", "instead of a feed"),
        ("page", "application/pdf", b"%PDF-1.7 ...", "binary content"),
        ("page", "image/png", b"\x89PNG\r\n", "binary content"),
        ("page", "application/json", b'{"a": 1}', "not a web page"),
        ("page", "application/octet-stream", b"\x00\x01\x02", "not a web page"),
        ("page", "text/html", b"PK\x03\x04\x00\x00zip", "binary content"),  # lying content-type
    ],
)
def test_content_that_cannot_be_what_was_asked_for_is_refused(
    local_site: LocalSite, fetcher: Fetcher, kind: str, ctype: str, body: bytes, refusal: str
) -> None:
    local_site.overrides["/x"] = Override(200, body, {"Content-Type": ctype})
    result = fetcher.get(f"{local_site.base_url}/x", kind=kind)  # type: ignore[arg-type]
    assert not result.ok
    assert result.error and refusal in result.error


@pytest.mark.parametrize(
    ("kind", "ctype", "body"),
    [
        (
            "feed",
            "text/html",
            b"<?xml version='1.0'?><rss version='2.0'><channel/></rss>",
        ),  # misconfigured server
        ("feed", "text/xml", b"\xff\xfe<\x00r\x00s\x00s\x00>\x00"),  # UTF-16 is not binary
        ("page", "text/html; charset=utf-8", b"<html><body><p>story</p></body></html>"),
        ("page", "", b"<html><body><p>story</p></body></html>"),
    ],
)
def test_content_that_fits_is_accepted(
    local_site: LocalSite, fetcher: Fetcher, kind: str, ctype: str, body: bytes
) -> None:
    local_site.overrides["/x"] = Override(200, body, {"Content-Type": ctype} if ctype else {})
    result = fetcher.get(f"{local_site.base_url}/x", kind=kind)  # type: ignore[arg-type]
    assert result.ok and result.body == body


def test_gzip_body_is_decoded_and_capped_on_its_decoded_size(local_site: LocalSite) -> None:
    import gzip

    plain = b"<rss>" + b"a" * 200_000 + b"</rss>"
    packed = gzip.compress(plain)
    headers = {"Content-Type": "application/rss+xml", "Content-Encoding": "gzip"}
    local_site.overrides["/feed.xml"] = Override(200, packed, headers)
    f = Fetcher(_policy(max_bytes=300_000))
    assert f.get(f"{local_site.base_url}/feed.xml").body == plain
    small = Fetcher(_policy(max_bytes=100_000))  # the 1 KB on the wire would be 200 KB: a gzip bomb
    result = small.get(f"{local_site.base_url}/feed.xml")
    assert result.error and "cap" in result.error
    f.close()
    small.close()


def test_slow_drip_is_cut_at_the_total_deadline(local_site: LocalSite) -> None:
    local_site.overrides["/drip"] = Override(200, b"x" * 500, {"Content-Type": "text/plain"}, drip=0.02)
    f = Fetcher(_policy(total_timeout=0.5, read_timeout=5.0))
    result = f.get(f"{local_site.base_url}/drip")
    f.close()
    assert result.error and "deadline" in result.error
    assert result.elapsed < 3  # bytes kept arriving, so only the total deadline could stop it


@pytest.mark.parametrize(
    ("header", "expected"),
    [("120", 120.0), ("0", 0.0), ("Fri, 20 Nov 2026 12:10:00 GMT", 600.0), ("soon", None), (None, None)],
)
def test_retry_after_is_read_as_seconds_or_http_date(header: str | None, expected: float | None) -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    assert retry_after_seconds(header, now) == expected


def test_retry_after_blocks_the_host_and_is_capped(local_site: LocalSite) -> None:
    local_site.overrides["/busy"] = Override(429, b"", {"Retry-After": "999999"})
    f = Fetcher(_policy(max_retry_after=3600.0))
    result = f.get(f"{local_site.base_url}/busy")
    f.close()
    assert result.status == 429 and result.retry_after == 3600.0
    host = local_site.base_url.split("//", 1)[1]
    assert 3500 < f.spacer.blocked_for(host) <= 3600


def test_permanent_redirect_is_reported_only_when_every_hop_is_permanent(local_site: LocalSite) -> None:
    (local_site.root / "c.xml").write_text("<rss/>")
    local_site.overrides["/a"] = Override(301, b"", {"Location": "/b"})
    local_site.overrides["/b"] = Override(308, b"", {"Location": "/c.xml"})
    local_site.overrides["/t"] = Override(302, b"", {"Location": "/b"})
    f = Fetcher(_policy())
    assert f.get(f"{local_site.base_url}/a").permanent_redirect == f"{local_site.base_url}/c.xml"
    assert f.get(f"{local_site.base_url}/t").permanent_redirect is None
    assert f.get(f"{local_site.base_url}/c.xml").permanent_redirect is None
    f.close()


# ------------------------------------------------------------------ connections and proxies


def _serve(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, str]:
    """A local server for *handler* in a thread, and its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


class _KeepAlive:
    """An HTTP/1.1 server with keep-alive, as publishers' CDNs serve: it counts the connections
    it accepts and remembers each request line's target (an absolute URL when it is a proxy)."""

    def __init__(self, bodies: dict[str, bytes]) -> None:
        self.connections = 0
        self.targets: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                outer.connections += 1
                super().setup()

            def do_GET(self) -> None:
                outer.targets.append(self.path)
                body = bodies.get(self.path.rsplit("/", 1)[-1], b"")
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server, self.url = _serve(Handler)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_pages_share_one_connection_and_a_body_cut_off_never_spoils_the_next() -> None:
    """Keep-alive: one connection serves page after page. A body refused part-way (over the
    cap) leaves its unread bytes on that connection, so it is closed, not reused: the next
    page is read whole and exact, on a new connection."""
    small, big = b"<p>" + b"a" * 5_000 + b"</p>", b"<p>" + b"b" * 150_000 + b"</p>"
    site = _KeepAlive({"small": small, "big": big})
    f = Fetcher(_policy(max_bytes=100_000))
    try:
        for _ in range(5):
            assert f.get(f"{site.url}/small", kind="page").body == small
        assert site.connections == 1
        refused = f.get(f"{site.url}/big", kind="page")
        assert refused.error and "cap" in refused.error
        after = f.get(f"{site.url}/small", kind="page")
        assert after.ok and after.body == small
        assert site.connections == 2
    finally:
        f.close()
        site.close()


def test_proxy_from_the_environment_is_used_unless_no_proxy_names_the_host(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """HTTP_PROXY sends requests through the proxy (it sees the absolute URL, with our
    User-Agent); a host in NO_PROXY is asked directly."""
    proxy = _KeepAlive({"page.html": b"<p>through the proxy</p>"})
    (tmp_path / "page.html").write_text("<p>direct</p>")
    for name in ("http_proxy", "https_proxy", "no_proxy", "all_proxy", "ALL_PROXY", "REQUEST_METHOD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.7")
    f = Fetcher(_policy())
    direct_site = LocalSite(tmp_path, host="127.0.0.7").__enter__()
    try:
        target = "http://127.0.0.9:9/page.html"  # nothing listens there: only the proxy can answer
        via = f.get(target, kind="page")
        assert via.ok and via.body == b"<p>through the proxy</p>"
        assert proxy.targets == [target]
        direct = f.get(f"{direct_site.base_url}/page.html", kind="page")
        assert direct.ok and direct.body == b"<p>direct</p>"
        assert proxy.targets == [target]
    finally:
        f.close()
        proxy.close()
        direct_site.stop()


def test_a_cookie_set_by_a_redirect_is_sent_on_its_next_hops_and_forgotten_after() -> None:
    """A consent check: the story redirects to /consent unless a cookie says yes, and /consent
    sets it and redirects back. The fetch follows that once and gets the story; the next fetch
    starts without the cookie (none is kept between fetches) and does the same."""
    seen: list[tuple[str, str | None]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            cookie = self.headers.get("Cookie")
            seen.append((self.path, cookie))
            if self.path == "/consent":
                self.send_response(302)
                self.send_header("Set-Cookie", "consent=yes; Path=/; HttpOnly")
                self.send_header("Set-Cookie", "bad cookie header")  # ignored, not fatal
                self.send_header("Location", "/story")
                body = b""
            elif cookie and "consent=yes" in cookie:
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                body = b"<p>the story</p>"
            else:
                self.send_response(302)
                self.send_header("Location", "/consent")
                body = b""
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server, base = _serve(Handler)
    url = f"{base}/story"
    f = Fetcher(_policy())
    try:
        for _ in range(2):
            result = f.get(url, kind="page")
            assert result.ok and result.body == b"<p>the story</p>", result.error
        assert seen == [("/story", None), ("/consent", None), ("/story", "consent=yes")] * 2
    finally:
        f.close()
        server.shutdown()
        server.server_close()
