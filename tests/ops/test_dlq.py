"""dlq list / replay against the in-process emulator: a table with its stream, the function's
configuration, the DLQ, the audit bucket and the topic, built with boto3 (no Terraform; the
local stack's end-to-end cycle is tests/cli/test_dlq_cli.py)."""

from __future__ import annotations

import gzip
import io
import json
import os
import time
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ddbstream import cli
from ddbstream.errors import UserError
from ddbstream.local import clients
from ddbstream.ops import dlq
from ddbstream.ops.target import Deployment

ROLE_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("h.py", "def handler(e, c):\n    return {}\n")
    return buf.getvalue()


@dataclass
class MiniStack:
    d: Deployment
    table: str
    stream_arn: str
    shard_id: str
    bucket: str
    topic: str
    dlq_url: str
    function: str
    function_arn: str
    notify_url: str

    def c(self, service: str) -> Any:
        return self.d.client(service)

    def put(self, n: int, tag: str) -> list[str]:
        """Write n items; return their stream sequence numbers."""
        before = self.stream_seqs()
        for i in range(n):
            self.c("dynamodb").put_item(
                TableName=self.table,
                Item={
                    "UserId": {"S": f"{tag}-u{i}"},
                    "ActivityId": {"S": f"a{i}"},
                    "ActivityType": {"S": "LOGIN"},
                },
            )
        return self.stream_seqs()[len(before) :]

    def stream_seqs(self) -> list[str]:
        s = self.c("dynamodbstreams")
        it = s.get_shard_iterator(
            StreamArn=self.stream_arn, ShardId=self.shard_id, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        return [r["dynamodb"]["SequenceNumber"] for r in s.get_records(ShardIterator=it)["Records"]]

    def failure_record(self, seqs: list[str], **over: Any) -> dict[str, Any]:
        now = time.time()
        info = {
            "shardId": self.shard_id,
            "startSequenceNumber": seqs[0],
            "endSequenceNumber": seqs[-1],
            "approximateArrivalOfFirstRecord": time.strftime(
                "%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)
            ),
            "approximateArrivalOfLastRecord": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
            "batchSize": len(seqs),
            "streamArn": self.stream_arn,
        } | over
        return {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": self.function_arn,
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": 3,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "version": "1.0",
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(now)),
            "DDBStreamBatchInfo": info,
        }

    def send(self, body: Any) -> str:
        text = body if isinstance(body, str) else json.dumps(body)
        return self.c("sqs").send_message(QueueUrl=self.dlq_url, MessageBody=text)["MessageId"]

    def set_topic(self, topic: str) -> None:
        self.c("lambda").update_function_configuration(
            FunctionName=self.function,
            Environment={"Variables": {"SNS_TOPIC_ARN": topic, "S3_BUCKET_NAME": self.bucket}},
        )

    def audit_event_ids(self) -> list[str]:
        s3 = self.c("s3")
        ids: list[str] = []
        for o in s3.list_objects_v2(Bucket=self.bucket, Prefix="audit-logs/").get("Contents", []):
            body = gzip.decompress(s3.get_object(Bucket=self.bucket, Key=o["Key"])["Body"].read())
            ids += [json.loads(line)["event_id"] for line in body.splitlines()]
        return ids

    def notifications(self) -> list[dict[str, Any]]:
        out = []
        while True:
            msgs = (
                self.c("sqs")
                .receive_message(
                    QueueUrl=self.notify_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
                )
                .get("Messages", [])
            )
            if not msgs:
                return out
            for m in msgs:
                out.append(json.loads(m["Body"]))
                self.c("sqs").delete_message(
                    QueueUrl=self.notify_url, ReceiptHandle=m["ReceiptHandle"]
                )

    def dlq_bodies(self) -> list[str]:
        return [it.body for it in dlq.SqsQueue(self.c("sqs"), self.dlq_url).peek()]


