"""CloudWatch metrics as Embedded Metric Format (EMF): JSON documents printed to stdout.

Lambda ships stdout to CloudWatch Logs, which extracts the metrics; no API call, no extra
latency. Per invocation the processor prints:

* one document with the totals, dimension set ``FunctionName`` and, when the service dimension
  is on (the default), also ``service``, as Powertools for AWS Lambda (Python)'s Metrics does
  for every metric (``POWERTOOLS_SERVICE_NAME``);
* one per event name with ``Changes``, dimension sets ``FunctionName, EventName`` and
  ``service, EventName``;
* on a cold start only, Powertools' ``ColdStart`` document: metric ``ColdStart`` = 1 with the
  dimensions ``function_name`` and ``service``, in a document of its own (no 0 is emitted
  for warm invocations, as in Powertools).

Each dimension set of a document is a separate CloudWatch metric, so the ``FunctionName`` series
the alarms and the dashboard read stay as they were and a Powertools dashboard finds the
``service`` series.

Metric names (all unit Count): ``Changes``, ``AuditObjectsWritten``, ``NotificationsSent``,
``RecordsQuarantined``, ``DeliveryFailures`` (records reported back in ``batchItemFailures``),
``ColdStart``.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping
from typing import Any, TextIO

TOTALS = (
    "Changes",
    "AuditObjectsWritten",
    "NotificationsSent",
    "RecordsQuarantined",
    "DeliveryFailures",
)


def _doc(
    ts: int,
    namespace: str,
    dimension_sets: list[list[str]],
    dimensions: Mapping[str, str],
    values: Mapping[str, int],
) -> dict[str, Any]:
    return {
        "_aws": {
            "Timestamp": ts,
            "CloudWatchMetrics": [
                {
                    "Namespace": namespace,
                    "Dimensions": dimension_sets,
                    "Metrics": [{"Name": m, "Unit": "Count"} for m in values],
                }
            ],
        },
        **dimensions,
        **{m: int(v) for m, v in values.items()},
    }


def build_emf(
    namespace: str,
    function_name: str,
    totals: Mapping[str, int],
    changes_by_event: Mapping[str, int],
    timestamp_ms: int | None = None,
    *,
    service: str | None = None,
    cold_start: bool = False,
) -> list[dict[str, Any]]:
    """The invocation's EMF documents; ``service=None`` leaves the service dimension out."""
    ts = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    svc: dict[str, str] = {} if service is None else {"service": service}
    docs: list[dict[str, Any]] = []
    docs.append(
        _doc(
            ts,
            namespace,
            [["FunctionName"], *([["service"]] if svc else [])],
            {"FunctionName": function_name, **svc},
            {m: int(totals.get(m, 0)) for m in TOTALS},
        )
    )
    by_event_sets = [["FunctionName", "EventName"], *([["service", "EventName"]] if svc else [])]
    for event_name in sorted(changes_by_event):
        docs.append(
            _doc(
                ts,
                namespace,
                by_event_sets,
                {"FunctionName": function_name, **svc, "EventName": event_name},
                {"Changes": int(changes_by_event[event_name])},
            )
        )
    if cold_start:
        dims = {"function_name": function_name, **svc}
        docs.append(_doc(ts, namespace, [list(dims)], dims, {"ColdStart": 1}))
    return docs


def emit(docs: list[dict[str, Any]], stream: TextIO | None = None) -> None:
    out = stream if stream is not None else sys.stdout
    for d in docs:
        out.write(json.dumps(d, separators=(",", ":")) + "\n")
    out.flush()
