"""Stream records as Lambda sends them, and the on-failure invocation record.

Wire formats live here, as plain functions over dicts, so a unit test can call them:

- :func:`lambda_record` turns a record returned by DynamoDB Streams ``GetRecords`` (as boto3
  parses it) into the record Lambda puts in ``event["Records"]``: ``eventVersion`` ``"1.1"``,
  ``eventSourceARN`` = the stream ARN, ``ApproximateCreationDateTime`` as epoch seconds (a
  number, rounded down to the second as DynamoDB Streams does, e.g. ``1693997155.0``), binary
  attributes as base64 text, ``userIdentity`` (TTL deletions) with Lambda's key names
  ``type`` / ``principalId`` rather than the API's ``Type`` / ``PrincipalId``.
- :func:`failure_record` builds the JSON document Lambda sends to an on-failure destination
  of a DynamoDB event source mapping: ``requestContext``, ``responseContext``, ``version``
  ``"1.0"``, ``timestamp``, ``DDBStreamBatchInfo``. As on AWS, an SQS queue or SNS topic gets
  the batch's metadata only; an S3 bucket also gets ``payload``, the whole invocation event as
  an escaped JSON string, in an object named by :func:`failure_object_key`
  (``aws/lambda/<ESM-UUID>/<shardID>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<Random UUID>``), as AWS
  documents for DynamoDB stream sources (services-dynamodb-errors).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

#: Lambda's payload limit for a synchronous invocation (the event sent to the function).
PAYLOAD_LIMIT_BYTES = 6 * 1024 * 1024
#: ``{"Records":[`` + ``]}``
_ENVELOPE_BYTES = len('{"Records":[]}')

RETRY_ATTEMPTS_EXHAUSTED = "RetryAttemptsExhausted"
RECORD_AGE_EXCEEDED = "RecordAgeExceeded"


@dataclass
class StreamRecord:
    """One record read from a shard: the Lambda-format record plus what the runtime needs."""

    seq: str
    record: dict[str, Any]
    size: int  # bytes of the record's JSON in the event
    created: float  # ApproximateCreationDateTime, epoch seconds
    partition_key: str  # JSON of the partition key attribute value; chooses the lane

    @property
    def seq_int(self) -> int:
        return int(self.seq)


def _epoch(value: Any) -> float:
    if isinstance(value, dt.datetime):
        return value.timestamp()
    return float(value)


def _wire_attr(value: Any) -> Any:
    """An AttributeValue as JSON: boto3 hands binary back as bytes, Lambda sends base64."""
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dict):
        return {k: _wire_attr(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_wire_attr(v) for v in value]
    if isinstance(value, set):
        return [_wire_attr(v) for v in sorted(value)]
    return value


def lambda_record(raw: dict[str, Any], stream_arn: str, region: str) -> dict[str, Any]:
    """The Lambda event record for one ``GetRecords`` record (key order as Lambda sends it)."""
    src = raw.get("dynamodb", {})
    ddb: dict[str, Any] = {}
    if "ApproximateCreationDateTime" in src:
        # whole seconds, sent as a JSON number with a fraction (1693997155.0), as in the
        # DynamoDB stream events Lambda delivers today
        ddb["ApproximateCreationDateTime"] = float(
            math.floor(_epoch(src["ApproximateCreationDateTime"]))
        )
    for key in ("Keys", "NewImage", "OldImage"):
        if key in src:
            ddb[key] = _wire_attr(src[key])
    for key in ("SequenceNumber", "SizeBytes", "StreamViewType"):
        if key in src:
            ddb[key] = src[key]
    rec: dict[str, Any] = {
        "eventID": raw.get("eventID"),
        "eventName": raw.get("eventName"),
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": ddb,
        "eventSourceARN": stream_arn,
    }
    identity = raw.get("userIdentity")
    if identity:
        # GetRecords says {"PrincipalId", "Type"}; Lambda's event says {"type", "principalId"}
        # (for a TTL deletion: {"type": "Service", "principalId": "dynamodb.amazonaws.com"})
        rec["userIdentity"] = {
            _IDENTITY_KEYS.get(k, k[:1].lower() + k[1:]): v for k, v in dict(identity).items()
        }
    return rec


_IDENTITY_KEYS = {"Type": "type", "PrincipalId": "principalId"}


def record_size(record: dict[str, Any]) -> int:
    """Bytes this record adds to the event's JSON (with its separating comma)."""
    return len(json.dumps(record, separators=(",", ":")).encode("utf-8")) + 1


