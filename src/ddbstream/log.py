"""Structured JSON logs in the shape of Powertools for AWS Lambda (Python)'s Logger.

One JSON object per line on stdout (Lambda sends stdout to CloudWatch Logs). Every line starts
with Powertools' standard keys, so Logs Insights queries and dashboards written for Powertools
find them: ``level``, ``location`` (``module.function:line`` of the call), ``message``,
``timestamp`` (RFC 3339 UTC with milliseconds, which Lambda's JSON log format also reads) and
``service``; during an invocation the Lambda context keys follow: ``cold_start``,
``function_name``, ``function_memory_size``, ``function_arn``, ``function_request_id`` and
``xray_trace_id`` (the ``Root`` of ``_X_AMZN_TRACE_ID``). A context key whose value is unknown
is left out, as Powertools leaves out keys whose value is ``None``. Keyword arguments become
further keys.

The handler writes ``Processing batch`` once per batch and ``Processing change`` once per change,
so ``aws logs filter-log-events --filter-pattern 'Processing'`` finds them.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Mapping
from typing import Any, TextIO

LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40}

# The Lambda context keys, in Powertools' order.
CONTEXT_KEYS = (
    "cold_start",
    "function_name",
    "function_memory_size",
    "function_arn",
    "function_request_id",
    "xray_trace_id",
)


def _default(o: object) -> object:
    return str(o)


def xray_trace_id(header: str | None = None) -> str | None:
    """The trace id (``Root=...``) of an X-Ray trace header, by default ``_X_AMZN_TRACE_ID``."""
    header = os.environ.get("_X_AMZN_TRACE_ID") if header is None else header
    if not header:
        return None
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == "Root" and value:
            return value
    return None


def lambda_context_keys(context: Any, cold_start: bool) -> dict[str, Any]:
    """Powertools' Lambda context keys for one invocation (unknown values left out)."""
    memory = getattr(context, "memory_limit_in_mb", None)
    try:
        memory = int(memory) if memory is not None else None
    except (TypeError, ValueError):
        memory = None
    keys = {
        "cold_start": cold_start,
        "function_name": getattr(context, "function_name", None)
        or os.environ.get("AWS_LAMBDA_FUNCTION_NAME"),
        "function_memory_size": memory,
        "function_arn": getattr(context, "invoked_function_arn", None),
        "function_request_id": getattr(context, "aws_request_id", None),
        "xray_trace_id": xray_trace_id(),
    }
    return {k: v for k, v in keys.items() if v is not None and v != ""}


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

    def bind(self, keys: Mapping[str, Any]) -> None:
        """Set the invocation's context keys (see :func:`lambda_context_keys`)."""
        self.context = dict(keys)

    def enabled(self, level: str) -> bool:
        return LEVELS[level] >= self.level

    def log(self, level: str, message: str, _depth: int = 1, **fields: Any) -> None:
        """Write one line; ``_depth`` is how many frames up the caller named in ``location`` is."""
        if LEVELS[level] < self.level:
            return
        now = time.time()
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"
        try:
            frame = sys._getframe(_depth)
            module = frame.f_globals.get("__name__", "?")
            location = f"{module}.{frame.f_code.co_name}:{frame.f_lineno}"
        except ValueError:  # called from the bottom of the stack
            location = "?"
        doc = {
            "level": level,
            "location": location,
            "message": message,
            "timestamp": ts,
            "service": self.service,
        }
        doc.update(self.context)
        doc.update(fields)
        line = json.dumps(doc, default=_default, ensure_ascii=False, separators=(",", ":"))
        self.stream.write(line + "\n")

    def debug(self, message: str, **fields: Any) -> None:
        self.log("DEBUG", message, _depth=2, **fields)

    def info(self, message: str, **fields: Any) -> None:
        self.log("INFO", message, _depth=2, **fields)

    def warning(self, message: str, **fields: Any) -> None:
        self.log("WARNING", message, _depth=2, **fields)

    def error(self, message: str, **fields: Any) -> None:
        self.log("ERROR", message, _depth=2, **fields)


# The service until the settings are read (a configuration error is logged before that).
logger = JsonLogger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "").strip() or "ddbstream")
