"""The local CloudWatch's background work, in the process that serves the emulator: the AWS/SQS
queue metrics and the evaluation of every metric alarm.

Both read and write moto's backends in process, as CloudWatch and SQS do inside AWS (no API
call is involved there either): :class:`SqsMetrics` stores a datapoint per queue and metric,
:class:`AlarmEvaluator` evaluates each alarm at its evaluation instants with
:func:`.evaluation.evaluate` and sets a changed state through moto's ``set_alarm_state``, which
records the history and runs the actions (:mod:`.cloudwatch`). :class:`Monitoring` runs both on
one daemon thread.

SQS metrics (namespace ``AWS/SQS``, dimension ``QueueName``, every queue of every account and
region): ``ApproximateNumberOfMessagesVisible``, ``ApproximateNumberOfMessagesNotVisible``,
``ApproximateNumberOfMessagesDelayed`` (unit Count) and ``ApproximateAgeOfOldestMessage``
(Seconds). AWS pushes them once a minute; here they are sampled once a minute too, or as often as
the shortest period of an alarm on an ``AWS/SQS`` metric when that is shorter (the local stack's
10 s alarms), so every window an alarm evaluates holds a datapoint. The counters
(``NumberOfMessagesSent`` / ``Received`` / ``Deleted``, ``NumberOfEmptyReceives``,
``SentMessageSize``) are not produced.

Metrics are kept at the resolution they were written with (moto stores each value with its
timestamp), so an alarm with a 10-30 s period sees every datapoint; on AWS only metrics written
with ``StorageResolution=1`` have sub-minute resolution.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC
from typing import Any

from .evaluation import (
    Sample,
    evaluate,
    evaluation_time,
    rule_of,
    statistic,
    windows,
)

log = logging.getLogger("ddbstream.local.monitoring")

SQS_INTERVAL = 60.0
#: How long before an interval boundary the queues are sampled (more than the loop's tick).
SAMPLE_LEAD = 1.5
#: Datapoints older than this are dropped from the evaluator's index (the longest evaluation
#: range CloudWatch accepts for periods under an hour is one day).
INDEX_HORIZON = 2 * 86400.0

MetricKey = tuple[str, str, frozenset[tuple[str, str]]]


def _epoch(dt: Any) -> float:
    return float(dt.replace(tzinfo=UTC).timestamp() if dt.tzinfo is None else dt.timestamp())


def _backends(kind: str) -> list[tuple[str, str, Any]]:
    """(account, region, backend) of every backend moto holds for ``kind``."""
    if kind == "cloudwatch":
        from moto.cloudwatch.models import cloudwatch_backends as bd
    else:
        from moto.sqs.models import sqs_backends as bd
    out = []
    for account in list(bd.keys()):
        regions = bd[account]
        for region in list(regions.keys()):
            out.append((account, region, regions[region]))
    return out


class MetricIndex:
    """The datapoints of one CloudWatch backend by metric identity (namespace, name, the exact
    set of dimensions), built incrementally from moto's append-only list."""

    def __init__(self) -> None:
        self._source: int | None = None
        self._seen = 0
        self._series: dict[MetricKey, list[tuple[float, Sample, str | None]]] = {}
        self._pruned_at = 0.0

    def update(self, metric_data: list[Any], now: float) -> None:
        from moto.cloudwatch.models import MetricAggregatedDatum

        if id(metric_data) != self._source or len(metric_data) < self._seen:
            self._source, self._seen, self._series = id(metric_data), 0, {}
        new = metric_data[self._seen :]
        self._seen += len(new)
        for d in new:
            key = (d.namespace, d.name, frozenset((x.name, x.value) for x in d.dimensions))
            if isinstance(d, MetricAggregatedDatum):
                sample = Sample(d.sample_count, d.sum, d.min, d.max, raw=False)
            else:
                sample = Sample.of(float(d.value))
            self._series.setdefault(key, []).append((_epoch(d.timestamp), sample, d.unit))
        if now - self._pruned_at > 3600:
            self._pruned_at = now
            for key, series in self._series.items():
                self._series[key] = [p for p in series if p[0] >= now - INDEX_HORIZON]

    def samples(self, key: MetricKey, start: float, end: float, unit: str | None) -> list[Sample]:
        return [
            s
            for t, s, u in self._series.get(key, ())
            if start <= t < end and (unit is None or u == unit)
        ]


def _alarm_dict(alarm: Any) -> dict[str, Any]:
    return {
        "Namespace": alarm.namespace,
        "Metrics": [1] if alarm.metric_data_queries else None,
        "ThresholdMetricId": alarm.threshold_metric_id,
        "ComparisonOperator": alarm.comparison_operator,
        "Statistic": alarm.statistic,
        "ExtendedStatistic": alarm.extended_statistic,
        "Period": alarm.period,
        "EvaluationPeriods": alarm.evaluation_periods,
        "DatapointsToAlarm": alarm.datapoints_to_alarm,
        "Threshold": alarm.threshold,
        "TreatMissingData": alarm.treat_missing_data,
    }


