"""The boto3 edges: S3 writers, SNS PublishBatch, EMF metrics, the client factory."""

from __future__ import annotations

import gzip
import io
import json
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ddbstream.adapters import aws, metrics
from ddbstream.adapters.s3 import S3AuditWriter, S3QuarantineWriter
from ddbstream.adapters.sns import SnsPublisher
from ddbstream.core.audit import build_audit_objects, event_to_line
from ddbstream.core.decode import decode_record
from ddbstream.core.notify import build_notification
from ddbstream.core.pipeline import build_quarantine_object
from ddbstream.local import emulator
from ddbstream.testing.records import activity, stream_record

KEYS = {"UserId": "u1", "ActivityId": "a1"}


def audit_object():  # type: ignore[no-untyped-def]
    ev = decode_record(stream_record("INSERT", KEYS, activity("u1", 1)))
    (obj,) = build_audit_objects("audit-logs/", [(0, ev, event_to_line(ev))])
    return obj


def notes(n: int):  # type: ignore[no-untyped-def]
    out = []
    for i in range(n):
        ev = decode_record(stream_record("INSERT", KEYS, activity(f"u{i}", i), seq=i + 1))
        out.append(build_notification(i, ev, ("all-changes",), ("ActivityType", "UserId")))
    return out


class FakeClient:
    def __init__(self, response: dict[str, Any] | None = None) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.response = response or {}

    def put_object(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("put_object", kw))
        return {}

    def publish_batch(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("publish_batch", kw))
        return self.response


def test_client_factory_policy():
    c = aws.client("s3", region_name="us-east-1")
    cfg = c.meta.config
    assert cfg.retries["mode"] == "standard"
    assert cfg.connect_timeout == aws.CONNECT_TIMEOUT_S
    assert cfg.read_timeout == aws.READ_TIMEOUT_S


def test_client_factory_honours_aws_endpoint_url(moto_endpoint: str) -> None:
    assert aws.client("sns").meta.endpoint_url == moto_endpoint


def test_audit_writer_puts_encrypted_gzip_ndjson(aws_client) -> None:  # type: ignore[no-untyped-def]
    s3 = aws_client("s3")
    bucket = f"audit-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    obj = audit_object()
    S3AuditWriter(aws.client("s3"), bucket).write(obj)
    head = s3.head_object(Bucket=bucket, Key=obj.key)
    assert head["ServerSideEncryption"] == "AES256"
    assert head["ContentType"] == "application/x-ndjson"
    assert head["ContentEncoding"] == "gzip"
    assert head["Metadata"]["records"] == "1"
    body = s3.get_object(Bucket=bucket, Key=obj.key)["Body"].read()
    assert json.loads(gzip.decompress(body))["keys"] == KEYS


def test_kms_key_is_requested_when_configured():
    fake = FakeClient()
    S3AuditWriter(fake, "b", kms_key_id="alias/audit").write(audit_object())
    q = build_quarantine_object("quarantine/", 0, {"x": 1}, "boom")
    S3QuarantineWriter(fake, "b", kms_key_id="alias/audit").write(q)
    for _, kw in fake.calls:
        assert kw["ServerSideEncryption"] == "aws:kms"
        assert kw["SSEKMSKeyId"] == "alias/audit"


def test_quarantine_writer_puts_raw_record_and_error(aws_client) -> None:  # type: ignore[no-untyped-def]
    s3 = aws_client("s3")
    bucket = f"q-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    q = build_quarantine_object("quarantine/", 3, {"eventName": "BAD"}, "eventName 'BAD' ...")
    S3QuarantineWriter(aws.client("s3"), bucket).write(q)
    head = s3.head_object(Bucket=bucket, Key=q.key)
    assert head["ServerSideEncryption"] == "AES256"
    assert head["ContentType"] == "application/json"
    doc = json.loads(s3.get_object(Bucket=bucket, Key=q.key)["Body"].read())
    assert doc["record"] == {"eventName": "BAD"}
    assert doc["error"] == "eventName 'BAD' ..."


def test_writer_errors_propagate_for_the_pipeline(moto_endpoint: str) -> None:
    with pytest.raises(Exception, match="NoSuchBucket"):
        S3AuditWriter(aws.client("s3"), "no-such-bucket-ddbstream").write(audit_object())


def test_publisher_sends_one_call_and_reports_failed_entries():
    fake = FakeClient(
        {
            "Successful": [{"Id": "m0"}, {"Id": "m2"}],
            "Failed": [{"Id": "m1", "Code": "InternalError", "SenderFault": False}],
        }
    )
    pub = SnsPublisher(fake, "arn:aws:sns:us-east-1:123456789012:t")
    batch = notes(4)
    failed = pub.publish(batch)
    # m1 failed; m3 appears in neither list, so it is not known to be delivered
    assert failed == [1, 3]
    assert pub.calls == 1
    (name, kw) = fake.calls[0]
    assert name == "publish_batch"
    entries = kw["PublishBatchRequestEntries"]
    assert [e["Id"] for e in entries] == ["m0", "m1", "m2", "m3"]
    assert entries[0]["Subject"] == "DynamoDB Activity: New Record Created"
    assert entries[0]["MessageAttributes"]["UserId"]["StringValue"] == "u0"
    assert "MessageGroupId" not in entries[0]


