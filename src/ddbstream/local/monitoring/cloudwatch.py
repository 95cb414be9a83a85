"""The emulator's CloudWatch, completed where moto stops (installed by
:func:`ddbstream.local.emulator.patch_moto`, the one place moto is patched).

- **Alarm state on create/update** (``PutMetricAlarm``: "When this operation creates an alarm,
  the alarm state is immediately set to INSUFFICIENT_DATA ... When you update an existing alarm,
  its state is left unchanged"): moto starts every alarm, and restarts an updated one, in OK.
- **State changes run the alarm's actions**: a change of state (by the local evaluator, or by
  ``SetAlarmState``, which on AWS also runs them) publishes CloudWatch's notification
  (:func:`.messages.notification`) to each SNS topic of the new state's actions, when actions are
  enabled. Other action types (Auto Scaling, EC2, Lambda, Systems Manager) are recorded as failed.
- **DescribeAlarmHistory**, which moto lacks: ``ConfigurationUpdate``, ``StateUpdate`` and
  ``Action`` items, newest first by default, filtered as the API filters.
- **GetMetricStatistics** takes the metric with exactly the dimensions asked for ("CloudWatch
  treats each unique combination of dimensions as a separate metric"); moto summed every metric
  whose dimensions include them (``Changes`` by ``FunctionName`` counted the ``FunctionName,
  EventName`` series too). Periods are counted from ``StartTime``.
- **EMF**: log events written to a Lambda log group (``/aws/lambda/...``; CloudWatch extracts
  the metrics of Lambda's output without the ``x-amzn-logs-format`` header other writers need)
  become CloudWatch metrics in the same account and region (:mod:`.emf`).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from . import emf, messages
from .evaluation import INSUFFICIENT_DATA

log = logging.getLogger("ddbstream.local.monitoring")

_lock = threading.Lock()
_installed = False
INITIAL_REASON = "Unchecked: Initial alarm creation"
LAMBDA_LOG_PREFIX = "/aws/lambda/"

#: Called after every state change of an alarm (name, old state, new state, reason): the local
#: stack uses it to show alarm changes as they happen.
listeners: list[Callable[[str, str, str, str], None]] = []


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)  # moto keeps naive UTC datetimes


#: CloudWatch keeps an alarm's history for 30 days.
HISTORY_RETENTION = timedelta(days=30)


def record(alarm: Any, item: dict[str, Any]) -> None:
    """Append a history item; items older than CloudWatch's 30 days are dropped."""
    items = history_of(alarm)
    items.append(item)
    cutoff = item["Timestamp"] - HISTORY_RETENTION
    if items and items[0]["Timestamp"] < cutoff:
        items[:] = [i for i in items if i["Timestamp"] >= cutoff]


def history_of(alarm: Any) -> list[dict[str, Any]]:
    items = getattr(alarm, "history_items", None)
    if items is None:
        items = []
        alarm.history_items = items
    return items  # type: ignore[no-any-return]


def view_of(alarm: Any, account_id: str) -> messages.AlarmView:
    return messages.AlarmView(
        name=alarm.name,
        arn=alarm.alarm_arn,
        account_id=account_id,
        region=alarm.region_name,
        description=alarm.description,
        namespace=alarm.namespace,
        metric_name=alarm.metric_name,
        dimensions=[(d.name, d.value) for d in alarm.dimensions],
        statistic=alarm.statistic,
        extended_statistic=alarm.extended_statistic,
        period=int(alarm.period) if alarm.period else None,
        evaluation_periods=int(alarm.evaluation_periods) if alarm.evaluation_periods else None,
        datapoints_to_alarm=int(alarm.datapoints_to_alarm) if alarm.datapoints_to_alarm else None,
        comparison_operator=alarm.comparison_operator,
        threshold=float(alarm.threshold) if alarm.threshold is not None else None,
        treat_missing_data=alarm.treat_missing_data,
        evaluate_low_sample_count_percentile=alarm.evaluate_low_sample_count_percentile,
        unit=alarm.unit,
        configuration_updated=alarm.configuration_updated_timestamp,
        ok_actions=list(alarm.ok_actions or []),
        alarm_actions=list(alarm.alarm_actions or []),
        insufficient_data_actions=list(alarm.insufficient_data_actions or []),
    )


