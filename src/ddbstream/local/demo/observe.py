"""Reading what the processor produced, and waiting for it: the audit log's objects, the
notifications (through an SQS queue subscribed to the topic), the function's log lines, the
DLQ's on-failure records and the stream records they point at. Reads only, except the demo's
own notification queue and its subscription."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

NOTIFY_QUEUE = "ddbstream-demo-notifications"


def wait_for(probe: Callable[[], Any], timeout: float, interval: float = 0.25) -> tuple[Any, float]:
    """Call ``probe`` until it returns something truthy; returns (result, seconds waited)."""
    t0 = time.monotonic()
    while True:
        result = probe()
        if result or time.monotonic() - t0 > timeout:
            return result, time.monotonic() - t0
        time.sleep(interval)


def log_summary(message: str) -> str:
    """A JSON log line as "message key=value ..." (its most telling fields), else the raw line."""
    try:
        doc = json.loads(message)
    except ValueError:
        return message[:150]
    if not isinstance(doc, dict):
        return message[:150]
    parts = [str(doc.get("message", ""))]
    for key in ("records", "event_name", "keys", "sequence_number"):
        if key in doc:
            value = doc[key]
            parts.append(f"{key}={json.dumps(value) if not isinstance(value, str) else value}")
    return " ".join(parts)[:200]


def epoch(iso: Any) -> float:
    """Seconds since the epoch of an ISO-8601 timestamp ('...Z'); 0 when unreadable."""
    try:
        return datetime.fromisoformat(str(iso).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


class AuditReader:
    """Reads the audit log's objects once each and keeps their change lines."""

    def __init__(self, s3: Any, bucket: str, prefix: str = "audit-logs/") -> None:
        self.s3, self.bucket, self.prefix = s3, bucket, prefix
        self.seen: dict[str, list[dict[str, Any]]] = {}

    def refresh(self) -> None:
        for page in self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix
        ):
            for obj in page.get("Contents", []):
                key = obj["Key"]
                if key in self.seen:
                    continue
                body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
                if body[:2] == b"\x1f\x8b":
                    body = gzip.decompress(body)
                lines = []
                for line in body.decode("utf-8", "replace").splitlines():
                    if line.strip():
                        try:
                            lines.append(json.loads(line))
                        except ValueError:
                            lines.append({"raw": line})
                self.seen[key] = lines

    def matching(self, marker: str) -> dict[str, list[dict[str, Any]]]:
        """Objects (key -> lines) with lines mentioning ``marker``, one line per event id."""
        found: dict[str, list[dict[str, Any]]] = {}
        ids: set[str] = set()
        for key, lines in self.seen.items():
            for line in lines:
                if marker not in json.dumps(line.get("keys", line)):
                    continue
                ev = str(line.get("event_id") or line.get("sequence_number") or json.dumps(line))
                if ev in ids:
                    continue
                ids.add(ev)
                found.setdefault(key, []).append(line)
        return found


class Notifications:
    """An SQS queue subscribed to the stack's topic; keeps every notification it has read.

    :meth:`close` unsubscribes and deletes the queue, so nothing fills it after the demo."""

    def __init__(self, sqs: Any, sns: Any, topic_arn: str) -> None:
        self.sqs = sqs
        self.sns = sns
        self.url = sqs.create_queue(QueueName=NOTIFY_QUEUE)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self.subscription = sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn)[
            "SubscriptionArn"
        ]
        self.messages: list[dict[str, Any]] = []

    def drain(self) -> None:
        while True:
            got = self.sqs.receive_message(
                QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not got:
                return
            for m in got:
                try:
                    env = json.loads(m["Body"])
                except ValueError:
                    env = {"Message": m["Body"]}
                self.messages.append(env)
            self.sqs.delete_message_batch(
                QueueUrl=self.url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)
                ],
            )

    def matching(self, marker: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if marker in str(m.get("Message", ""))]

    def close(self) -> None:
        """Unsubscribe the queue from the topic and delete it."""
        self.sns.unsubscribe(SubscriptionArn=self.subscription)
        self.sqs.delete_queue(QueueUrl=self.url)


def processing_lines(logs: Any, group: str, since_ms: int, marker: str | None = None) -> list[str]:
    """Messages of the log group's events matching the seed's filter pattern 'Processing'."""
    out: list[str] = []
    kwargs: dict[str, Any] = {
        "logGroupName": group,
        "startTime": since_ms,
        "filterPattern": "Processing",
    }
    while True:
        resp = logs.filter_log_events(**kwargs)
        out += [e["message"] for e in resp.get("events", [])]
        if not resp.get("nextToken"):
            break
        kwargs["nextToken"] = resp["nextToken"]
    if marker is not None:
        out = [m for m in out if marker in m]
    return out


def dlq_record_for(
    sqs: Any, streams: Any, dlq_url: str, since: float, marker: str
) -> tuple[dict[str, Any], list[Any]] | None:
    """The DLQ message (its body) for the batch holding ``marker``, and the batch's keys.

    Look through the DLQ for the on-failure record of the batch holding ``marker``.

    Records from earlier runs may sit in the queue: those older than ``since`` are skipped
    without reading the stream; each message received stays hidden for a few seconds, so
    one pass sees the whole queue and the next ones mostly what arrived since."""
    for _ in range(100):  # at most 1,000 messages a pass
        msgs = sqs.receive_message(
            QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=10
        ).get("Messages", [])
        if not msgs:
            return None
        for m in msgs:
            try:
                body = json.loads(m["Body"])
            except ValueError:
                continue
            info = body.get("DDBStreamBatchInfo")
            if not info or epoch(body.get("timestamp")) < since - 2:
                continue
            keys = stream_keys(streams, info)
            if any(marker in json.dumps(k) for k in keys):
                return body, keys
    return None


def stream_keys(streams: Any, info: dict[str, Any]) -> list[Any]:
    """The keys of the stream records a DDBStreamBatchInfo points at (stream, shard, range)."""
    it = streams.get_shard_iterator(
        StreamArn=info["streamArn"],
        ShardId=info["shardId"],
        ShardIteratorType="AT_SEQUENCE_NUMBER",
        SequenceNumber=info["startSequenceNumber"],
    )["ShardIterator"]
    end = int(info["endSequenceNumber"])
    keys: list[Any] = []
    for _ in range(20):
        resp = streams.get_records(ShardIterator=it, Limit=100)
        for r in resp.get("Records", []):
            if int(r["dynamodb"]["SequenceNumber"]) > end:
                return keys
            keys.append(r["dynamodb"].get("Keys"))
        it = resp.get("NextShardIterator")
        if not it or not resp.get("Records"):
            break
    return keys
