"""The way back, end to end on the local stack: the seed's error test fills the DLQ, the function
is restored, ``ddbstream dlq replay`` brings every change back (audit log and notifications),
exactly as a user runs it. Shares the session's local stack (conftest.py); every test restores
the function's configuration and the mapping's settings it changed.

To reach the DLQ quickly the tests set the mapping's ``MaximumRetryAttempts`` to 0 for their
duration (the local stack's own default may change) and put it back afterwards.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import signal
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from stack_helpers import LocalStackHandle, ddbstream_cmd

from ddbstream.ops import dlq, target

pytestmark = pytest.mark.slow

DLQ_TIMEOUT = 90.0


class Cycle:
    """Helpers over the shared stack for one test (``run``: a tag on every item it writes)."""

    def __init__(self, h: LocalStackHandle) -> None:
        self.h = h
        self.o = h.outputs
        self.run = uuid.uuid4().hex[:8]
        self.lam = h.client("lambda")
        self.sqs = h.client("sqs")
        self.s3 = h.client("s3")

    def deployment(self) -> target.Deployment:
        return target.from_local_stack(self.h.state_dir)

    # -- breaking and restoring ----------------------------------------------------------
    @contextlib.contextmanager
    def broken(self, destination: str | None = None) -> Iterator[None]:
        """The seed's error test (SNS_TOPIC_ARN=invalid-arn, S3_BUCKET_NAME only) with the
        mapping retrying 0 times; everything put back on exit."""
        fn = self.o["lambda_function_name"]
        env = self.lam.get_function_configuration(FunctionName=fn)["Environment"]["Variables"]
        uuid_ = self.o["event_source_mapping_uuid"]
        m = self.lam.get_event_source_mapping(UUID=uuid_)
        change: dict[str, Any] = {"MaximumRetryAttempts": 0}
        if destination:
            change["DestinationConfig"] = {"OnFailure": {"Destination": destination}}
        self.lam.update_event_source_mapping(UUID=uuid_, **change)
        self.lam.update_function_configuration(
            FunctionName=fn,
            Environment={
                "Variables": {
                    "SNS_TOPIC_ARN": "invalid-arn",
                    "S3_BUCKET_NAME": env["S3_BUCKET_NAME"],
                }
            },
        )
        time.sleep(2.5)  # the runtime lists the mappings again every second
        try:
            yield
        finally:
            self.lam.update_function_configuration(FunctionName=fn, Environment={"Variables": env})
            self.lam.update_event_source_mapping(
                UUID=uuid_,
                MaximumRetryAttempts=m["MaximumRetryAttempts"],
                DestinationConfig=m["DestinationConfig"],
            )
            time.sleep(2.5)

    # -- changes -------------------------------------------------------------------------
    def put(self, n: int) -> list[str]:
        ddb = self.h.client("dynamodb")
        users = [f"dlq-{self.run}-{i}" for i in range(n)]
        for u in users:
            ddb.put_item(
                TableName=self.o["dynamodb_table_name"],
                Item={
                    "UserId": {"S": u},
                    "ActivityId": {"S": "login-001"},
                    "ActivityType": {"S": "LOGIN"},
                    "Timestamp": {"N": str(int(time.time()))},
                },
            )
            time.sleep(0.3)  # separate batches: several on-failure records
        return users

    def seqs_of(self, users: list[str]) -> list[int]:
        """Sequence numbers of the stream records of ``users`` (read from the stream)."""
        streams = self.h.client("dynamodbstreams")
        arn = self.o["dynamodb_stream_arn"]
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
        it = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        out = []
        while it:
            page = streams.get_records(ShardIterator=it, Limit=1000)
            for r in page["Records"]:
                if r["dynamodb"]["Keys"]["UserId"]["S"] in users:
                    out.append(int(r["dynamodb"]["SequenceNumber"]))
            if not page["Records"]:
                break
            it = page.get("NextShardIterator")
        return out

    def wait_covered(self, users: list[str]) -> list[dlq.Listed]:
        """Wait until every change of ``users`` is inside some on-failure record's range."""
        want = self.seqs_of(users)
        assert len(want) == len(users)
        deadline = time.monotonic() + DLQ_TIMEOUT
        while True:
            listed = dlq.list_records(self.deployment())
            ranges = [
                (
                    int(x.item.record.batch.start_sequence_number),
                    int(x.item.record.batch.end_sequence_number),
                )
                for x in listed
                if x.item.record is not None
            ]
            if all(any(a <= s <= b for a, b in ranges) for s in want):
                return listed
            assert time.monotonic() < deadline, f"not all of {want} reached the DLQ: {ranges}"
            time.sleep(1.0)

    # -- what came out -------------------------------------------------------------------
    def subscribe(self) -> str:
        url = self.sqs.create_queue(QueueName=f"dlq-test-{self.run}")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self.h.client("sns").subscribe(
            TopicArn=self.o["sns_topic_arn"], Protocol="sqs", Endpoint=arn
        )
        return url

    def notified(self, url: str, users: list[str] | None = None) -> list[dict[str, Any]]:
        """Change notifications received (the topic also carries alarm notifications), of
        ``users`` when given."""
        out = []
        while True:
            msgs = self.sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1
            ).get("Messages", [])
            if not msgs:
                return out
            for m in msgs:
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
                note = json.loads(m["Body"])
                try:
                    change = json.loads(note["Message"])
                except ValueError:
                    continue
                if not isinstance(change, dict) or "event_id" not in change:
                    continue  # an alarm's notification
                if users is None or change["keys"].get("UserId") in users:
                    out.append(note)

    def audit_lines(self, users: list[str]) -> list[dict[str, Any]]:
        bucket = self.o["s3_bucket_name"]
        lines = []
        pages = self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=self.o["audit_prefix"]
        )
        for page in pages:
            for obj in page.get("Contents", []):
                body = self.s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
                for line in gzip.decompress(body).splitlines():
                    d = json.loads(line)
                    if d["keys"].get("UserId") in users:
                        lines.append(d)
        return lines

    def assert_each_once(self, users: list[str]) -> list[dict[str, Any]]:
        lines = self.audit_lines(users)
        unique = {d["event_id"]: d for d in lines}
        per_user = Counter(d["keys"]["UserId"] for d in unique.values())
        assert per_user == Counter(users), per_user
        return lines

    def dlq_depth(self) -> int:
        return sum(dlq.SqsQueue(self.sqs, self.o["dlq_url"]).counts())


