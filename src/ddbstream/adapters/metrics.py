"""CloudWatch metrics as Embedded Metric Format (EMF): JSON documents printed to stdout.

Lambda ships stdout to CloudWatch Logs, which extracts the metrics; no API call, no extra
latency. Per invocation the processor prints one document with the totals (dimension
``FunctionName``) and one per event name with ``Changes`` (dimensions ``FunctionName`` and
``EventName``).

Metric names (all unit Count): ``Changes``, ``AuditObjectsWritten``, ``NotificationsSent``,
``RecordsQuarantined``, ``DeliveryFailures`` (records reported back in ``batchItemFailures``).
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


def build_emf(
    namespace: str,
    function_name: str,
    totals: Mapping[str, int],
    changes_by_event: Mapping[str, int],
    timestamp_ms: int | None = None,
) -> list[dict[str, Any]]:
    ts = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    docs: list[dict[str, Any]] = [
        {
            "_aws": {
                "Timestamp": ts,
                "CloudWatchMetrics": [
                    {
                        "Namespace": namespace,
                        "Dimensions": [["FunctionName"]],
                        "Metrics": [{"Name": m, "Unit": "Count"} for m in TOTALS],
                    }
                ],
            },
            "FunctionName": function_name,
            **{m: int(totals.get(m, 0)) for m in TOTALS},
        }
    ]
    for event_name in sorted(changes_by_event):
        docs.append(
            {
                "_aws": {
                    "Timestamp": ts,
                    "CloudWatchMetrics": [
                        {
                            "Namespace": namespace,
                            "Dimensions": [["FunctionName", "EventName"]],
                            "Metrics": [{"Name": "Changes", "Unit": "Count"}],
                        }
                    ],
                },
                "FunctionName": function_name,
                "EventName": event_name,
                "Changes": int(changes_by_event[event_name]),
            }
        )
    return docs


def emit(docs: list[dict[str, Any]], stream: TextIO | None = None) -> None:
    out = stream if stream is not None else sys.stdout
    for d in docs:
        out.write(json.dumps(d, separators=(",", ":")) + "\n")
    out.flush()