def stream_record(
    raw: dict[str, Any], stream_arn: str, region: str, hash_key: str | None
) -> StreamRecord:
    rec = lambda_record(raw, stream_arn, region)
    ddb = rec["dynamodb"]
    keys = ddb.get("Keys", {})
    pk_value = keys.get(hash_key) if hash_key else None
    if pk_value is None:
        pk_value = keys
    return StreamRecord(
        seq=str(ddb["SequenceNumber"]),
        record=rec,
        size=record_size(rec),
        created=ddb.get("ApproximateCreationDateTime", 0.0),  # whole seconds, as in the event
        partition_key=json.dumps(pk_value, sort_keys=True),
    )


def event_payload(records: Sequence[StreamRecord]) -> dict[str, Any]:
    return {"Records": [r.record for r in records]}


def take_batch(
    records: Sequence[StreamRecord], batch_size: int, payload_limit: int = PAYLOAD_LIMIT_BYTES
) -> int:
    """How many records from the head of ``records`` form the next batch.

    At most ``batch_size`` records and at most ``payload_limit`` bytes of event; always at
    least one record when there is one (a single DynamoDB item is at most 400 KB).
    """
    total = _ENVELOPE_BYTES
    n = 0
    for r in records:
        if n >= batch_size:
            break
        if n > 0 and total + r.size > payload_limit:
            break
        total += r.size
        n += 1
    return n


def iso_ms(ts: float) -> str:
    """``2019-11-14T00:13:49.717Z``"""
    d = dt.datetime.fromtimestamp(ts, tz=dt.UTC)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z"


def iso_s(ts: float) -> str:
    """``2019-11-14T00:13:19Z``"""
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class ResponseContext:
    """What Lambda puts in ``responseContext`` of an on-failure record."""

    status_code: int = 200
    executed_version: str = "$LATEST"
    function_error: str | None = None
    #: the invocation's request id (``requestContext.requestId`` of the on-failure record)
    request_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "statusCode": self.status_code,
            "executedVersion": self.executed_version,
        }
        if self.function_error:
            out["functionError"] = self.function_error
        return out


@dataclass
class Discard:
    """Records given up on, and why; becomes one on-failure record."""

    records: list[StreamRecord]
    condition: str
    invoke_count: int
    response: ResponseContext | None = field(default=None)


def failure_record(
    discard: Discard,
    *,
    request_id: str,
    function_arn: str,
    stream_arn: str,
    shard_id: str,
    now: float,
) -> dict[str, Any]:
    """The on-failure destination document for a DynamoDB stream batch, as Lambda sends it."""
    recs = discard.records
    response = discard.response or ResponseContext()
    return {
        "requestContext": {
            "requestId": request_id,
            "functionArn": function_arn,
            "condition": discard.condition,
            "approximateInvokeCount": discard.invoke_count,
        },
        "responseContext": response.to_json(),
        "version": "1.0",
        "timestamp": iso_ms(now),
        "DDBStreamBatchInfo": {
            "shardId": shard_id,
            "startSequenceNumber": recs[0].seq,
            "endSequenceNumber": recs[-1].seq,
            "approximateArrivalOfFirstRecord": iso_s(recs[0].created),
            "approximateArrivalOfLastRecord": iso_s(recs[-1].created),
            "batchSize": len(recs),
            "streamArn": stream_arn,
        },
    }


def with_payload(document: dict[str, Any], records: Sequence[StreamRecord]) -> dict[str, Any]:
    """The S3 form of an on-failure record: ``payload`` holds the invocation event as JSON text."""
    return document | {"payload": json.dumps(event_payload(records), separators=(",", ":"))}


def failure_object_key(mapping_uuid: str, shard_id: str, now: float, random_uuid: str) -> str:
    """``aws/lambda/<ESM-UUID>/<shardID>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<Random UUID>`` (UTC)."""
    t = dt.datetime.fromtimestamp(now, tz=dt.UTC)
    return f"aws/lambda/{mapping_uuid}/{shard_id}/{t:%Y/%m/%d}/{t:%Y-%m-%dT%H.%M.%S}-{random_uuid}"