@pytest.fixture
def cycle(local_stack: LocalStackHandle) -> Cycle:
    return Cycle(local_stack)


def test_the_seed_error_test_then_replay_brings_every_change_back_once(cycle: Cycle) -> None:
    sub = cycle.subscribe()
    with cycle.broken():
        users = cycle.put(4)
        cycle.wait_covered(users)
    assert cycle.audit_lines(users) == [], "nothing was written while the function failed"

    listed = cycle.h.ddbstream("dlq", "list")
    assert listed.returncode == 0, listed.stderr
    assert "RetryAttemptsExhausted · function error Unhandled" in listed.stdout
    assert "records: readable from the stream" in listed.stdout

    replay = cycle.h.ddbstream("dlq", "replay")
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert "replayed [sqs]" in replay.stdout
    assert cycle.dlq_depth() == 0
    lines = cycle.assert_each_once(users)

    notes = cycle.notified(sub, users)
    assert Counter(json.loads(n["Message"])["keys"]["UserId"] for n in notes) == Counter(users)
    assert all(n["MessageAttributes"]["replayed"]["Value"] == "true" for n in notes)

    again = cycle.h.ddbstream("dlq", "replay")
    assert again.returncode == 0, again.stderr
    assert "nothing to replay" in again.stdout
    assert len(cycle.audit_lines(users)) == len(lines), "a second replay adds nothing"
    assert cycle.notified(sub, users) == []
    empty = cycle.h.ddbstream("dlq", "list")
    assert empty.returncode == 0 and empty.stdout.startswith("nothing in sqs")