def _account_of(alarm: Any) -> str:
    return str(alarm.alarm_arn.split(":")[4])


def run_actions(alarm: Any, old_state: str, changed: datetime) -> None:
    """Publish the notification of the alarm's new state to its SNS actions; record each."""
    actions = {
        "OK": alarm.ok_actions,
        "ALARM": alarm.alarm_actions,
        "INSUFFICIENT_DATA": alarm.insufficient_data_actions,
    }.get(alarm.state_value) or []
    if not actions or not alarm.actions_enabled:
        return
    account = _account_of(alarm)
    subject, body = messages.notification(
        view_of(alarm, account), old_state, alarm.state_value, alarm.state_reason, changed
    )
    for arn in actions:
        error: str | None = None
        parts = str(arn).split(":")
        if len(parts) >= 6 and parts[2] == "sns":
            try:
                from moto.sns.models import sns_backends

                sns_backends[parts[4]][parts[3]].publish(body, arn=arn, subject=subject)
            except Exception as exc:  # the topic is gone, a subscriber refused, ...
                error = f"{type(exc).__name__}: {exc}"
        else:
            error = "only SNS topic actions run in the local emulator"
        if error:
            log.warning("alarm %s: action %s failed: %s", alarm.name, arn, error)
        record(alarm, messages.action_item(alarm.name, _now(), str(arn), changed, error, body))


def install() -> None:
    """Patch moto's CloudWatch and CloudWatch Logs (idempotent)."""
    global _installed
    with _lock:
        if _installed:
            return
        _patch_alarm_lifecycle()
        _add_describe_alarm_history()
        _patch_log_events()
        _exact_dimensions_in_statistics()
        _installed = True


