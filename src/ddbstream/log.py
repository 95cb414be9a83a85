"""Structured JSON logs: one JSON object per line on stdout (Lambda sends stdout to CloudWatch).

Every line has ``timestamp`` (UTC, ISO 8601), ``level``, ``message``, ``service`` and, during an
invocation, ``function_name`` and ``request_id``; keyword arguments become further fields. The
handler writes ``Processing batch`` once per batch and ``Processing change`` once per change, so
``aws logs filter-log-events --filter-pattern 'Processing'`` finds them.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, TextIO

LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40}


def _default(o: object) -> object:
    return str(o)


class JsonLogger:
    def __init__(
        self, service: str = "ddbstream", level: str = "INFO", stream: TextIO | None = None
    ) -> None:
        self.service = service
        self.level = LEVELS.get(level.upper(), 20)
        self._stream = stream
        self.context: dict[str, Any] = {}

    @property
    def stream(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stdout

    def redirect(self, stream: TextIO | None) -> None:
        """Write to ``stream`` from now on (``None``: back to sys.stdout)."""
        self._stream = stream

    def set_level(self, level: str) -> None:
        self.level = LEVELS.get(level.upper(), 20)

    def enabled(self, level: str) -> bool:
        return LEVELS[level] >= self.level

    def log(self, level: str, message: str, **fields: Any) -> None:
        if LEVELS[level] < self.level:
            return
        now = time.time()
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"
        doc = {"timestamp": ts, "level": level, "message": message, "service": self.service}
        doc.update(self.context)
        doc.update(fields)
        line = json.dumps(doc, default=_default, ensure_ascii=False, separators=(",", ":"))
        self.stream.write(line + "\n")

    def debug(self, message: str, **fields: Any) -> None:
        self.log("DEBUG", message, **fields)

    def info(self, message: str, **fields: Any) -> None:
        self.log("INFO", message, **fields)

    def warning(self, message: str, **fields: Any) -> None:
        self.log("WARNING", message, **fields)

    def error(self, message: str, **fields: Any) -> None:
        self.log("ERROR", message, **fields)


logger = JsonLogger()
