"""Fetching pages: the main process's CPU per page for ``pipeline.fetch.Fetcher.get`` (urllib3
with our checks: address guard, per-host spacer, size cap, deadline, content type) against a
plain ``requests.Session().get`` and a bare ``urllib3.PoolManager`` request of the same pages,
in the same run.

    .venv/bin/python bench/fetch.py [--pages 2000] [--rounds 3]

Pages: ``bench/scale.py``'s corpus (about 47 KB each), served by its server in a separate
process (HTTP/1.1, keep-alive, from memory), so the figures are the client's CPU alone. In the
embedded cycle the main process fetches every page, and its CPU is what limits the run
(``bench/scale.py``). Figures: CPU milliseconds a page for each client (best of the rounds),
and ``Fetcher.get`` over requests (target <= 0.75: the session layer of requests cost about
half of a fetch). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import scale  # noqa: E402

from pipeline.fetch import Fetcher, FetchPolicy  # noqa: E402

TARGET = 0.75
UA = "MediaWatch-bench/1 (+https://mediawatch.example.org/bot; bench@example.org)"


def measure(get: Callable[[str], bytes], urls: list[str], rounds: int) -> float:
    """Best CPU milliseconds a page over *rounds* passes (after a warm-up pass)."""
    sizes = [len(get(u)) for u in urls]
    assert all(sizes), "every page must come back with a body"
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for url in urls:
            get(url)
        best = min(best, time.process_time() - start)
    return round(best / len(urls) * 1000, 3)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    import requests
    import urllib3

    work = Path(tempfile.mkdtemp(prefix="mw-bench-fetch-"))
    port = scale._free_port()
    scale.write_corpus(work / "site", args.pages, port)
    urls = [f"http://{scale.HOSTS[i % len(scale.HOSTS)]}:{port}/a/{i}.html" for i in range(args.pages)]
    server = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "bench" / "scale.py"),
            "--serve",
            str(work / "site"),
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    results: dict[str, Any] = {"pages": len(urls)}
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        fetcher = Fetcher(FetchPolicy(user_agent=UA, per_host_delay=0.0, allow_private=True))
        session = requests.Session()
        session.headers["User-Agent"] = UA
        pool = urllib3.PoolManager(headers={"User-Agent": UA})

        def ours(url: str) -> bytes:
            result = fetcher.get(url, kind="page")
            assert result.ok, result.error
            return result.body

        results["fetcher_ms"] = measure(ours, urls, args.rounds)
        results["requests_ms"] = measure(lambda u: session.get(u).content, urls, args.rounds)
        results["urllib3_ms"] = measure(lambda u: pool.request("GET", u).data, urls, args.rounds)
    finally:
        server.terminate()
        server.wait()
    results["fetcher_over_requests"] = round(results["fetcher_ms"] / results["requests_ms"], 2)
    results["fetcher_over_urllib3"] = round(results["fetcher_ms"] / results["urllib3_ms"], 2)
    results["target_max"] = TARGET
    results["ok"] = results["fetcher_over_requests"] <= TARGET
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