def _patch_alarm_lifecycle() -> None:
    from moto.cloudwatch import models as cw

    original_put = cw.CloudWatchBackend.put_metric_alarm

    def put_metric_alarm(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        existing = self.alarms.get(name)
        alarm = original_put(self, name, *args, **kwargs)
        now = _now()
        if existing is not None and existing is not alarm:
            alarm.state_value = existing.state_value
            alarm.state_reason = existing.state_reason
            alarm.state_reason_data = existing.state_reason_data
            alarm.state_updated_timestamp = existing.state_updated_timestamp
            alarm.history_items = history_of(existing)
            record(alarm, messages.configuration_item(name, now, created=False))
        else:
            alarm.state_value = INSUFFICIENT_DATA
            alarm.state_reason = INITIAL_REASON
            alarm.state_updated_timestamp = now
            record(alarm, messages.configuration_item(name, now, created=True))
        return alarm

    cw.CloudWatchBackend.put_metric_alarm = put_metric_alarm  # type: ignore[method-assign]

    def update_state(self: Any, reason: str, reason_data: str, state_value: str) -> None:
        old_value, old_reason = self.state_value, self.state_reason
        now = _now()
        self.state_reason = reason
        self.state_reason_data = reason_data
        self.state_value = state_value
        if old_value == state_value:
            return  # CloudWatch records and acts on changes of state only
        self.state_updated_timestamp = now
        record(
            self,
            messages.state_update_item(
                self.name, now, (old_value, old_reason), (state_value, reason, reason_data)
            ),
        )
        run_actions(self, old_value, now)
        for listener in list(listeners):
            with contextlib.suppress(Exception):
                listener(self.name, old_value, state_value, reason)

    cw.Alarm.update_state = update_state  # type: ignore[method-assign]


def _add_describe_alarm_history() -> None:
    from moto.cloudwatch import responses
    from moto.core.responses import ActionResult

    def describe_alarm_history(self: Any) -> Any:
        name = self._get_param("AlarmName")
        kind = self._get_param("HistoryItemType")
        types = self._get_param("AlarmTypes") or []
        start, end = self._get_param("StartDate"), self._get_param("EndDate")
        limit = int(self._get_param("MaxRecords") or 100)
        offset = int(self._get_param("NextToken") or 0)
        newest_first = (self._get_param("ScanBy") or "TimestampDescending") != "TimestampAscending"
        items: list[dict[str, Any]] = []
        for alarm in list(self.cloudwatch_backend.alarms.values()):
            if name and alarm.name != name:
                continue
            if types and "MetricAlarm" not in types:
                continue
            items.extend(history_of(alarm))
        if kind:
            items = [i for i in items if i["HistoryItemType"] == kind]
        if start is not None:
            items = [i for i in items if _aware(i["Timestamp"]) >= _aware(start)]
        if end is not None:
            items = [i for i in items if _aware(i["Timestamp"]) <= _aware(end)]
        items.sort(key=lambda i: i["Timestamp"], reverse=newest_first)
        page = items[offset : offset + limit]
        result: dict[str, Any] = {"AlarmHistoryItems": page}
        if offset + limit < len(items):
            result["NextToken"] = str(offset + limit)
        return ActionResult(result)

    responses.CloudWatchResponse.describe_alarm_history = describe_alarm_history  # type: ignore[attr-defined]


def _exact_dimensions_in_statistics() -> None:
    from moto.cloudwatch import models as cw

    original = cw.CloudWatchBackend.get_metric_statistics

    def get_metric_statistics(
        self: Any,
        namespace: str,
        metric_name: str,
        start_time: datetime,
        end_time: datetime,
        period: int,
        stats: list[str],
        dimensions: list[dict[str, str]],
        unit: str | None = None,
    ) -> Any:
        start, end = start_time.replace(microsecond=0), end_time.replace(microsecond=0)
        if start >= end or not period:  # moto's own validation error
            return original(
                self, namespace, metric_name, start_time, end_time, period, stats, dimensions, unit
            )
        wanted = frozenset((d["Name"], d.get("Value")) for d in dimensions or [])
        bins: dict[int, Any] = {}
        for md in self.get_all_metrics():
            if md.namespace != namespace or md.name != metric_name:
                continue
            if not start <= md.timestamp < end or (unit and md.unit != unit):
                continue
            if frozenset((d.name, d.value) for d in md.dimensions) != wanted:
                continue
            k = int((md.timestamp - start).total_seconds() // int(period))
            if k not in bins:
                bins[k] = cw.Statistics(stats, start + timedelta(seconds=k * int(period)))
            bins[k].metric_data.append(md)
            bins[k].unit = md.unit
        return [bins[k] for k in sorted(bins)]

    cw.CloudWatchBackend.get_metric_statistics = get_metric_statistics  # type: ignore[method-assign]


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def _patch_log_events() -> None:
    from moto.logs import models as logs

    original = logs.LogsBackend.put_log_events

    def put_log_events(
        self: Any, log_group_name: str, log_stream_name: str, log_events: list[dict[str, Any]]
    ) -> Any:
        result = original(self, log_group_name, log_stream_name, log_events)
        if log_group_name.startswith(LAMBDA_LOG_PREFIX):
            rejected = result[1] if isinstance(result, tuple) else {}
            try:
                put_emf_metrics(self.account_id, self.region_name, log_events, rejected)
            except Exception as exc:  # never fail the log write for a metric
                log.warning("EMF extraction in %s failed: %s", log_group_name, exc)
        return result

    logs.LogsBackend.put_log_events = put_log_events  # type: ignore[method-assign]


def put_emf_metrics(
    account_id: str, region: str, log_events: list[dict[str, Any]], rejected: dict[str, Any]
) -> int:
    """Store the EMF metrics of accepted log events in moto's CloudWatch; returns how many."""
    from moto.cloudwatch.models import MetricDatum, cloudwatch_backends

    too_old = rejected.get("tooOldLogEventEndIndex", -1)
    too_new = rejected.get("tooNewLogEventStartIndex", len(log_events))
    backend = cloudwatch_backends[account_id][region]
    stored = 0
    for i, event in enumerate(log_events):
        if i <= too_old or i >= too_new:
            continue
        for metric in emf.extract(str(event.get("message", ""))):
            ts = datetime.fromtimestamp(metric.timestamp_ms / 1000, UTC).replace(tzinfo=None)
            dims = [{"Name": n, "Value": v} for n, v in metric.dimensions]
            for value in metric.values:
                backend.metric_data.append(
                    MetricDatum(metric.namespace, metric.name, value, dims, ts, metric.unit)
                )
                stored += 1
    return stored
