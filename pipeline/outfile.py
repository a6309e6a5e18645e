"""Writing command output: JSON Lines to standard output or to a file replaced atomically."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=str)


@contextmanager
def output(path: Path | None) -> Iterator[IO[str]]:
    """Standard output, or a file written in full to a temporary name and then renamed, so a
    failed run never leaves a half-written file in place of a good one."""
    if path is None or str(path) == "-":
        yield sys.stdout
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            yield fh
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def write_lines(objs: Iterable[Any], out: IO[str]) -> int:
    n = 0
    for obj in objs:
        out.write(dumps(obj) + "\n")
        n += 1
    return n


def write_bytes_atomically(path: Path, data: bytes) -> None:
    """Write *data* to a temporary name beside *path*, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
