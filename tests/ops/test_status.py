"""``ddbstream status`` against the in-process emulator: each section read through the APIs an
operator uses (DLQ depth, alarm states, audit objects of the last hour, the quarantine), and a
source that cannot be read reported in its own section while the others still show."""

from __future__ import annotations

import gzip
import uuid
from datetime import UTC, datetime
from typing import Any

from ddbstream.local import clients
from ddbstream.ops import status
from ddbstream.ops.target import Deployment


def _deployment(aws_client: Any, endpoint: str) -> tuple[Deployment, str]:
    tag = uuid.uuid4().hex[:8]
    sqs, s3, cw = aws_client("sqs"), aws_client("s3"), aws_client("cloudwatch")
    dlq = sqs.create_queue(QueueName=f"dlq-{tag}")["QueueUrl"]
    sqs.send_message(QueueUrl=dlq, MessageBody="{}")
    bucket = f"audit-{tag}"
    s3.create_bucket(Bucket=bucket)
    now = datetime.now(UTC)
    key = (
        f"audit-logs/table=T/year={now:%Y}/month={now:%m}/day={now:%d}/hour={now:%H}/"
        f"{tag}.ndjson.gz"
    )
    s3.put_object(Bucket=bucket, Key=key, Body=gzip.compress(b"{}\n"))
    s3.put_object(Bucket=bucket, Key="quarantine/table=T/x.json", Body=b"{}")
    s3.put_object(Bucket=bucket, Key="quarantine/table=T/y.json", Body=b"{}")
    alarm = f"dlq-messages-{tag}"
    cw.put_metric_alarm(
        AlarmName=alarm,
        Namespace="AWS/SQS",
        MetricName="ApproximateNumberOfMessagesVisible",
        Dimensions=[{"Name": "QueueName", "Value": f"dlq-{tag}"}],
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    cw.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="1 message waiting")
    outputs = {
        "dynamodb_table_name": "T",
        "s3_bucket_name": bucket,
        "dlq_url": dlq,
        "lambda_function_name": f"missing-fn-{tag}",
        "alarm_names": {"dlq_messages": alarm},
    }
    d = Deployment(
        outputs=outputs,
        source="the test emulator",
        is_local=True,
        endpoint=endpoint,
        region=clients.REGION,
    )
    return d, alarm


def test_status_reads_each_section(aws_client: Any, moto_endpoint: str) -> None:
    d, alarm = _deployment(aws_client, moto_endpoint)
    s = status.collect(d)
    assert s["dlq"]["visible"] == 1
    assert [(a["name"], a["state"]) for a in s["alarms"]] == [(alarm, "ALARM")]
    assert s["audit"]["objects_1h"] == 1
    assert s["quarantine"]["records"] == 2
    # the function does not exist: its sections say so, the rest still shows
    assert "Function not found" in s["function_error"] and s["mappings"] == []
    screen = status.render(s)
    assert "DLQ  dlq-" in screen and "1 failed batch(es) waiting" in screen
    assert "ddbstream dlq replay" in screen
    assert f"ALARM             {alarm}" in screen and "1 message waiting" in screen
    assert "Alarms  (1, 1 in ALARM)" in screen
    assert "1 objects written in the last hour" in screen
    assert "2 record(s) under quarantine/" in screen
    assert f"function {d.function_name}: An error occurred (ResourceNotFoundException)" in screen
    assert "no event source mapping" in screen


