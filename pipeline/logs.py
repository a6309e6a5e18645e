"""Log set-up for the command line and the service: key=value text (the default) or JSON.

``MEDIAWATCH_LOG_FORMAT=json`` writes one JSON object per line (python-json-logger) with
``time``, ``level``, ``logger`` and ``message``, plus every ``key=value`` pair of the message as
a field of its own (``job done job=poll polls=3`` gives ``"job": "poll", "polls": 3``), so log
collectors can filter on them.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

from pythonjsonlogger.json import JsonFormatter

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
PAIR = re.compile(r"""(?<![\S])([A-Za-z_][\w.]*)=('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|\S+)""")
RESERVED = frozenset({"time", "level", "logger", "message", "exc_info", "stack_info"})


class KeyValueJsonFormatter(JsonFormatter):
    """JSON lines; the message's key=value pairs become fields (numbers as numbers)."""

    def __init__(self) -> None:
        super().__init__(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            json_ensure_ascii=False,
        )

    def add_fields(
        self, log_record: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_record, record, message_dict)
        for key, raw in PAIR.findall(record.getMessage()):
            if key not in RESERVED and key not in log_record:
                log_record[key] = _value(raw)


def _value(raw: str) -> Any:
    if raw[:1] in "'\"" and raw[-1:] == raw[:1] and len(raw) > 1:
        return raw[1:-1]
    for kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            pass
    return raw


def configure(verbose: bool) -> None:
    """Text logs on stderr: INFO with -v, else warnings and errors only."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format=TEXT_FORMAT, stream=sys.stderr
    )
    # alembic says which plugins it set up when it is imported: nothing a user acts on, and a
    # command that opens the store imports it before the settings can switch the logs to JSON
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


def use_format(fmt: str) -> None:
    """Switch the root handlers to *fmt* ("text" or "json")."""
    formatter: logging.Formatter = (
        KeyValueJsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT)
    )
    for handler in logging.getLogger().handlers:
        handler.setFormatter(formatter)
    logging.captureWarnings(fmt == "json")  # Python warnings as log records: every line is JSON


def service_logging() -> None:
    """A service logs what it does: INFO at least (-v changes nothing, it is already there)."""
    root = logging.getLogger()
    if root.getEffectiveLevel() > logging.INFO:
        root.setLevel(logging.INFO)
    for noisy in ("apscheduler.scheduler", "apscheduler.executors"):
        logging.getLogger(noisy).setLevel(logging.WARNING)  # "Running job ..." twice per job
