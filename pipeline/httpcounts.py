"""Counting a fetcher's responses by HTTP status, for the stats of jobs and worker processes."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from .fetch import Fetcher


class ResponseCounter:
    """Wraps ``fetcher.get`` so that every response is counted as ``http_<status>`` (0 = no
    response); ``take`` returns the counts so far and starts again. Thread-safe."""

    def __init__(self, fetcher: Fetcher) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        get = fetcher.get

        def counted(*args: Any, **kwargs: Any) -> Any:
            result = get(*args, **kwargs)
            with self._lock:
                self._counts[f"http_{getattr(result, 'status', 0) or 0}"] += 1
            return result

        setattr(fetcher, "get", counted)  # noqa: B010 - an instance attribute over the method

    def take(self) -> dict[str, int]:
        with self._lock:
            counts, self._counts = dict(self._counts), Counter()
        return counts