class AlarmEvaluator:
    """Evaluates every metric alarm of the emulator once per evaluation instant."""

    def __init__(self) -> None:
        self._indexes: dict[tuple[str, str], MetricIndex] = {}
        self._last: dict[tuple[str, str, str], float] = {}
        self.evaluations = 0

    def run_once(self, now: float | None = None) -> list[tuple[str, str, str]]:
        """Evaluate the alarms due at ``now``; returns the changes (name, old, new)."""
        now = time.time() if now is None else now
        changes = []
        for account, region, backend in _backends("cloudwatch"):
            index = self._indexes.setdefault((account, region), MetricIndex())
            index.update(backend.metric_data, now)
            for alarm in list(backend.alarms.values()):
                if getattr(alarm, "rule", None):  # a composite alarm
                    continue
                try:
                    changed = self._evaluate(account, region, backend, index, alarm, now)
                except Exception as exc:  # one bad alarm must not stop the others
                    log.warning("alarm %s not evaluated: %s", alarm.name, exc)
                    continue
                if changed:
                    changes.append(changed)
        return changes

    def _evaluate(
        self, account: str, region: str, backend: Any, index: MetricIndex, alarm: Any, now: float
    ) -> tuple[str, str, str] | None:
        rule = rule_of(_alarm_dict(alarm))
        if rule is None:
            return None
        at = evaluation_time(rule.period, now)
        key = (account, region, alarm.name)
        if self._last.get(key) == at:
            return None
        self._last[key] = at
        self.evaluations += 1
        metric: MetricKey = (
            alarm.namespace,
            alarm.metric_name,
            frozenset((d.name, d.value) for d in alarm.dimensions),
        )
        wins = windows(rule, at)
        points = [
            statistic(rule.statistic, index.samples(metric, s, e, alarm.unit)) for s, e in wins
        ]
        result = evaluate(rule, points, alarm.state_value, timestamps=[s for s, _ in wins])
        old = alarm.state_value
        if result.retained or result.state == old:
            return None
        backend.set_alarm_state(
            alarm.name, result.reason, json.dumps(result.reason_data), result.state
        )
        return alarm.name, old, result.state


class SqsMetrics:
    """AWS/SQS gauges for every queue, once a minute or per the shortest AWS/SQS alarm period."""

    def __init__(self, interval: float = SQS_INTERVAL) -> None:
        self.interval = interval
        self._next = 0.0
        self.samples = 0

    def due_interval(self) -> float:
        shortest = self.interval
        for _, _, backend in _backends("cloudwatch"):
            for alarm in list(backend.alarms.values()):
                if alarm.namespace == "AWS/SQS" and alarm.period:
                    shortest = min(shortest, float(alarm.period))
        return shortest

    def maybe_sample(self, now: float) -> bool:
        """Sample at the last tick before each interval boundary (``LEAD`` seconds ahead), so a
        datapoint lands in the window an evaluation at that boundary reads."""
        if now < self._next - SAMPLE_LEAD:
            return False
        step = self.due_interval()
        self._next = ((now + SAMPLE_LEAD) // step + 1) * step
        self.sample(now)
        return True

    def sample(self, now: float) -> int:
        from datetime import datetime

        from moto.cloudwatch.models import MetricDatum, cloudwatch_backends

        ts = datetime.fromtimestamp(now, UTC).replace(tzinfo=None)
        stored = 0
        for account, region, backend in _backends("sqs"):
            cw = cloudwatch_backends[account][region]
            for queue in list(backend.queues.values()):
                try:
                    values = queue_metrics(queue, now)
                except Exception as exc:  # a queue deleted meanwhile
                    log.debug("sqs metrics of %s: %s", getattr(queue, "name", "?"), exc)
                    continue
                dims = [{"Name": "QueueName", "Value": queue.name}]
                for name, value, unit in values:
                    cw.metric_data.append(MetricDatum("AWS/SQS", name, value, dims, ts, unit))
                    stored += 1
        self.samples += 1
        return stored


def queue_metrics(queue: Any, now: float) -> list[tuple[str, float, str]]:
    """The gauges of one moto queue at ``now``."""
    messages = list(queue._messages)
    oldest = min((m.sent_timestamp for m in messages if m.sent_timestamp), default=None)
    age = max(0.0, now - oldest / 1000.0) if oldest else 0.0
    return [
        (
            "ApproximateNumberOfMessagesVisible",
            float(queue.approximate_number_of_messages),
            "Count",
        ),
        (
            "ApproximateNumberOfMessagesNotVisible",
            float(queue.approximate_number_of_messages_not_visible),
            "Count",
        ),
        (
            "ApproximateNumberOfMessagesDelayed",
            float(queue.approximate_number_of_messages_delayed),
            "Count",
        ),
        ("ApproximateAgeOfOldestMessage", float(int(age)), "Seconds"),
    ]


class Monitoring:
    """SQS metrics and alarm evaluation on a daemon thread (``start`` / ``stop``)."""

    def __init__(
        self,
        tick: float = 1.0,
        on_change: Callable[[str, str, str], None] | None = None,
        sqs_interval: float = SQS_INTERVAL,
    ) -> None:
        self.tick = tick
        self.on_change = on_change
        self.sqs = SqsMetrics(sqs_interval)
        self.evaluator = AlarmEvaluator()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self, now: float | None = None) -> list[tuple[str, str, str]]:
        now = time.time() if now is None else now
        self.sqs.maybe_sample(now)
        changes = self.evaluator.run_once(now)
        if self.on_change:
            for change in changes:
                with contextlib.suppress(Exception):
                    self.on_change(*change)
        return changes

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception as exc:  # keep evaluating; a bad alarm must not stop the others
                log.warning("monitoring: %s", exc, exc_info=True)
            self._stop.wait(self.tick)

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="ddbstream-monitoring", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> Monitoring:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
