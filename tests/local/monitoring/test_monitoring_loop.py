"""The local CloudWatch's loop against the in-process emulator: AWS/SQS queue metrics feed an
alarm on the DLQ depth, evaluated at its evaluation instants (clock given by the test), whose
changes of state publish CloudWatch's notification."""

from __future__ import annotations

import json
import math
import time
import uuid
from typing import Any

from ddbstream.local import emulator
from ddbstream.local.monitoring.service import Monitoring


def test_dlq_depth_alarm_goes_to_alarm_and_back_to_ok(aws_client: Any) -> None:
    sqs, sns, cw = aws_client("sqs"), aws_client("sns"), aws_client("cloudwatch")
    tag = uuid.uuid4().hex[:8]
    dlq = sqs.create_queue(QueueName=f"dlq-{tag}")["QueueUrl"]
    inbox = sqs.create_queue(QueueName=f"inbox-{tag}")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    topic = sns.create_topic(Name=f"alarms-{tag}")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn)
    name = f"dlq-messages-{tag}"
    cw.put_metric_alarm(
        AlarmName=name,
        Namespace="AWS/SQS",
        MetricName="ApproximateNumberOfMessagesVisible",
        Dimensions=[{"Name": "QueueName", "Value": f"dlq-{tag}"}],
        Statistic="Maximum",
        Period=10,
        EvaluationPeriods=1,
        Threshold=1.0,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="notBreaching",
        AlarmActions=[topic],
        OKActions=[topic],
    )
    sqs.send_message(QueueUrl=dlq, MessageBody="failed batch")

    def state() -> str:
        return str(cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"])

    mon = Monitoring()
    t0 = math.floor(time.time() / 10) * 10 + 1.0  # just after an evaluation instant
    mon.run_once(t0)  # the queue sampled at t0; the window ending at t0-1 holds nothing yet
    assert state() == "OK"  # INSUFFICIENT_DATA -> OK: missing data treated as not breaching
    mon.run_once(t0 + 10)  # the window [t0-1, t0+9) holds the depth 1
    assert state() == "ALARM"
    msg = sqs.receive_message(QueueUrl=dlq)["Messages"][0]
    sqs.delete_message(QueueUrl=dlq, ReceiptHandle=msg["ReceiptHandle"])
    mon.run_once(t0 + 20)  # its newest window still holds the depth 1 sampled at t0+10
    assert state() == "ALARM"
    mon.run_once(t0 + 30)  # the depth 0 sampled at t0+20 is the most recent datapoint
    assert state() == "OK"

    assert emulator.deliveries.settle(timeout=30)  # SNS delivers after Publish answered
    got = sqs.receive_message(QueueUrl=inbox, MaxNumberOfMessages=10)["Messages"]
    bodies = [json.loads(json.loads(m["Body"])["Message"]) for m in got]
    transitions = [(b["OldStateValue"], b["NewStateValue"]) for b in bodies]
    assert transitions == [("INSUFFICIENT_DATA", "OK"), ("OK", "ALARM"), ("ALARM", "OK")]
    assert "1 out of the last 1 datapoints [1.0" in bodies[1]["NewStateReason"]
    assert mon.sqs.samples == 4

    # the same instant is not evaluated twice
    assert mon.run_once(t0 + 30.5) == []
