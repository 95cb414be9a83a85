"""A small deployment in the session's emulator for the ops tests (the ``mini`` fixture of
conftest.py): a table with its stream, the function's configuration (the seed's error-test
environment to begin with), its event source mapping, the DLQ, the audit bucket and the topic
with a subscribed queue, built with boto3 (no Terraform; the local stack's end-to-end cycle is
tests/local/test_dlq_cycle.py)."""

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

from ddbstream.local import emulator
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


def function_zip() -> bytes:
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
        # SNS delivers after Publish answered (emulator.Deliveries): what was published so far
        # reaches the queue first (the session's emulator runs in this process)
        assert emulator.deliveries.settle(timeout=30)
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
        return [it.body for it in dlq.SqsQueue(self.c("sqs"), self.dlq_url, wait=0).peek()]


def state_dir_for(tmp_path: Path, mini: MiniStack) -> str:
    """A state directory naming this emulator, as `ddbstream up` leaves it (for cli.main)."""
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
