"""What civicbot's log may hold: no participant's words, address or platform id.

civicbot's own lines name an event by its platform and event id, never by person. The
libraries are another matter: slack-bolt logs the body of a request it refuses or
does not handle, matrix-nio logs user and room ids, aiohttp's access log has client
addresses, and an exception's message may quote a platform's answer. So, unless the
log level is DEBUG (for diagnosing, by someone allowed to see personal data):
- those libraries log warnings and errors only, as their logger, level and a word
  that details were withheld;
- a traceback keeps its frames and the exception's type, not its message.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import UTC, datetime
from typing import TextIO

# The libraries whose lines can carry request bodies, message texts or user ids.
LIBRARIES = ("slack_bolt", "slack_sdk", "nio", "aiohttp", "websockets", "peewee", "asyncio")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure(
    level: str = "INFO", stream: TextIO | None = None, form: str = "text"
) -> logging.Handler:
    """Send the log to `stream` (stderr) at `level`, as lines of text or, with `form`
    "json", one JSON object a line (for journald, Loki, Elasticsearch…); the handler,
    for tests to remove."""
    handler = logging.StreamHandler(stream or sys.stderr)
    numeric = logging.getLevelName(level)
    detailed = numeric <= logging.DEBUG
    if form == "json":
        handler.setFormatter(_Json(detailed))
    else:
        handler.setFormatter(logging.Formatter(FORMAT) if detailed else _Withholding(FORMAT))
    if not detailed:
        handler.addFilter(_library_details_withheld)
        for library in LIBRARIES:
            logging.getLogger(library).setLevel(logging.WARNING)
    root = logging.getLogger()
    root.setLevel(numeric)
    root.addHandler(handler)
    return handler


def _library_details_withheld(record: logging.LogRecord) -> bool:
    if record.name.split(".")[0] in LIBRARIES:
        record.msg = "%s (details withheld: they may quote a request or a person)"
        record.args = (record.levelname.lower(),)
    return True


class _Withholding(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        # Our own exception text, not one another handler may have cached on the record.
        cached = record.exc_text
        record.exc_text = self.formatException(record.exc_info) if record.exc_info else None
        try:
            return super().format(record)
        finally:
            record.exc_text = cached

    def formatException(self, ei) -> str:
        kind, _, tb = ei
        frames = "".join(traceback.format_tb(tb))
        return f"Traceback (most recent call last):\n{frames}{kind.__qualname__} (message withheld)"


class _Json(_Withholding):
    """{"time", "level", "logger", "message"[, "exception"]}, one object a line."""

    def __init__(self, detailed: bool) -> None:
        super().__init__()
        self._detailed = detailed

    def formatException(self, ei) -> str:
        if self._detailed:
            return logging.Formatter.formatException(self, ei)
        return super().formatException(ei)

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)