@pytest.fixture
def mini(moto_endpoint: str) -> MiniStack:
    sfx = uuid.uuid4().hex[:8]
    d = Deployment(
        outputs={}, source="test", is_local=True, endpoint=moto_endpoint, region=clients.REGION
    )
    ddb = d.client("dynamodb")
    table = f"t-{sfx}"
    desc = ddb.create_table(
        TableName=table,
        KeySchema=[
            {"AttributeName": "UserId", "KeyType": "HASH"},
            {"AttributeName": "ActivityId", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "UserId", "AttributeType": "S"},
            {"AttributeName": "ActivityId", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]
    stream_arn = desc["LatestStreamArn"]
    shard = d.client("dynamodbstreams").describe_stream(StreamArn=stream_arn)["StreamDescription"][
        "Shards"
    ][0]
    bucket = f"audit-{sfx}"
    d.client("s3").create_bucket(Bucket=bucket)
    topic = d.client("sns").create_topic(Name=f"n-{sfx}")["TopicArn"]
    sqs = d.client("sqs")
    dlq_url = sqs.create_queue(QueueName=f"dlq-{sfx}")["QueueUrl"]
    notify_url = sqs.create_queue(QueueName=f"sub-{sfx}")["QueueUrl"]
    notify_arn = sqs.get_queue_attributes(QueueUrl=notify_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    d.client("sns").subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=notify_arn,
        Attributes={"RawMessageDelivery": "false"},
    )
    role = d.client("iam").create_role(RoleName=f"r-{sfx}", AssumeRolePolicyDocument=ROLE_POLICY)[
        "Role"
    ]["Arn"]
    fn = f"fn-{sfx}"
    fn_arn = d.client("lambda").create_function(
        FunctionName=fn,
        Runtime="python3.12",
        Role=role,
        Handler="h.handler",
        Code={"ZipFile": _zip()},
        Environment={"Variables": {"SNS_TOPIC_ARN": "invalid-arn", "S3_BUCKET_NAME": bucket}},
    )["FunctionArn"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    d.client("lambda").create_event_source_mapping(
        EventSourceArn=stream_arn,
        FunctionName=fn,
        StartingPosition="TRIM_HORIZON",
        DestinationConfig={"OnFailure": {"Destination": dlq_arn}},
    )
    d.outputs.update(
        {
            "dlq_url": dlq_url,
            "lambda_function_name": fn,
            "s3_bucket_name": bucket,
            "sns_topic_arn": topic,
        }
    )
    return MiniStack(
        d, table, stream_arn, shard["ShardId"], bucket, topic, dlq_url, fn, fn_arn, notify_url
    )


def test_replay_refuses_while_the_function_configuration_is_invalid(mini: MiniStack) -> None:
    seqs = mini.put(2, "bad")
    mini.send(mini.failure_record(seqs))
    with pytest.raises(UserError, match=r"invalid configuration \(SNS_TOPIC_ARN: 'invalid-arn'"):
        dlq.replay(mini.d, wait_in_flight=0)
    assert len(mini.dlq_bodies()) == 1, "nothing is deleted when the replay cannot run"
    assert mini.audit_event_ids() == []


def test_replay_runs_the_batch_through_the_function_pipeline_then_deletes_it(
    mini: MiniStack,
) -> None:
    seqs = mini.put(3, "ok")
    mini.send(mini.failure_record(seqs))
    foreign = mini.send("a message someone sent by hand")
    mini.set_topic(mini.topic)

    listed = dlq.list_records(mini.d)
    assert sorted((str(entry.readable), entry.where) for entry in listed) == [
        ("None", "not JSON (JSONDecodeError)"),
        ("True", "stream"),
    ]
    assert len(mini.dlq_bodies()) == 2, "listing removes nothing"

    report = dlq.replay(mini.d, wait_in_flight=0)
    assert report.count("replayed") == 1
    assert report.count("foreign") == 1 and report.exit_code == dlq.EXIT_KEPT
    assert report.totals()["changes"] == 3
    assert report.totals()["notifications"] == 3
    ids = mini.audit_event_ids()
    assert len(ids) == 3 and len(set(ids)) == 3
    notes = mini.notifications()
    assert len(notes) == 3
    assert all(n["MessageAttributes"][dlq.REPLAY_ATTRIBUTE]["Value"] == "true" for n in notes)
    assert {json.loads(n["Message"])["event_id"] for n in notes} == set(ids)
    assert mini.dlq_bodies() == ["a message someone sent by hand"], "the foreign one is kept"
    assert [r.id for r in report.kept] == [foreign]

    # a second replay adds nothing to the audit log
    again = dlq.replay(mini.d, wait_in_flight=0)
    assert again.count("replayed") == 0
    assert sorted(mini.audit_event_ids()) == sorted(ids)


def test_dry_run_changes_nothing(mini: MiniStack) -> None:
    seqs = mini.put(2, "dry")
    mini.send(mini.failure_record(seqs))
    mini.set_topic(mini.topic)
    report = dlq.replay(mini.d, dry_run=True, wait_in_flight=0)
    assert [r.status for r in report.results] == ["would-replay"]
    assert report.results[0].changes == 2
    assert mini.audit_event_ids() == [] and mini.notifications() == []
    assert len(mini.dlq_bodies()) == 1


def test_no_notify_writes_the_audit_log_only(mini: MiniStack) -> None:
    seqs = mini.put(2, "quiet")
    mini.send(mini.failure_record(seqs))
    mini.set_topic(mini.topic)
    report = dlq.replay(mini.d, notify=False, wait_in_flight=0)
    assert report.count("replayed") == 1
    assert len(mini.audit_event_ids()) == 2
    assert mini.notifications() == []


def test_message_id_and_limit_select_what_is_replayed(mini: MiniStack) -> None:
    mini.set_topic(mini.topic)
    first = mini.send(mini.failure_record(mini.put(1, "m1")))
    second = mini.send(mini.failure_record(mini.put(1, "m2")))
    report = dlq.replay(mini.d, message_ids=[second], wait_in_flight=0)
    assert [(r.id, r.status) for r in report.results] == [(second, "replayed")]
    assert len(mini.dlq_bodies()) == 1
    with pytest.raises(UserError, match="no message nope"):
        dlq.replay(mini.d, message_ids=["nope"], wait_in_flight=0)
    report = dlq.replay(mini.d, limit=1, wait_in_flight=0)
    assert [(r.id, r.status) for r in report.results] == [(first, "replayed")]
    assert mini.dlq_bodies() == []


def test_records_no_longer_in_the_stream_are_reported_and_kept(mini: MiniStack) -> None:
    mini.set_topic(mini.topic)
    seqs = mini.put(1, "gone")
    # a range below the shard's first sequence number: what the stream trimmed
    old = str(int(seqs[0]) - 10_000_000)
    msg = mini.send(
        mini.failure_record([old, old], approximateArrivalOfFirstRecord="2020-01-01T00:00:00Z")
    )
    (entry,) = dlq.list_records(mini.d)
    assert entry.readable is False
    report = dlq.replay(mini.d, wait_in_flight=0)
    assert [(r.id, r.status) for r in report.results] == [(msg, "unreadable")]
    assert report.exit_code == dlq.EXIT_KEPT
    assert len(mini.dlq_bodies()) == 1
    report = dlq.replay(mini.d, discard_expired=True, wait_in_flight=0)
    assert [r.status for r in report.results] == ["discarded"]
    assert mini.dlq_bodies() == [] and report.exit_code == 0


def test_an_empty_dlq_is_nothing_to_do(mini: MiniStack) -> None:
    report = dlq.replay(mini.d, wait_in_flight=0)
    assert report.results == [] and report.exit_code == 0
    assert dlq.list_records(mini.d) == []


def test_a_replay_interrupted_after_the_audit_write_is_run_again_without_duplicates(
    mini: MiniStack,
) -> None:
    mini.set_topic(mini.topic)
    mini.send(mini.failure_record(mini.put(2, "int")))
    queue = dlq.SqsQueue(mini.c("sqs"), mini.dlq_url, visibility=2)
    (item,) = list(queue.iterate())  # a replay took the message ...
    pipe = dlq.load_pipeline(mini.d, mini.function)
    from ddbstream.core.pipeline import process_batch

    records = dlq.read_range(mini.c("dynamodbstreams"), item.record)  # type: ignore[arg-type]
    process_batch(
        records,
        config=pipe.config,
        audit=pipe.audit,
        notifier=pipe.notifier,
        quarantine=pipe.quarantine,
    )
    # ... and died before deleting it: the message comes back once its visibility ends
    waited = dlq.wait_for_in_flight(queue, 10, lambda _s: None)
    assert waited <= 10
    report = dlq.replay(mini.d, wait_in_flight=10)
    assert report.count("replayed") == 1
    ids = mini.audit_event_ids()
    assert len(set(ids)) == 2, "each change once after deduplication by event_id"
    assert len(mini.notifications()) >= 2, "every change notified, at least once"
    assert mini.dlq_bodies() == []


# ---------------------------------------------------------------------------------------------
# the command line, on a state directory that names this emulator (as `ddbstream up` leaves it)
# ---------------------------------------------------------------------------------------------


def _stack_dir(tmp_path: Path, mini: MiniStack) -> str:
    from ddbstream.local import stack

    state = {
        "pid": os.getpid(),
        "status": "ready",
        "endpoint": mini.d.endpoint,
        "region": "us-east-1",
    }
    (tmp_path / stack.STATE_FILE).write_text(json.dumps(state))
    outputs = {
        k: {"value": v, "type": "string", "sensitive": False} for k, v in mini.d.outputs.items()
    }
    (tmp_path / stack.OUTPUTS_FILE).write_text(json.dumps(outputs))
    return str(tmp_path)


def test_cli_list_and_replay(
    mini: MiniStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sd = _stack_dir(tmp_path, mini)
    assert cli.main(["dlq", "list", "--state-dir", sd]) == 0
    assert capsys.readouterr().out.startswith("nothing in sqs ")
    assert cli.main(["dlq", "replay", "--state-dir", sd]) == 0
    assert "nothing to replay" in capsys.readouterr().out

    seqs = mini.put(2, "cli")
    mini.send(mini.failure_record(seqs))
    mini.send('{"hello": "world"}')
    assert cli.main(["dlq", "list", "--state-dir", sd]) == 0
    out = capsys.readouterr().out
    assert "2 message(s) in sqs" in out and "1 on-failure record(s), 1 other" in out
    assert f"sequence {seqs[0]} .. {seqs[-1]} (2 record(s))" in out
    assert "RetryAttemptsExhausted · function error Unhandled" in out
    assert "records: readable from the stream for about 23h" in out
    assert "NOT AN ON-FAILURE RECORD (no DDBStreamBatchInfo" in out
    assert cli.main(["dlq", "list", "--json", "--state-dir", sd]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert sorted(m["on_failure_record"] for m in doc["messages"]) == [False, True]

    # still invalid-arn: one line, exit 1, nothing taken
    assert cli.main(["dlq", "replay", "--state-dir", sd]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ddbstream: function fn-") and err.count("\n") == 1
    mini.set_topic(mini.topic)
    assert cli.main(["dlq", "replay", "--state-dir", sd]) == dlq.EXIT_KEPT
    captured = capsys.readouterr()
    assert "replayed [sqs]" in captured.out and "2 changes" in captured.out
    assert "foreign [sqs]" in captured.out
    assert "1 message(s) kept" in captured.err
    assert len(mini.audit_event_ids()) == 2


@pytest.mark.parametrize("verb", ["list", "replay"])
def test_cli_without_a_stack_or_with_a_wrong_terraform_dir_is_one_line(
    verb: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["dlq", verb, "--state-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ddbstream: no local stack is running") and err.count("\n") == 1
    assert cli.main(["dlq", verb, "--terraform-dir", str(tmp_path / "nope")]) == 1
    err = capsys.readouterr().err
    assert err == f"ddbstream: --terraform-dir {tmp_path / 'nope'}: no such directory\n"