def test_publisher_rejects_more_than_10():
    with pytest.raises(ValueError):
        SnsPublisher(FakeClient(), "t").publish(notes(11))


def test_publisher_against_sns_delivers_to_a_subscribed_queue(aws_client) -> None:  # type: ignore[no-untyped-def]
    sns, sqs = aws_client("sns"), aws_client("sqs")
    topic = sns.create_topic(Name=f"t-{uuid.uuid4().hex[:8]}")["TopicArn"]
    url = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    qarn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn)
    assert SnsPublisher(aws.client("sns"), topic).publish(notes(3)) == []
    assert emulator.deliveries.settle(timeout=30)  # SNS delivers after Publish answered
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
    envelopes = [json.loads(m["Body"]) for m in got["Messages"]]
    assert sorted(json.loads(e["Message"])["keys"]["UserId"] for e in envelopes) == ["u1"] * 3
    assert {e["MessageAttributes"]["UserId"]["Value"] for e in envelopes} == {"u0", "u1", "u2"}


def test_emf_documents():
    docs = metrics.build_emf(
        "DDBStream",
        "fn",
        {"Changes": 3, "AuditObjectsWritten": 1, "NotificationsSent": 2},
        {"INSERT": 2, "REMOVE": 1},
        timestamp_ms=1000,
    )
    total = docs[0]
    spec = total["_aws"]["CloudWatchMetrics"][0]
    assert spec["Namespace"] == "DDBStream"
    assert spec["Dimensions"] == [["FunctionName"]]
    assert [m["Name"] for m in spec["Metrics"]] == [
        "Changes",
        "AuditObjectsWritten",
        "NotificationsSent",
        "RecordsQuarantined",
        "DeliveryFailures",
    ]
    assert total["FunctionName"] == "fn"
    assert (total["Changes"], total["RecordsQuarantined"], total["DeliveryFailures"]) == (3, 0, 0)
    by_event = {d["EventName"]: d for d in docs[1:]}
    assert by_event["INSERT"]["Changes"] == 2 and by_event["REMOVE"]["Changes"] == 1
    dims = by_event["INSERT"]["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
    assert dims == [["FunctionName", "EventName"]]
    assert not any("ColdStart" in d for d in docs)  # warm by default
    out = io.StringIO()
    metrics.emit(docs, out)
    assert [json.loads(line) for line in out.getvalue().splitlines()] == docs


def test_emf_service_dimension_and_cold_start():
    docs = metrics.build_emf(
        "DDBStream", "fn", {"Changes": 1}, {"INSERT": 1}, service="orders", cold_start=True
    )
    total, insert, cold = docs
    assert total["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["FunctionName"], ["service"]]
    assert (total["FunctionName"], total["service"]) == ("fn", "orders")
    dims = insert["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
    assert dims == [["FunctionName", "EventName"], ["service", "EventName"]]
    spec = cold["_aws"]["CloudWatchMetrics"][0]
    assert spec["Dimensions"] == [["function_name", "service"]]
    assert spec["Metrics"] == [{"Name": "ColdStart", "Unit": "Count"}]
    assert {k: v for k, v in cold.items() if k != "_aws"} == {
        "function_name": "fn",
        "service": "orders",
        "ColdStart": 1,
    }


@settings(max_examples=200)
@given(st.dictionaries(st.text(max_size=30), st.text(max_size=300), max_size=20))
def test_form_encode_writes_what_urlencode_writes(data):  # type: ignore[no-untyped-def]
    """The SNS client's body, encoded once before signing, is byte for byte botocore's own."""
    from urllib.parse import urlencode

    expected = urlencode([(k.encode(), v.encode()) for k, v in data.items()], doseq=True)
    assert aws.form_encode(data) == expected.encode("ascii")


def test_sns_client_sends_the_form_once_encoded(aws_client):  # type: ignore[no-untyped-def]
    """The real request to the emulator carries the pre-encoded body and is accepted (signed
    over the same bytes)."""
    sns = aws.client("sns")
    seen: list[object] = []
    sns.meta.events.register("before-send.sns", lambda request, **_: seen.append(request.body))
    topic = sns.create_topic(Name="form-once")["TopicArn"]
    sns.publish(TopicArn=topic, Message='{"a": "é & = +"}', Subject="x y")
    assert all(isinstance(b, bytes) for b in seen) and b"Message=%7B%22a%22" in seen[-1]
