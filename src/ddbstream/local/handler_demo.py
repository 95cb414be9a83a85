"""``ddbstream handler-demo``: the real Lambda handler against an in-process moto server.

Sends stream events shaped like the seed's ``UserActivities`` items through
:func:`ddbstream.handler.lambda_handler` (the same function the Lambda package runs) and prints
what landed: the audit object in S3, the notifications (read back through an SQS queue
subscribed to the topic), the quarantine object for a poison record, and the partial batch
failure responses when SNS fails or the configuration is wrong. No AWS account, no Docker.

This is the processor's own demonstration; ``ddbstream demo`` runs the whole local stack.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import logging
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from ddbstream.log import CONTEXT_KEYS

T0 = 1_764_064_800  # 2025-11-25T10:00:00Z


class _Context:
    """The bits of the Lambda context object the handler uses."""

    function_name = "ddbstream-handler-demo"

    def __init__(self, request_id: str, budget_ms: int = 60_000) -> None:
        self.aws_request_id = request_id
        self._deadline = time.monotonic() + budget_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return int((self._deadline - time.monotonic()) * 1000)


def sample_batch() -> list[dict[str, Any]]:
    """The seed walkthrough's items as stream records, plus a TTL expiry and a poison record."""
    from ddbstream.testing.records import stream_record

    k1 = {"UserId": "test-user-001", "ActivityId": "login-001"}
    login = {
        **k1,
        "ActivityType": "LOGIN",
        "Timestamp": T0,
        "IPAddress": "192.168.1.100",
        "UserAgent": "Mozilla/5.0",
    }
    logout = {**login, "ActivityType": "LOGOUT", "SessionSeconds": Decimal("1834.25")}
    k2 = {"UserId": "error-test", "ActivityId": "error-001"}
    err = {**k2, "ActivityType": "ERROR_TEST", "Timestamp": T0 + 5}
    k3 = {"UserId": "test-user-002", "ActivityId": "session-042"}
    expired = {**k3, "ActivityType": "SESSION", "ExpiresAt": T0 - 1}
    poison = stream_record("INSERT", k1, login, seq=104, ts=T0 + 7)
    # poison as a whole: its key does not decode (an undecodable image value would only be
    # partial poison: audited without it, the raw record quarantined beside it)
    poison["dynamodb"]["Keys"]["ActivityId"] = {"N": "not-a-number"}
    return [
        stream_record("INSERT", k1, login, seq=100, ts=T0),
        stream_record("MODIFY", k1, logout, login, seq=101, ts=T0 + 3),
        stream_record("INSERT", k2, err, seq=102, ts=T0 + 5),
        stream_record("REMOVE", k3, None, expired, seq=103, ts=T0 + 6, ttl=True),
        poison,
        stream_record("REMOVE", k1, None, logout, seq=105, ts=T0 + 9),
    ]


@contextmanager
def _env(**values: str) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _invoke(records: list[dict[str, Any]], request_id: str) -> tuple[Any, list[dict[str, Any]]]:
    """Call the real handler (fresh cold start), capturing its stdout log lines."""
    from ddbstream import handler
    from ddbstream.log import logger

    handler.reset()
    buf = io.StringIO()
    logger.redirect(buf)
    try:
        try:
            result: Any = handler.lambda_handler({"Records": records}, _Context(request_id))
        except Exception as exc:
            result = exc
    finally:
        logger.redirect(None)
        handler.reset()
    lines = [json.loads(x) for x in buf.getvalue().splitlines() if x.startswith("{")]
    return result, lines


def _say(title: str) -> None:
    print(f"\n== {title}")


def _drain(sqs: Any, url: str, expected: int) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        resp = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        msgs = resp.get("Messages", [])
        for m in msgs:
            got.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        if not msgs:
            if len(got) >= expected:
                break
            time.sleep(0.05)
    return got


def _describe_failures(result: Any) -> str:
    if isinstance(result, Exception):
        first = str(result).splitlines()
        return f"raised {type(result).__name__}: {' '.join(x.strip() for x in first)}"
    ids = [f["itemIdentifier"].lstrip("0") for f in result["batchItemFailures"]]
    return f"batchItemFailures = {ids or '[] (every record handled)'}"


def run() -> int:
    from ddbstream.local import clients, emulator

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    started = time.monotonic()
    with emulator.running() as emu, _env(**clients.env(emu.endpoint)):
        return _walkthrough(emu.endpoint, started)


