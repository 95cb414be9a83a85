"""The emulator's CloudWatch as AWS documents it, through boto3 against the in-process server:
alarm state on create and update, actions on a change of state (CloudWatch's SNS notification),
DescribeAlarmHistory, and EMF documents in a Lambda log group becoming metrics."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from ddbstream.local import emulator
from ddbstream.local.monitoring import emf


def _alarm(cw: Any, name: str, topic: str, **extra: Any) -> None:
    args: dict[str, Any] = dict(
        AlarmName=name,
        AlarmDescription="test alarm",
        Namespace="Test",
        MetricName="Errors",
        Dimensions=[{"Name": "FunctionName", "Value": "fn"}],
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1.0,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="notBreaching",
        AlarmActions=[topic],
        OKActions=[topic],
    )
    cw.put_metric_alarm(**{**args, **extra})


def _inbox(aws_client: Any) -> tuple[str, str]:
    sns, sqs = aws_client("sns"), aws_client("sqs")
    topic = sns.create_topic(Name=f"alarms-{uuid.uuid4().hex[:8]}")["TopicArn"]
    url = sqs.create_queue(QueueName=f"inbox-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    qarn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn)
    return topic, url


def _received(aws_client: Any, url: str) -> list[dict[str, Any]]:
    sqs = aws_client("sqs")
    out = []
    assert emulator.deliveries.settle(timeout=30)  # SNS delivers after Publish answered
    while True:
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not msgs:
            return out
        out += [json.loads(m["Body"]) for m in msgs]
        for m in msgs:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def test_new_alarm_is_insufficient_data_and_an_update_keeps_the_state(aws_client: Any) -> None:
    """PutMetricAlarm: 'When this operation creates an alarm, the alarm state is immediately set
    to INSUFFICIENT_DATA ... When you update an existing alarm, its state is left unchanged'."""
    cw = aws_client("cloudwatch")
    topic, url = _inbox(aws_client)
    name = f"a-{uuid.uuid4().hex[:8]}"
    _alarm(cw, name, topic)
    got = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
    assert got["StateValue"] == "INSUFFICIENT_DATA"
    cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="testing")
    _alarm(cw, name, topic, Threshold=5.0)  # an update
    got = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
    assert got["StateValue"] == "ALARM" and got["Threshold"] == 5.0
    _received(aws_client, url)


def test_state_change_publishes_cloudwatchs_notification_to_the_actions(aws_client: Any) -> None:
    """SetAlarmState: 'When the updated state differs from the previous value, the action
    configured for the appropriate state is invoked'; the body is CloudWatch's alarm JSON."""
    cw = aws_client("cloudwatch")
    topic, url = _inbox(aws_client)
    name = f"a-{uuid.uuid4().hex[:8]}"
    _alarm(cw, name, topic)
    cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="breached")
    cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="still breached")
    cw.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="fine again")
    got = _received(aws_client, url)
    assert [json.loads(n["Message"])["NewStateValue"] for n in got] == ["ALARM", "OK"]
    first = got[0]
    assert first["Subject"] == f'ALARM: "{name}" in US East (N. Virginia)'
    body = json.loads(first["Message"])
    assert body["AlarmName"] == name and body["OldStateValue"] == "INSUFFICIENT_DATA"
    assert body["NewStateReason"] == "breached" and body["AlarmDescription"] == "test alarm"
    assert body["AWSAccountId"] == "123456789012" and body["Region"] == "US East (N. Virginia)"
    assert body["AlarmArn"].endswith(f":alarm:{name}")
    assert body["Trigger"] == {
        "MetricName": "Errors",
        "Namespace": "Test",
        "StatisticType": "Statistic",
        "Statistic": "SUM",
        "Unit": None,
        "Dimensions": [{"value": "fn", "name": "FunctionName"}],
        "Period": 60,
        "EvaluationPeriods": 1,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "Threshold": 1.0,
        "TreatMissingData": "notBreaching",
        "EvaluateLowSampleCountPercentile": "",
    }
    datetime.strptime(body["StateChangeTime"], "%Y-%m-%dT%H:%M:%S.%f%z")

    # DescribeAlarmHistory: the two changes (not the repeated ALARM), their actions, the creation
    hist = cw.describe_alarm_history(AlarmName=name)["AlarmHistoryItems"]
    kinds = [(h["HistoryItemType"], h["HistorySummary"]) for h in hist]
    assert ("StateUpdate", "Alarm updated from INSUFFICIENT_DATA to ALARM") in kinds
    assert ("StateUpdate", "Alarm updated from ALARM to OK") in kinds
    assert ("ConfigurationUpdate", f'Alarm "{name}" created') in kinds
    assert kinds.count(("Action", f"Successfully executed action {topic}")) == 2
    updates = cw.describe_alarm_history(AlarmName=name, HistoryItemType="StateUpdate")
    items = updates["AlarmHistoryItems"]
    assert [json.loads(i["HistoryData"])["newState"]["stateValue"] for i in items] == [
        "OK",
        "ALARM",
    ]
    oldest_first = cw.describe_alarm_history(AlarmName=name, ScanBy="TimestampAscending")
    assert oldest_first["AlarmHistoryItems"][0]["HistoryItemType"] == "ConfigurationUpdate"