def test_status_without_a_stack_is_one_line(tmp_path: Any, capsys: Any) -> None:
    from ddbstream.cli import main

    assert main(["status", "--state-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ddbstream: ") and err.count("\n") == 1


def test_render_one_screen() -> None:
    """The screen from collected data: the mapping line, the last hour's figures, the alarms
    with the reason under an ALARM, and the S3 failure objects when that destination is chosen."""
    s = {
        "target": "the local stack in /x",
        "time": "2026-11-27T14:10:00+00:00",
        "function": "fn",
        "mappings": [
            {
                "uuid": "763d08fc-fa23-4db4-a788-3542385d99aa",
                "state": "Enabled",
                "last_processing_result": "PROBLEM: Function call failed",
                "source": "arn:aws:dynamodb:us-east-1:1:table/T/stream/x",
                "on_failure": "arn:aws:s3:::failed-batches",
                "failure_objects": 2,
            }
        ],
        "metrics": {
            "last_batch": "2026-11-27T14:09:00+00:00",
            "invocations_1h": 5,
            "errors_1h": 3,
            "iterator_age_ms": 3690.0,
            "changes_1h": 12,
        },
        "dlq": {"error": "AccessDenied: not allowed"},
        "alarms": [
            {
                "name": "a-errors",
                "state": "ALARM",
                "since": "2026-11-27T14:09:30+00:00",
                "reason": "Threshold Crossed: 1 out of the last 1 datapoints",
            },
            {"name": "a-dlq", "state": "OK", "since": "2026-11-27T13:00:00+00:00", "reason": ""},
        ],
        "audit": {"objects_1h": 4, "prefix": "audit-logs/"},
        "quarantine": {"records": 0, "prefix": "quarantine/"},
    }
    screen = status.render(s)
    assert (
        "  mapping 763d08fc  Enabled  last result: PROBLEM: Function call failed  "
        "on failure -> failed-batches" in screen
    )
    assert "    failure objects in S3: 2" in screen
    assert (
        "  last batch in the minute 14:09-14:10 (0-60s ago); last hour: 12 changes processed, "
        "5 invocations, "
        "3 errors; iterator age 3690 ms" in screen
    )
    assert "DLQ  AccessDenied: not allowed" in screen  # its own section, the rest still shows
    assert "Alarms  (2, 1 in ALARM)" in screen
    assert "  ALARM             a-errors  since 14:09:30 (30s ago)" in screen
    assert "Threshold Crossed: 1 out of the last 1 datapoints" in screen
    assert "  OK                a-dlq     since 13:00:00 (70m ago)" in screen
    assert "Audit log  4 objects written in the last hour" in screen


def test_without_alarm_names_the_alarms_on_the_stacks_resources(
    aws_client: Any, moto_endpoint: str
) -> None:
    """A deployment named by --function-name has no alarm_names output: the alarms shown are
    the ones whose metric is on the function, the DLQ or the table, not the account's others."""
    d, alarm = _deployment(aws_client, moto_endpoint)
    aws_client("cloudwatch").put_metric_alarm(
        AlarmName=f"unrelated-{uuid.uuid4().hex[:8]}",
        Namespace="AWS/SQS",
        MetricName="ApproximateNumberOfMessagesVisible",
        Dimensions=[{"Name": "QueueName", "Value": "someone-elses-queue"}],
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    del d.outputs["alarm_names"]
    assert [a["name"] for a in status.collect(d)["alarms"]] == [alarm]


def test_the_last_batch_is_the_clock_minute_it_ran_in(aws_client: Any, moto_endpoint: str) -> None:
    """AWS/Lambda metrics have one-minute resolution: the screen names the clock minute of the
    newest Invocations datapoint and how long ago that minute was, never a time the batch did
    not run at (found: buckets counted from now - 1 h, so a batch 16 s old showed as
    '15:09:55 (60s ago)', always 60 s before the moment the command ran)."""
    d, _ = _deployment(aws_client, moto_endpoint)
    now = datetime(2026, 11, 27, 15, 10, 55, tzinfo=UTC)
    ran = datetime(2026, 11, 27, 15, 10, 39, tzinfo=UTC)
    aws_client("cloudwatch").put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[
            {
                "MetricName": "Invocations",
                "Dimensions": [{"Name": "FunctionName", "Value": d.function_name}],
                "Timestamp": ran,
                "Value": 1,
                "Unit": "Count",
            }
        ],
    )
    s = status.collect(d, now=now)
    assert s["metrics"]["last_batch"] == "2026-11-27T15:10:00+00:00"
    assert s["metrics"]["invocations_1h"] == 1
    assert "  last batch in the minute 15:10-15:11 (0-55s ago); " in status.render(s)