def _walkthrough(endpoint: str, started: float) -> int:
    from ddbstream.local import clients

    s3, sns, sqs = (clients.client(svc, endpoint) for svc in ("s3", "sns", "sqs"))
    suffix = uuid.uuid4().hex[:8]  # moto's state is per process: never collide with another run
    bucket = f"ddbstream-demo-audit-{suffix}"
    s3.create_bucket(Bucket=bucket)
    topic = sns.create_topic(Name=f"ddbstream-demo-notifications-{suffix}")["TopicArn"]
    queue = sqs.create_queue(QueueName=f"ddbstream-demo-subscriber-{suffix}")["QueueUrl"]
    qarn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn)
    print(f"moto server at {endpoint}")
    print(f"  bucket {bucket}, topic {topic.split(':')[-1]},")
    print("  and an SQS queue subscribed to the topic (raw delivery off)")
    print("Environment of the function:")
    print(f"  SNS_TOPIC_ARN={topic}\n  S3_BUCKET_NAME={bucket}  (everything else: defaults)")

    records = sample_batch()
    _say(f"1. A batch of {len(records)} stream records through ddbstream.handler.lambda_handler")
    for r in records:
        d = r.get("dynamodb", {})
        keys = d.get("Keys", {})
        who = "/".join(v.get("S", "?") for v in keys.values())
        ttl = " (TTL expiry)" if "userIdentity" in r else ""
        bad = " <- poison: its key ActivityId is {'N': 'not-a-number'}" if r is records[4] else ""
        print(
            f"  seq {d.get('SequenceNumber', '?').lstrip('0'):>4}  {r['eventName']:<6} {who}"
            f"{ttl}{bad}"
        )
    with _env(SNS_TOPIC_ARN=topic, S3_BUCKET_NAME=bucket):
        result, log = _invoke(records, "demo-1")
    print(f"  -> {_describe_failures(result)}")
    processing = [x for x in log if "Processing" in x.get("message", "")]
    print(f"  log: {len(processing)} 'Processing' lines (1 per batch + 1 per change), e.g.")
    hidden = {"timestamp", "location", "service", "event_source_arn", *CONTEXT_KEYS}
    for x in processing[:2]:
        print("     " + json.dumps({k: v for k, v in x.items() if k not in hidden})[:150])
    emf = next(x for x in log if "_aws" in x and "EventName" not in x)
    names = (
        "Changes",
        "AuditObjectsWritten",
        "NotificationsSent",
        "RecordsQuarantined",
        "DeliveryFailures",
    )
    print("  EMF metrics: " + ", ".join(f"{m}={emf[m]}" for m in names))

    _say("2. The audit log in S3: one gzip NDJSON object for the batch")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="audit-logs/")["Contents"]]
    for key in keys:
        head = s3.head_object(Bucket=bucket, Key=key)
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        rows = [json.loads(x) for x in gzip.decompress(body).decode().splitlines()]
        print(f"  s3://{bucket}/{key}")
        print(
            f"    {head['ContentType']}, Content-Encoding {head['ContentEncoding']}, "
            f"SSE {head['ServerSideEncryption']}, {len(body)} bytes, {len(rows)} lines:"
        )
        for row in rows:
            diff = ""
            if row["changed_attributes"] is not None:
                diff = (
                    f" changed={row['changed_attributes']} added={row['added_attributes']}"
                    f" removed={row['removed_attributes']}"
                )
            ttl = " ttl_expiry" if row["ttl_expiry"] else ""
            print(
                f"    {row['event_time']} {row['event_name']:<6} "
                f"{json.dumps(row['keys'])}{ttl}{diff}"
            )

    _say("3. Notifications, read back from the SQS queue subscribed to the topic")
    for env in sorted(
        _drain(sqs, queue, 5), key=lambda e: json.loads(e["Message"])["sequence_number"]
    ):
        attrs = {k: v["Value"] for k, v in sorted(env["MessageAttributes"].items())}
        print(f"  {env['Subject']}")
        print(f"    attributes: {attrs}")

    _say("4. Quarantine: the poison record, raw, with the error; it did not block the batch")
    for o in s3.list_objects_v2(Bucket=bucket, Prefix="quarantine/").get("Contents", []):
        doc = json.loads(s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read())
        print(f"  s3://{bucket}/{o['Key']}")
        print(f"    error: {doc['error']}")

    _say("5. The same batch again (a retry): the audit key is derived from the content")
    with _env(SNS_TOPIC_ARN=topic, S3_BUCKET_NAME=bucket):
        _invoke(records, "demo-2")
    n = len(s3.list_objects_v2(Bucket=bucket, Prefix="audit-logs/")["Contents"])
    print(f"  audit objects now: {n} (overwritten, not duplicated)")
    _drain(sqs, queue, 5)  # SNS is at-least-once: the retry re-sent the notifications

    _say("6. SNS fails (a topic that does not exist): partial batch failure")
    missing = topic.rsplit(":", 1)[0] + ":no-such-topic"
    rules = json.dumps({"rules": [{"name": "errors", "new": {"ActivityType": "ERROR_TEST"}}]})
    with _env(SNS_TOPIC_ARN=missing, S3_BUCKET_NAME=bucket, NOTIFICATION_RULES=rules):
        result, log = _invoke(records, "demo-3")
    print("  rules: notify only when ActivityType is ERROR_TEST (seq 102)")
    print(f"  -> {_describe_failures(result)}")
    print("     Lambda checkpoints before seq 102 and retries from there; past its retry limit")
    print("     the batch's metadata goes to the DLQ. Seqs 100-101 are not processed again.")

    _say("7. The seed's error test: SNS_TOPIC_ARN=invalid-arn")
    with _env(SNS_TOPIC_ARN="invalid-arn", S3_BUCKET_NAME=bucket):
        result, log = _invoke(records[:1], "demo-4")
    print(f"  -> {_describe_failures(result)}")
    print("     Every invocation fails, so the event source mapping retries the batch and then")
    print("     sends it to the DLQ, as the seed's walkthrough expects.")

    print(f"\nDone in {time.monotonic() - started:.1f} s.")
    return 0


def cmd_handler_demo(args: argparse.Namespace) -> int:
    return run()
