"""Polite HTTP against a real local server (pipeline/fetch.py, pipeline/demo/server.py)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from pipeline.demo.server import LocalSite, Override
from pipeline.fetch import Fetcher, FetchPolicy, FetchRefusedError, HostSpacer, check_address

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
    fetcher.get(f"{local_site.base_url}/a.txt", accept="text/plain")
    sent = _headers(local_site)
    assert "if-none-match" not in sent
    assert "if-modified-since" not in sent
    assert sent["accept"] == "text/plain"


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
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
    ],
)
def test_check_address_refuses_non_public_addresses(url: str) -> None:
    with pytest.raises(FetchRefusedError, match="non-public address"):
        check_address(url, allow_private=False)


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
