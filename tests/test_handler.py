"""The Lambda handler end to end against moto's server: audit objects in S3, notifications read
back through an SQS queue subscribed to the topic, partial batch failures, quarantine."""

from __future__ import annotations

import gzip
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ddbstream import handler
from ddbstream.settings import SettingsError
from ddbstream.testing.records import stream_record

T0 = 1_764_064_800  # 2025-11-25T10:00:00Z


@dataclass
class Stack:
    bucket: str
    topic: str
    queue_url: str
    s3: Any
    sqs: Any

    def objects(self, prefix: str = "") -> list[str]:
        resp = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return [o["Key"] for o in resp.get("Contents", [])]

    def audit_rows(self, key: str) -> list[dict[str, Any]]:
        body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return [json.loads(line) for line in gzip.decompress(body).decode().splitlines()]

    def notifications(self, expected: int, wait_s: float = 5.0) -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = []
        deadline = time.monotonic() + wait_s
        while True:
            resp = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            )
            for m in resp.get("Messages", []):
                got.append(json.loads(m["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"])
            if len(got) >= expected and not resp.get("Messages"):
                return got
            if time.monotonic() > deadline:
                return got
            if not resp.get("Messages"):
                time.sleep(0.05)


class Context:
    aws_request_id = "test-request"
    function_name = "ddbstream-test"

    def __init__(self, remaining_ms: int = 60_000, then_ms: int | None = None) -> None:
        """``remaining_ms`` at the start; ``then_ms`` on every later call, if given."""
        self.remaining_ms = remaining_ms
        self.then_ms = then_ms
        self.calls = 0

    def get_remaining_time_in_millis(self) -> int:
        self.calls += 1
        if self.then_ms is not None and self.calls > 1:
            return self.then_ms
        return self.remaining_ms


@pytest.fixture
def stack(aws_client, monkeypatch):  # type: ignore[no-untyped-def]
    s3, sns, sqs = aws_client("s3"), aws_client("sns"), aws_client("sqs")
    uid = uuid.uuid4().hex[:10]
    bucket = f"audit-{uid}"
    s3.create_bucket(Bucket=bucket)
    topic = sns.create_topic(Name=f"notify-{uid}")["TopicArn"]
    url = sqs.create_queue(QueueName=f"sub-{uid}")["QueueUrl"]
    qarn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    # Raw message delivery off: SQS receives the SNS envelope (Subject, MessageAttributes).
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn)
    for var in (
        "AUDIT_PREFIX",
        "QUARANTINE_PREFIX",
        "NOTIFICATION_RULES",
        "NOTIFICATION_ATTRIBUTES",
        "TIME_SAFETY_MARGIN_MS",
        "LOG_LEVEL",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SNS_TOPIC_ARN", topic)
    monkeypatch.setenv("S3_BUCKET_NAME", bucket)
    handler.reset()
    yield Stack(bucket, topic, url, s3, sqs)
    handler.reset()


def seq(i: int) -> str:
    return str(i).zfill(21)


def batch() -> list[dict[str, Any]]:
    """INSERT, MODIFY, REMOVE of one item, plus a TTL expiry of another."""
    k1 = {"UserId": "test-user-001", "ActivityId": "login-001"}
    k2 = {"UserId": "test-user-002", "ActivityId": "session-007"}
    login = {**k1, "ActivityType": "LOGIN", "Timestamp": T0, "IPAddress": "192.168.1.100"}
    logout = {**login, "ActivityType": "LOGOUT", "Duration": "12.5"}
    return [
        stream_record("INSERT", k1, login, seq=1, ts=T0),
        stream_record("MODIFY", k1, logout, login, seq=2, ts=T0 + 1),
        stream_record("REMOVE", k1, None, logout, seq=3, ts=T0 + 2),
        stream_record(
            "REMOVE", k2, None, {**k2, "ActivityType": "SESSION"}, seq=4, ts=T0 + 3, ttl=True
        ),
    ]


def invoke(records: list[dict[str, Any]], ctx: Context | None = None) -> dict[str, Any]:
    return handler.lambda_handler({"Records": records}, ctx or Context())


def test_batch_lands_as_one_audit_object_and_notifications(stack: Stack, capsys) -> None:  # type: ignore[no-untyped-def]
    assert invoke(batch()) == {"batchItemFailures": []}

    (key,) = stack.objects("audit-logs/")
    assert key.startswith("audit-logs/table=UserActivities/year=2025/month=11/day=25/hour=10/")
    head = stack.s3.head_object(Bucket=stack.bucket, Key=key)
    assert head["ServerSideEncryption"] == "AES256"
    assert head["ContentType"] == "application/x-ndjson"
    assert head["ContentEncoding"] == "gzip"
    rows = stack.audit_rows(key)
    assert [(r["event_name"], r["sequence_number"]) for r in rows] == [
        ("INSERT", seq(1)),
        ("MODIFY", seq(2)),
        ("REMOVE", seq(3)),
        ("REMOVE", seq(4)),
    ]
    assert rows[1]["changed_attributes"] == ["ActivityType"]
    assert rows[1]["added_attributes"] == ["Duration"]
    assert [r["ttl_expiry"] for r in rows] == [False, False, False, True]
    assert rows[0]["new_image"]["Timestamp"] == T0

    envelopes = stack.notifications(4)
    by_subject = sorted(e["Subject"] for e in envelopes)
    assert by_subject == [
        "DynamoDB Activity: New Record Created",
        "DynamoDB Activity: Record Expired (TTL)",
        "DynamoDB Activity: Record Modified",
        "DynamoDB Activity: Record Removed",
    ]
    insert = next(e for e in envelopes if e["Subject"].endswith("Created"))
    attrs = {k: v["Value"] for k, v in insert["MessageAttributes"].items()}
    assert attrs["eventName"] == "INSERT"
    assert attrs["tableName"] == "UserActivities"
    assert attrs["ActivityType"] == "LOGIN"
    assert attrs["UserId"] == "test-user-001"
    body = json.loads(insert["Message"])
    assert body["new_image"]["IPAddress"] == "192.168.1.100"

    out = capsys.readouterr().out
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    processing = [x["message"] for x in lines if "Processing" in x.get("message", "")]
    assert processing == ["Processing batch"] + ["Processing change"] * 4
    emf = [x for x in lines if "_aws" in x and x.get("EventName") is None]
    assert emf[0]["Changes"] == 4 and emf[0]["NotificationsSent"] == 4
    assert emf[0]["AuditObjectsWritten"] == 1


def test_retried_identical_batch_overwrites_its_audit_object(stack: Stack) -> None:
    invoke(batch())
    invoke(batch())
    assert len(stack.objects("audit-logs/")) == 1


def test_notification_rules_select_messages(stack: Stack, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv(
        "NOTIFICATION_RULES",
        json.dumps({"rules": [{"name": "logouts", "new": {"ActivityType": "LOGOUT"}}]}),
    )
    handler.reset()
    assert invoke(batch()) == {"batchItemFailures": []}
    (env,) = stack.notifications(1)
    assert env["Subject"] == "DynamoDB Activity: Record Modified"
    assert json.loads(env["MessageAttributes"]["rules"]["Value"]) == ["logouts"]


def test_s3_failure_reports_every_record(stack: Stack, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("S3_BUCKET_NAME", f"missing-{uuid.uuid4().hex[:10]}")
    handler.reset()
    resp = invoke(batch())
    assert resp == {"batchItemFailures": [{"itemIdentifier": seq(i)} for i in (1, 2, 3, 4)]}
    assert stack.notifications(0, wait_s=0.3) == []  # nothing published ahead of the audit log


def test_sns_failure_reports_from_the_first_undelivered_change(stack: Stack, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SNS_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:does-not-exist")
    monkeypatch.setenv(
        "NOTIFICATION_RULES",
        json.dumps({"rules": [{"name": "removals", "events": ["REMOVE"]}]}),
    )
    handler.reset()
    resp = invoke(batch())
    # INSERT and MODIFY needed no notification and are delivered; retry from the first REMOVE.
    assert resp == {"batchItemFailures": [{"itemIdentifier": seq(3)}, {"itemIdentifier": seq(4)}]}
    (key,) = stack.objects("audit-logs/")  # the audit log was written all the same
    assert len(stack.audit_rows(key)) == 4


def test_poison_records_are_quarantined_and_do_not_block(stack: Stack) -> None:
    records = batch()
    bad = json.loads(json.dumps(records[1]))
    bad["dynamodb"]["SequenceNumber"] = seq(9)
    bad["dynamodb"]["Keys"]["ActivityId"] = {"N": "yesterday"}  # no change can be audited
    records.insert(2, bad)
    assert invoke(records) == {"batchItemFailures": []}
    (qkey,) = stack.objects("quarantine/")
    assert qkey.startswith("quarantine/table=UserActivities/")
    doc = json.loads(stack.s3.get_object(Bucket=stack.bucket, Key=qkey)["Body"].read())
    assert doc["record"] == bad
    assert "yesterday" in doc["error"] and "Keys" in doc["error"]
    assert doc["sequence_number"] == seq(9)
    (key,) = stack.objects("audit-logs/")
    assert [r["sequence_number"] for r in stack.audit_rows(key)] == [seq(i) for i in (1, 2, 3, 4)]
    assert len(stack.notifications(4)) == 4


def test_a_partially_undecodable_change_is_audited_and_quarantined(stack: Stack) -> None:
    records = batch()
    records[1]["dynamodb"]["NewImage"]["Timestamp"] = {"N": "yesterday"}
    assert invoke(records) == {"batchItemFailures": []}
    (key,) = stack.objects("audit-logs/")
    rows = stack.audit_rows(key)
    assert [r["sequence_number"] for r in rows] == [seq(i) for i in (1, 2, 3, 4)]
    assert "Timestamp" not in rows[1]["new_image"]
    assert list(rows[1]["undecodable_attributes"]) == ["new_image.Timestamp"]
    (qkey,) = stack.objects("quarantine/")
    doc = json.loads(stack.s3.get_object(Bucket=stack.bucket, Key=qkey)["Body"].read())
    assert doc["record"] == records[1] and "new_image.Timestamp" in doc["error"]


def test_low_remaining_time_reports_the_batch_without_touching_aws(stack: Stack) -> None:
    # 60 s at the start, then 1 s (below the 3000 ms default margin) when the pipeline asks
    resp = invoke(batch(), Context(remaining_ms=60_000, then_ms=1000))
    assert [f["itemIdentifier"] for f in resp["batchItemFailures"]] == [
        seq(i) for i in (1, 2, 3, 4)
    ]
    assert stack.objects() == []


def test_margin_is_capped_for_a_short_timeout(stack: Stack, capsys) -> None:  # type: ignore[no-untyped-def]
    # A 2 s invocation with the default 3000 ms margin still processes its batch.
    assert invoke(batch(), Context(remaining_ms=2000)) == {"batchItemFailures": []}
    assert len(stack.objects("audit-logs/")) == 1
    assert "TIME_SAFETY_MARGIN_MS is more than half" in capsys.readouterr().out


def test_seed_error_test_invalid_topic_arn_fails_the_batch(
    stack: Stack, monkeypatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    # The seed's error test replaces the whole environment with these two variables.
    monkeypatch.setenv("SNS_TOPIC_ARN", "invalid-arn")
    handler.reset()
    with pytest.raises(SettingsError, match="SNS_TOPIC_ARN"):
        invoke(batch())
    log = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    assert log[-1]["level"] == "ERROR"
    assert log[-1]["problems"][0]["variable"] == "SNS_TOPIC_ARN"
    assert stack.objects() == []


def test_event_without_records_is_a_no_op(stack: Stack) -> None:
    assert handler.lambda_handler({}, Context()) == {"batchItemFailures": []}
    assert handler.lambda_handler({"Records": []}, Context()) == {"batchItemFailures": []}


def test_handler_demo_prints_an_account(capsys) -> None:  # type: ignore[no-untyped-def]
    from ddbstream.local import handler_demo

    assert handler_demo.run() == 0
    out = capsys.readouterr().out
    assert "-> batchItemFailures = [] (every record handled)" in out
    assert "RecordsQuarantined=1" in out
    assert "audit objects now: 1 (overwritten, not duplicated)" in out
    assert "batchItemFailures = ['102', '103', '104', '105']" in out
    assert "SettingsError" in out and "SNS_TOPIC_ARN" in out
    assert out.count("DynamoDB Activity: ") == 5


def test_failed_record_without_sequence_number_fails_the_whole_batch() -> None:
    """A poison record with no SequenceNumber whose quarantine write fails cannot be reported
    as a batch item: the handler raises so that Lambda retries the whole batch."""
    from ddbstream.settings import Settings
    from ddbstream.testing.memory import MemoryAudit, MemoryNotifier, MemoryQuarantine

    proc = handler.Processor(
        settings=Settings.from_env(
            {"SNS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:t", "S3_BUCKET_NAME": "b-1"}
        ),
        audit=MemoryAudit(),
        notifier=MemoryNotifier(),
        quarantine=MemoryQuarantine(fail=lambda q: True),
    )
    with pytest.raises(handler.BatchAbortedError):
        handler.handle({"Records": [{"eventName": "INSERT"}]}, Context(), proc)
    # with a sequence number the same failure is an ordinary batch item failure
    rec = {"eventName": "INSERT", "dynamodb": {"SequenceNumber": "7"}}
    assert handler.handle({"Records": [rec]}, Context(), proc) == {
        "batchItemFailures": [{"itemIdentifier": "7"}]
    }


def test_log_level_warning_drops_the_processing_lines(stack: Stack, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    from ddbstream.log import logger

    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    handler.reset()
    try:
        assert invoke(batch()) == {"batchItemFailures": []}
    finally:
        logger.set_level("INFO")
    out = capsys.readouterr().out
    assert "Processing" not in out
    assert '"Changes":4' in out  # the metrics are still emitted


def test_a_larger_batch_publishes_every_notification_once(stack: Stack) -> None:
    # 25 changes: 3 PublishBatch calls, sent concurrently (SNS_PUBLISH_CONCURRENCY default 10)
    records = [
        stream_record(
            "INSERT",
            {"UserId": f"u{i:02d}", "ActivityId": "a"},
            {"UserId": f"u{i:02d}", "ActivityId": "a", "ActivityType": "VIEW"},
            seq=i + 1,
            ts=T0 + i,
        )
        for i in range(25)
    ]
    assert invoke(records) == {"batchItemFailures": []}
    envelopes = stack.notifications(25)
    users = sorted(e["MessageAttributes"]["UserId"]["Value"] for e in envelopes)
    assert users == [f"u{i:02d}" for i in range(25)]
    (key,) = stack.objects("audit-logs/")
    assert len(stack.audit_rows(key)) == 25


def test_unreachable_endpoint_reports_every_record_and_returns(stack: Stack, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Nothing listens at the endpoint: after botocore's retries the handler still returns, and
    every record is reported for retry (none is lost)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{closed}")
    handler.reset()
    records = batch()
    result = invoke(records)
    assert result == {"batchItemFailures": [{"itemIdentifier": seq(i)} for i in (1, 2, 3, 4)]}


# Powertools for AWS Lambda (Python), Logger: "Standard structured keys" (level, location,
# message, timestamp, service, xray_trace_id) and "Capturing Lambda context info" (cold_start,
# function_name, function_memory_size, function_arn, function_request_id):
# https://docs.aws.amazon.com/powertools/python/latest/core/logger/
POWERTOOLS_LOG_KEYS = {
    "level",
    "location",
    "message",
    "timestamp",
    "service",
    "xray_trace_id",
    "cold_start",
    "function_name",
    "function_memory_size",
    "function_arn",
    "function_request_id",
}
# Powertools Metrics: the service dimension on every metric (POWERTOOLS_SERVICE_NAME) and, on
# a cold start, "a separate EMF blob solely containing a metric named ColdStart" with the
# function_name and service dimensions:
# https://docs.aws.amazon.com/powertools/python/latest/core/metrics/
POWERTOOLS_COLD_START_DIMENSIONS = [["function_name", "service"]]

TRACE_HEADER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=557abcec3ee5a047;Sampled=1"


class LambdaContext(Context):
    """Every attribute of the Python runtime's context object that Powertools reads."""

    function_name = "ddbstream-dev-processor"
    memory_limit_in_mb = "256"  # a string, as the runtime interface client passes it
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:ddbstream-dev-processor"

    def __init__(self, request_id: str) -> None:
        super().__init__()
        self.aws_request_id = request_id


def _emf_is_valid(doc: dict[str, Any]) -> None:
    """The CloudWatch EMF rules the documents must keep: every dimension a string member of the
    root, every metric a number there."""
    (directive,) = doc["_aws"]["CloudWatchMetrics"]
    for dims in directive["Dimensions"]:
        assert all(isinstance(doc[d], str) for d in dims), dims
    for m in directive["Metrics"]:
        assert isinstance(doc[m["Name"]], int | float), m


def _lines(out: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    docs = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
    return [d for d in docs if "_aws" not in d], [d for d in docs if "_aws" in d]


def test_log_lines_and_emf_carry_the_powertools_keys(stack: Stack, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "user-activity")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", LambdaContext.function_name)
    monkeypatch.setenv("_X_AMZN_TRACE_ID", TRACE_HEADER)
    handler.reset()
    capsys.readouterr()
    assert invoke(batch(), LambdaContext("req-1")) == {"batchItemFailures": []}
    logs, emf = _lines(capsys.readouterr().out)

    processing = next(x for x in logs if x["message"] == "Processing change")
    assert set(processing) >= POWERTOOLS_LOG_KEYS
    assert processing["level"] == "INFO"
    assert processing["location"].startswith("ddbstream.handler.on_change:")
    assert processing["service"] == "user-activity"
    assert processing["cold_start"] is True
    assert processing["function_name"] == "ddbstream-dev-processor"
    assert processing["function_memory_size"] == 256
    assert processing["function_arn"] == LambdaContext.invoked_function_arn
    assert processing["function_request_id"] == "req-1"
    assert processing["xray_trace_id"] == "1-5759e988-bd862e3fe1be46a994272793"
    assert processing["timestamp"].endswith("Z") and "T" in processing["timestamp"]
    # every line of the invocation, the cold start's own line included, has the same keys
    assert [x["message"] for x in logs][:2] == ["Cold start", "Processing batch"]
    assert all(set(x) >= POWERTOOLS_LOG_KEYS for x in logs)
    done = next(x for x in logs if x["message"] == "Processed batch")
    (key,) = stack.objects("audit-logs/")
    assert done["audit_object_keys"] == [key]

    for doc in emf:
        _emf_is_valid(doc)
    (cold,) = [d for d in emf if "ColdStart" in d]
    assert cold["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == POWERTOOLS_COLD_START_DIMENSIONS
    assert [m["Name"] for m in cold["_aws"]["CloudWatchMetrics"][0]["Metrics"]] == ["ColdStart"]
    assert (cold["ColdStart"], cold["function_name"], cold["service"]) == (
        1,
        "ddbstream-dev-processor",
        "user-activity",
    )
    totals = next(d for d in emf if "Changes" in d and "EventName" not in d)
    assert ["service"] in totals["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
    assert ["FunctionName"] in totals["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
    assert totals["service"] == "user-activity" and totals["Changes"] == 4
    by_event = [d for d in emf if "EventName" in d]
    assert all(
        ["service", "EventName"] in d["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
        for d in by_event
    )

    # the next invocation of the same container is warm: cold_start false, no ColdStart metric
    monkeypatch.delenv("_X_AMZN_TRACE_ID")
    assert invoke(batch(), LambdaContext("req-2")) == {"batchItemFailures": []}
    logs, emf = _lines(capsys.readouterr().out)
    assert {x["cold_start"] for x in logs} == {False}
    assert {x["function_request_id"] for x in logs} == {"req-2"}
    assert not any("xray_trace_id" in x for x in logs)  # left out when unknown, as Powertools does
    assert not any("ColdStart" in d for d in emf)


def test_service_dimension_can_be_switched_off(stack: Stack, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("METRICS_SERVICE_DIMENSION", "false")
    handler.reset()
    capsys.readouterr()
    invoke(batch(), LambdaContext("req-1"))
    logs, emf = _lines(capsys.readouterr().out)
    assert {x["service"] for x in logs} == {"ddbstream"}  # the log key stays
    dimension_sets = [s for d in emf for s in d["_aws"]["CloudWatchMetrics"][0]["Dimensions"]]
    assert not any("service" in s for s in dimension_sets)
    assert ["function_name"] in dimension_sets  # ColdStart, by function only


# What the Lambda runtime provides: the standard library, boto3 and botocore with the packages
# they depend on (as AWS ships them in the Python runtimes); certifi is botocore's optional CA
# bundle, imported when present.
BOTO = {"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six", "certifi"}
LAMBDA_PACKAGE = ("ddbstream", "ddbstream.handler", "ddbstream.settings", "ddbstream.log")


def test_importing_the_handler_pulls_in_only_the_standard_library_and_boto() -> None:
    """A cold start imports nothing the Lambda runtime lacks: the handler module needs only the
    standard library (boto3 comes with the first invocation's clients), the adapters only boto3
    and botocore; nothing from the CLI, the local stack or the test helpers."""
    import subprocess
    import sys

    script = (
        "import json, sys\n"
        "before = set(sys.modules)  # the interpreter's own start-up (site, .pth hooks)\n"
        "import ddbstream.handler\n"
        "a = sorted(set(sys.modules) - before)\n"
        "from ddbstream.adapters import aws, s3, sns\n"
        "aws.client('s3', region_name='us-east-1')\n"
        "print(json.dumps([a, sorted(set(sys.modules) - before)]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    at_import, with_clients = json.loads(out.strip().splitlines()[-1])

    def outside(modules: list[str], allowed: set[str]) -> list[str]:
        return [
            m
            for m in modules
            if (m.split(".")[0] not in allowed and not m.startswith("__"))  # __mp_main__ alias
            or (
                m.startswith("ddbstream.")
                and not m.startswith(("ddbstream.core", "ddbstream.adapters"))
                and m not in LAMBDA_PACKAGE
            )
        ]

    stdlib = set(sys.stdlib_module_names) | {"ddbstream"}
    assert outside(at_import, stdlib) == []
    assert not any(m.split(".")[0] in BOTO for m in at_import)  # boto3 waits for a client
    assert outside(with_clients, stdlib | BOTO) == []


# --- fuzz: malformed events at every level --------------------------------------------------

_JUNK = st.sampled_from([None, 7, "x", [], {}, {"S": 1}, {"N": "1e"}, {"Q": "?"}, "\udcff"])
_PATHS = [
    (),  # the whole record
    ("eventName",),
    ("eventSourceARN",),
    ("eventID",),
    ("dynamodb",),
    ("dynamodb", "Keys"),
    ("dynamodb", "Keys", "UserId"),
    ("dynamodb", "NewImage"),
    ("dynamodb", "NewImage", "ActivityType"),
    ("dynamodb", "OldImage"),
    ("dynamodb", "SequenceNumber"),
    ("dynamodb", "ApproximateCreationDateTime"),
    ("dynamodb", "SizeBytes"),
    ("userIdentity",),
]


@st.composite
def _fuzzed_batch(draw: Any) -> tuple[list[Any], list[str]]:
    """Good records (their sequence numbers returned, in order) mixed with records broken at a
    random level: a value replaced by junk, or removed."""
    records: list[Any] = []
    good: list[str] = []
    for i in range(draw(st.integers(min_value=0, max_value=8))):
        keys = {"UserId": f"u{i}", "ActivityId": "a"}
        rec = stream_record(
            draw(st.sampled_from(["INSERT", "MODIFY", "REMOVE"])),
            keys,
            {**keys, "ActivityType": "LOGIN"},
            {**keys, "ActivityType": "OLD"},
            seq=i + 1,
        )
        if draw(st.booleans()):
            path = draw(st.sampled_from(_PATHS))
            if not path:
                rec = draw(_JUNK)
            else:
                parent = rec
                for part in path[:-1]:
                    parent = parent[part]
                if draw(st.booleans()):
                    parent.pop(path[-1], None)
                else:
                    parent[path[-1]] = draw(_JUNK)
            records.append(rec)
        else:
            records.append(rec)
            good.append(seq(i + 1))
    return records, good


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch_and_good=_fuzzed_batch())
def test_fuzzed_events_never_crash_and_never_lose_or_reorder_a_good_record(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, batch_and_good: tuple[list[Any], list[str]]
) -> None:
    records, good = batch_and_good
    prefix = f"fuzz-{uuid.uuid4().hex[:8]}/"
    monkeypatch.setenv("AUDIT_PREFIX", prefix)
    handler.reset()
    resp = invoke(records)
    assert resp == {"batchItemFailures": []}  # every malformed record was quarantined
    rows = [r for key in stack.objects(prefix) for r in stack.audit_rows(key)]
    audited = [r["sequence_number"] for r in rows]
    assert [s for s in audited if s in good] == good  # each good record once, in stream order


@pytest.mark.parametrize("event", [None, [], {}, {"Records": None}, {"Records": "x"}, "text"])
def test_an_event_without_a_records_list_is_not_an_error(stack: Stack, event: Any) -> None:
    assert handler.lambda_handler(event, Context()) == {"batchItemFailures": []}