def test_a_replay_killed_midway_is_run_again(cycle: Cycle) -> None:
    with cycle.broken():
        users = cycle.put(6)
        listed = cycle.wait_covered(users)
    assert len([x for x in listed if x.item.record]) >= 3, "several on-failure records"

    proc = subprocess.Popen(
        ddbstream_cmd("dlq", "replay", "--visibility-timeout", "5"),
        env=cycle.h.env() | {"PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert first.startswith("replayed "), first
    left = cycle.dlq_depth()
    assert left > 0, "killed before the end: something is left for the second run"

    rerun = cycle.h.ddbstream("dlq", "replay", "--visibility-timeout", "5")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert cycle.dlq_depth() == 0
    cycle.assert_each_once(users)


def test_s3_on_failure_destination_keeps_the_records_and_replays_from_them(
    cycle: Cycle,
) -> None:
    bucket = f"ddbstream-failed-{cycle.run}"
    cycle.s3.create_bucket(Bucket=bucket)
    sub = cycle.subscribe()
    with cycle.broken(destination=f"arn:aws:s3:::{bucket}"):
        users = cycle.put(3)
        cycle.wait_covered(users)
        listed = cycle.h.ddbstream("dlq", "list")
        assert listed.returncode == 0, listed.stderr
        assert f"s3://{bucket}/" in listed.stdout
        assert "held in the S3 object" in listed.stdout
        keys = [o["Key"] for o in cycle.s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
        assert keys and all(k.startswith("aws/lambda/") for k in keys)
        # the function is still broken here: a replay refuses, one line, nothing removed
        refused = cycle.h.ddbstream("dlq", "replay")
        assert refused.returncode == 1
        assert "invalid configuration (SNS_TOPIC_ARN" in refused.stderr
        assert refused.stderr.count("\n") == 1
        # restore the function only (the mapping keeps its S3 destination while replaying)
        fn = cycle.o["lambda_function_name"]
        cycle.lam.update_function_configuration(
            FunctionName=fn,
            Environment={
                "Variables": {
                    "SNS_TOPIC_ARN": cycle.o["sns_topic_arn"],
                    "S3_BUCKET_NAME": cycle.o["s3_bucket_name"],
                }
            },
        )
        replay = cycle.h.ddbstream("dlq", "replay")
        assert replay.returncode == 0, replay.stdout + replay.stderr
        assert "replayed [s3] aws/lambda/" in replay.stdout
        assert cycle.s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0
    cycle.assert_each_once(users)
    notes = cycle.notified(sub, users)
    assert Counter(json.loads(n["Message"])["keys"]["UserId"] for n in notes) == Counter(users)


def test_unreadable_records_and_foreign_messages_are_listed_and_kept(cycle: Cycle) -> None:
    d = cycle.deployment()
    streams = cycle.h.client("dynamodbstreams")
    arn = cycle.o["dynamodb_stream_arn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
    first = int(shard["SequenceNumberRange"]["StartingSequenceNumber"])
    gone = str(first - 1000)  # before the shard's first record: trimmed, as after 24 hours
    record = {
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": cycle.o["lambda_function_arn"],
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": 1,
        },
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled",
        },
        "version": "1.0",
        "timestamp": "2026-01-01T00:00:30.000Z",
        "DDBStreamBatchInfo": {
            "shardId": shard["ShardId"],
            "startSequenceNumber": gone,
            "endSequenceNumber": gone,
            "approximateArrivalOfFirstRecord": "2026-01-01T00:00:00Z",
            "approximateArrivalOfLastRecord": "2026-01-01T00:00:00Z",
            "batchSize": 1,
            "streamArn": arn,
        },
    }
    url = cycle.o["dlq_url"]
    old_id = cycle.sqs.send_message(QueueUrl=url, MessageBody=json.dumps(record))["MessageId"]
    foreign_id = cycle.sqs.send_message(QueueUrl=url, MessageBody="not a failure record")[
        "MessageId"
    ]
    try:
        listed = cycle.h.ddbstream("dlq", "list")
        assert listed.returncode == 0, listed.stderr
        assert "records: NOT READABLE: trimmed from the stream" in listed.stdout
        assert "NOT AN ON-FAILURE RECORD (not JSON" in listed.stdout

        replay = cycle.h.ddbstream("dlq", "replay")
        assert replay.returncode == dlq.EXIT_KEPT, replay.stdout + replay.stderr
        assert f"unreadable [sqs] {old_id}: kept: trimmed from the stream" in replay.stdout
        assert f"foreign [sqs] {foreign_id}" in replay.stdout
        assert cycle.dlq_depth() == 2, "both kept"

        discard = cycle.h.ddbstream("dlq", "replay", "--discard-expired", "--json")
        assert discard.returncode == dlq.EXIT_KEPT  # the foreign message is still there
        doc = json.loads(discard.stdout)
        assert doc["counts"]["discarded"] == 1 and doc["counts"]["foreign"] == 1
        assert [m.item.id for m in dlq.list_records(d)] == [foreign_id]
    finally:
        for item in dlq.SqsQueue(cycle.sqs, url).peek():
            if item.id in (old_id, foreign_id):
                cycle.sqs.delete_message(QueueUrl=url, ReceiptHandle=item.handle)