def test_disabled_actions_change_the_state_without_notifying(aws_client: Any) -> None:
    cw = aws_client("cloudwatch")
    topic, url = _inbox(aws_client)
    name = f"a-{uuid.uuid4().hex[:8]}"
    _alarm(cw, name, topic)
    cw.disable_alarm_actions(AlarmNames=[name])
    cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="quiet")
    assert cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"] == "ALARM"
    assert _received(aws_client, url) == []


def _stats(cw: Any, ns: str, name: str, dims: list[dict[str, str]]) -> float:
    now = datetime.now(UTC)
    points = cw.get_metric_statistics(
        Namespace=ns,
        MetricName=name,
        Dimensions=dims,
        StartTime=now - timedelta(minutes=5),
        EndTime=now + timedelta(minutes=1),
        Period=60,
        Statistics=["Sum"],
    )["Datapoints"]
    return sum(p["Sum"] for p in points)


def test_emf_in_a_lambda_log_group_becomes_metrics(aws_client: Any) -> None:
    """EMF: each dimension set of a directive is a metric, values from the root members; the
    documents of other log groups (no x-amzn-logs-format header) are left as logs."""
    logs, cw = aws_client("logs"), aws_client("cloudwatch")
    ns = f"Ns{uuid.uuid4().hex[:6]}"
    doc = {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": ns,
                    "Dimensions": [["FunctionName"], ["FunctionName", "EventName"]],
                    "Metrics": [{"Name": "Changes", "Unit": "Count"}],
                }
            ],
        },
        "FunctionName": "fn",
        "EventName": "INSERT",
        "Changes": 3,
    }
    for group in ("/aws/lambda/fn", "/app/other"):
        logs.create_log_group(logGroupName=group + ns)
        logs.create_log_stream(logGroupName=group + ns, logStreamName="s")
        logs.put_log_events(
            logGroupName=group + ns,
            logStreamName="s",
            logEvents=[
                {"timestamp": int(time.time() * 1000), "message": json.dumps(doc)},
                {"timestamp": int(time.time() * 1000), "message": "START RequestId: x"},
            ],
        )
    fn = [{"Name": "FunctionName", "Value": "fn"}]
    assert _stats(cw, ns, "Changes", fn) >= 3.0
    both = [*fn, {"Name": "EventName", "Value": "INSERT"}]
    listed = cw.list_metrics(Namespace=ns)["Metrics"]
    dim_sets = sorted(len(m["Dimensions"]) for m in listed)
    assert dim_sets == [1, 2]  # one metric per dimension set, the other group's none
    assert _stats(cw, ns, "Changes", both) == 3.0


def test_emf_documents_that_break_the_specification_are_skipped() -> None:
    ts = 1_800_000_000_000
    base: dict[str, Any] = {
        "_aws": {
            "Timestamp": ts,
            "CloudWatchMetrics": [
                {"Namespace": "N", "Dimensions": [["D"]], "Metrics": [{"Name": "M"}]}
            ],
        },
        "D": "d",
        "M": [1, 2],
    }
    got = emf.extract(json.dumps(base))
    assert [(m.name, m.values, m.dimensions) for m in got] == [("M", (1.0, 2.0), (("D", "d"),))]
    assert emf.extract("prefix " + json.dumps(base)) == []  # not a JSON object alone
    assert emf.extract(json.dumps({**base, "D": 5})) == []  # a dimension value must be a string
    assert emf.extract(json.dumps({**base, "M": "1"})) == []  # a value must be a number
    no_ts = {**base, "_aws": {"CloudWatchMetrics": base["_aws"]["CloudWatchMetrics"]}}
    assert emf.extract(json.dumps(no_ts)) == []


def test_statistics_take_the_metric_with_exactly_those_dimensions(aws_client: Any) -> None:
    """GetMetricStatistics: 'CloudWatch treats each unique combination of dimensions as a
    separate metric' -- Changes by FunctionName is not the sum of its EventName series too."""
    cw = aws_client("cloudwatch")
    ns = f"Exact{uuid.uuid4().hex[:6]}"
    fn = [{"Name": "FunctionName", "Value": "fn"}]
    both = [*fn, {"Name": "EventName", "Value": "INSERT"}]
    cw.put_metric_data(
        Namespace=ns,
        MetricData=[
            {"MetricName": "Changes", "Dimensions": fn, "Value": 3.0},
            {"MetricName": "Changes", "Dimensions": both, "Value": 3.0},
            {"MetricName": "Changes", "Dimensions": both, "Value": 1.0},
        ],
    )
    assert _stats(cw, ns, "Changes", fn) == 3.0
    assert _stats(cw, ns, "Changes", both) == 4.0
    assert _stats(cw, ns, "Changes", [{"Name": "FunctionName", "Value": "other"}]) == 0.0
