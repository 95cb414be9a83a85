"""What CloudWatch writes when an alarm changes state: the SNS notification and the history
items (plain Python; the emulator side is :mod:`.cloudwatch`).

The notification is the JSON body CloudWatch publishes to an alarm's SNS actions, with the
subject ``ALARM: "<name>" in <region name>``. Its members, as in the sample notifications AWS
publishes (aws-lambda-go's ``cloudwatch-alarm-sns-payload-*.json`` and the CloudWatch console's
test notifications): ``AlarmName``, ``AlarmDescription``, ``AWSAccountId``,
``AlarmConfigurationUpdatedTimestamp``, ``NewStateValue``, ``NewStateReason``,
``StateChangeTime``, ``Region`` (the region's long name), ``AlarmArn``, ``OldStateValue``,
``OKActions``, ``AlarmActions``, ``InsufficientDataActions`` and ``Trigger`` (``MetricName``,
``Namespace``, ``StatisticType``, ``Statistic`` in capitals, ``Unit``, ``Dimensions`` as
``{"value", "name"}`` pairs, ``Period``, ``EvaluationPeriods``, ``DatapointsToAlarm``,
``ComparisonOperator``, ``Threshold``, ``TreatMissingData``,
``EvaluateLowSampleCountPercentile``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

#: Region names as CloudWatch writes them in notifications (the codes not listed are kept).
REGION_NAMES = {
    "us-east-1": "US East (N. Virginia)",
    "us-east-2": "US East (Ohio)",
    "us-west-1": "US West (N. California)",
    "us-west-2": "US West (Oregon)",
    "eu-west-1": "EU (Ireland)",
    "eu-west-2": "EU (London)",
    "eu-central-1": "EU (Frankfurt)",
    "ap-northeast-1": "Asia Pacific (Tokyo)",
    "ap-southeast-1": "Asia Pacific (Singapore)",
    "ap-southeast-2": "Asia Pacific (Sydney)",
}


def cw_time(t: datetime) -> str:
    """CloudWatch's notification timestamp: 2021-02-15T14:57:14.419+0000."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    t = t.astimezone(UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}+0000"


@dataclass
class AlarmView:
    """The alarm's configuration, as a notification describes it."""

    name: str
    arn: str
    account_id: str
    region: str
    description: str | None
    namespace: str | None
    metric_name: str | None
    dimensions: list[tuple[str, str]]
    statistic: str | None
    extended_statistic: str | None
    period: int | None
    evaluation_periods: int | None
    datapoints_to_alarm: int | None
    comparison_operator: str | None
    threshold: float | None
    treat_missing_data: str | None
    evaluate_low_sample_count_percentile: str | None
    unit: str | None
    configuration_updated: datetime
    ok_actions: list[str] = field(default_factory=list)
    alarm_actions: list[str] = field(default_factory=list)
    insufficient_data_actions: list[str] = field(default_factory=list)


def notification(
    alarm: AlarmView, old_state: str, new_state: str, reason: str, changed: datetime
) -> tuple[str, str]:
    """(subject, message) of the SNS notification for a state change."""
    region = REGION_NAMES.get(alarm.region, alarm.region)
    extended = bool(alarm.extended_statistic and not alarm.statistic)
    trigger: dict[str, Any] = {
        "MetricName": alarm.metric_name,
        "Namespace": alarm.namespace,
        "StatisticType": "ExtendedStatistic" if extended else "Statistic",
        "Statistic": (alarm.extended_statistic if extended else (alarm.statistic or "")).upper(),
        "Unit": alarm.unit,
        "Dimensions": [{"value": v, "name": n} for n, v in alarm.dimensions],
        "Period": alarm.period,
        "EvaluationPeriods": alarm.evaluation_periods,
    }
    if alarm.datapoints_to_alarm:
        trigger["DatapointsToAlarm"] = alarm.datapoints_to_alarm
    trigger.update(
        {
            "ComparisonOperator": alarm.comparison_operator,
            "Threshold": float(alarm.threshold) if alarm.threshold is not None else None,
            "TreatMissingData": alarm.treat_missing_data or "missing",
            "EvaluateLowSampleCountPercentile": alarm.evaluate_low_sample_count_percentile or "",
        }
    )
    body = {
        "AlarmName": alarm.name,
        "AlarmDescription": alarm.description,
        "AWSAccountId": alarm.account_id,
        "AlarmConfigurationUpdatedTimestamp": cw_time(alarm.configuration_updated),
        "NewStateValue": new_state,
        "NewStateReason": reason,
        "StateChangeTime": cw_time(changed),
        "Region": region,
        "AlarmArn": alarm.arn,
        "OldStateValue": old_state,
        "OKActions": list(alarm.ok_actions),
        "AlarmActions": list(alarm.alarm_actions),
        "InsufficientDataActions": list(alarm.insufficient_data_actions),
        "Trigger": trigger,
    }
    subject = f'{new_state}: "{alarm.name}" in {region}'
    if len(subject) > 100:  # SNS's limit for a subject
        subject = subject[:97] + "..."
    return subject, json.dumps(body)


# ---------------------------------------------------------------------------------------------
# DescribeAlarmHistory items
# ---------------------------------------------------------------------------------------------


def _ms(t: datetime) -> int:
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return int(t.timestamp() * 1000)


def state_update_item(
    name: str,
    when: datetime,
    old: tuple[str, str],
    new: tuple[str, str, str | None],
) -> dict[str, Any]:
    """A StateUpdate history item: old (value, reason), new (value, reason, reason data)."""
    new_state: dict[str, Any] = {"stateValue": new[0], "stateReason": new[1]}
    if new[2]:
        try:
            new_state["stateReasonData"] = json.loads(new[2])
        except ValueError:
            new_state["stateReasonData"] = new[2]
    data = {
        "version": "1.0",
        "oldState": {"stateValue": old[0], "stateReason": old[1]},
        "newState": new_state,
    }
    return {
        "AlarmName": name,
        "AlarmType": "MetricAlarm",
        "Timestamp": when,
        "HistoryItemType": "StateUpdate",
        "HistorySummary": f"Alarm updated from {old[0]} to {new[0]}",
        "HistoryData": json.dumps(data),
    }


def configuration_item(name: str, when: datetime, created: bool) -> dict[str, Any]:
    kind = "Create" if created else "Update"
    return {
        "AlarmName": name,
        "AlarmType": "MetricAlarm",
        "Timestamp": when,
        "HistoryItemType": "ConfigurationUpdate",
        "HistorySummary": f'Alarm "{name}" {"created" if created else "updated"}',
        "HistoryData": json.dumps({"type": kind, "version": "1.0"}),
    }


def action_item(
    name: str, when: datetime, action: str, state_changed: datetime, error: str | None, message: str
) -> dict[str, Any]:
    if error is None:
        summary = f"Successfully executed action {action}"
        data: dict[str, Any] = {
            "actionState": "Succeeded",
            "stateUpdateTimestamp": _ms(state_changed),
            "notificationResource": action,
            "publishedMessage": message,
        }
    else:
        summary = f"Failed to execute action {action}. Received error: {error}"
        data = {"actionState": "Failed", "stateUpdateTimestamp": _ms(state_changed), "error": error}
    return {
        "AlarmName": name,
        "AlarmType": "MetricAlarm",
        "Timestamp": when,
        "HistoryItemType": "Action",
        "HistorySummary": summary,
        "HistoryData": json.dumps(data),
    }
