"""Embedded Metric Format (EMF): the metrics CloudWatch Logs extracts from a log event.

Plain Python, following "Specification: Embedded metric format" (CloudWatch User Guide):

- the log event is a JSON object with nothing before or after it;
- ``_aws`` holds ``Timestamp`` (epoch milliseconds) and ``CloudWatchMetrics``, an array of
  metric directives: ``Namespace``, ``Dimensions`` (an array of dimension sets, each an array of
  up to 30 member names) and ``Metrics`` (``Name``, optional ``Unit`` and ``StorageResolution``);
- every name a directive references is a member of the root: a dimension's value a string, a
  metric's value a number or an array of up to 100 numbers;
- each dimension set of a directive is a metric of its own with the same values.

A directive or metric that breaks a rule is skipped (CloudWatch drops what fails validation and
counts it in AWS/Logs; that count is not kept here).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

MAX_DIMENSIONS = 30
MAX_VALUES = 100


@dataclass(frozen=True)
class EmfMetric:
    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]
    values: tuple[float, ...]
    unit: str | None
    timestamp_ms: int
    storage_resolution: int = 60


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def extract(message: str) -> list[EmfMetric]:
    """The metrics of one log event's message; [] when it is not an EMF document."""
    text = message.strip()
    if not text.startswith("{") or '"_aws"' not in text:
        return []
    try:
        root = json.loads(text)
    except ValueError:
        return []
    meta = root.get("_aws") if isinstance(root, dict) else None
    if not isinstance(meta, dict):
        return []
    ts = meta.get("Timestamp")
    directives = meta.get("CloudWatchMetrics")
    if not _number(ts) or not isinstance(directives, list):
        return []
    out: list[EmfMetric] = []
    for d in directives:
        if not isinstance(d, dict):
            continue
        ns, dim_sets, metrics = d.get("Namespace"), d.get("Dimensions"), d.get("Metrics")
        if not isinstance(ns, str) or not ns or not isinstance(metrics, list):
            continue
        if not isinstance(dim_sets, list):
            continue
        resolved: list[tuple[tuple[str, str], ...]] = []
        valid = True
        for names in dim_sets:
            if not isinstance(names, list) or len(names) > MAX_DIMENSIONS:
                valid = False
                break
            values = [root.get(n) if isinstance(n, str) else None for n in names]
            if not all(isinstance(v, str) for v in values):
                valid = False
                break
            resolved.append(tuple(zip(names, values, strict=True)))  # type: ignore[arg-type]
        if not valid:
            continue
        if not resolved:  # no dimension set: one metric without dimensions
            resolved = [()]
        for m in metrics:
            if not isinstance(m, dict) or not isinstance(m.get("Name"), str):
                continue
            raw = root.get(m["Name"])
            vals = raw if isinstance(raw, list) else [raw]
            if not vals or len(vals) > MAX_VALUES or not all(_number(v) for v in vals):
                continue
            unit = m.get("Unit") if isinstance(m.get("Unit"), str) else None
            resolution = 1 if m.get("StorageResolution") == 1 else 60
            for dims in resolved:
                out.append(
                    EmfMetric(
                        namespace=ns,
                        name=m["Name"],
                        dimensions=dims,
                        values=tuple(float(v) for v in vals),
                        unit=unit,
                        timestamp_ms=int(ts),
                        storage_resolution=resolution,
                    )
                )
    return out
