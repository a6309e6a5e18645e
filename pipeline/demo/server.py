"""A small local web server for the bundled demo site (and for tests).

Serves files under a root folder on 127.0.0.1, replacing the token ``{base}`` in text files with
its own address, with ETag/Last-Modified and 304 answers like a real publisher. Tests can
override a path with a fixed status, headers and body.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SITE = Path(__file__).parent / "site"
TYPES = {
    ".xml": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".html": "text/html; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}
TEXT = (".xml", ".atom", ".html", ".txt")
STARTED = formatdate(usegmt=True)


@dataclass
class Override:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    drip: float = 0.0  # seconds between single bytes of the body (a slow-drip server)


class LocalSite:
    """``with LocalSite(root) as site: site.base_url`` — stops the server on exit."""

    def __init__(self, root: Path = SITE, host: str = "127.0.0.1", port: int = 0) -> None:
        self.root = root
        self.overrides: dict[str, Override] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.arrivals: list[float] = []  # time.monotonic() of each request, in order
        self.server = ThreadingHTTPServer((host, port), self._handler())
        self.server.daemon_threads = True
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> LocalSite:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def body_for(self, path: str) -> tuple[bytes, str] | None:
        local = (self.root / path.lstrip("/").split("?", 1)[0]).resolve()
        if not local.is_relative_to(self.root.resolve()) or not local.is_file():
            return None
        data = local.read_bytes()
        if local.suffix in TEXT:
            data = data.replace(b"{base}", bytes(self.base_url, "ascii"))
        return data, TYPES.get(local.suffix, "application/octet-stream")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        return type("Handler", (_Handler,), {"site": self})


class _Handler(BaseHTTPRequestHandler):
    """Serves ``site``: overrides first, then files, with ETag/304."""

    site: LocalSite
    server_version = "LocalSite/1"

    def log_message(self, format: str, *args: object) -> None:
        return

    def do_GET(self) -> None:
        site = self.site
        site.arrivals.append(time.monotonic())
        site.requests.append((self.path, dict(self.headers.items())))
        if self.path in site.overrides:
            o = site.overrides[self.path]
            self._send(o.status, o.body, o.headers, o.drip)
            return
        found = site.body_for(self.path)
        if found is None:
            self._send(404, b"not found", {"Content-Type": "text/plain"})
            return
        body, ctype = found
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if self.headers.get("If-None-Match") == etag:
            self._send(304, b"", {"ETag": etag})
            return
        self._send(200, body, {"Content-Type": ctype, "ETag": etag, "Last-Modified": STARTED})

    def _send(self, status: int, body: bytes, headers: dict[str, str], drip: float = 0.0) -> None:
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        if "Content-Length" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if drip:
            self._drip(body, drip)
        elif body:
            self.wfile.write(body)

    def _drip(self, body: bytes, drip: float) -> None:
        try:
            for i in range(len(body)):
                self.wfile.write(body[i : i + 1])
                self.wfile.flush()
                time.sleep(drip)
        except OSError:  # the client gave up, as it should
            return
