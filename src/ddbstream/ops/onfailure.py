"""The on-failure record of a DynamoDB stream event source mapping: parsing, and where its
records are.

When a batch exhausts its retries (``RetryAttemptsExhausted``) or ages out
(``RecordAgeExceeded``), Lambda sends an *invocation record* to the mapping's on-failure
destination. Its format, as AWS documents it ("Retain discarded records for a DynamoDB event
source in Lambda", services-dynamodb-errors)::

    {"requestContext": {"requestId", "functionArn", "condition", "approximateInvokeCount"},
     "responseContext": {"statusCode", "executedVersion", "functionError"},
     "version": "1.0", "timestamp": "2019-11-14T00:13:49.717Z",
     "DDBStreamBatchInfo": {"shardId", "startSequenceNumber", "endSequenceNumber",
                            "approximateArrivalOfFirstRecord", "approximateArrivalOfLastRecord",
                            "batchSize", "streamArn"},
     "payload": "<the whole invocation event, as an escaped JSON string>"}   # S3 only

An SQS queue or SNS topic gets the metadata only; an S3 bucket also gets ``payload``, under the
key ``aws/lambda/<ESM-UUID>/<shardID>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<random UUID>``. Without
the payload the records must be read back from the stream (24-hour retention) by shard and
sequence-number range. ``responseContext.functionError`` is absent when the function was never
invoked (a record that aged out before its first invocation).

Pure functions over dicts and strings; no boto3.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

#: DynamoDB Streams keeps records for 24 hours, then trims them.
STREAM_RETENTION_SECONDS = 24 * 3600
#: Prefix of every on-failure object Lambda writes to an S3 destination.
S3_KEY_PREFIX = "aws/lambda/"


class NotAFailureRecord(ValueError):
    """A message or object that is not a DynamoDB stream on-failure record (the reason)."""


@dataclass(frozen=True, slots=True)
class BatchInfo:
    """``DDBStreamBatchInfo``: where the failed batch's records are in the stream."""

    shard_id: str
    start_sequence_number: str
    end_sequence_number: str
    first_arrival: str
    last_arrival: str
    batch_size: int
    stream_arn: str

    @property
    def table_name(self) -> str:
        """``arn:aws:dynamodb:REGION:ACCOUNT:table/NAME/stream/LABEL`` -> NAME."""
        return self.stream_arn.partition(":table/")[2].split("/", 1)[0]

    @property
    def region(self) -> str:
        parts = self.stream_arn.split(":")
        return parts[3] if len(parts) > 3 else ""

    def first_arrival_epoch(self) -> float | None:
        return parse_time(self.first_arrival)

    def last_arrival_epoch(self) -> float | None:
        return parse_time(self.last_arrival)


@dataclass(frozen=True, slots=True)
class FailureRecord:
    """One on-failure invocation record."""

    request_id: str
    function_arn: str
    condition: str
    approximate_invoke_count: int
    status_code: int | None
    executed_version: str | None
    function_error: str | None
    timestamp: str
    batch: BatchInfo
    #: the invocation event's records (S3 destination only), else None
    records: list[dict[str, Any]] | None = None

    @property
    def function_name(self) -> str:
        """``arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`` -> NAME."""
        parts = self.function_arn.split(":")
        return parts[6] if len(parts) > 6 else self.function_arn

    def to_json(self) -> dict[str, Any]:
        b = self.batch
        return {
            "table": b.table_name,
            "stream_arn": b.stream_arn,
            "shard_id": b.shard_id,
            "start_sequence_number": b.start_sequence_number,
            "end_sequence_number": b.end_sequence_number,
            "batch_size": b.batch_size,
            "condition": self.condition,
            "function_error": self.function_error,
            "function_arn": self.function_arn,
            "approximate_invoke_count": self.approximate_invoke_count,
            "request_id": self.request_id,
            "first_arrival": b.first_arrival,
            "last_arrival": b.last_arrival,
            "timestamp": self.timestamp,
            "records_in_payload": None if self.records is None else len(self.records),
        }


def parse_time(text: str) -> float | None:
    """``2019-11-14T00:13:19Z`` / ``2019-11-14T00:13:49.717Z`` -> epoch seconds (None if not)."""
    if not isinstance(text, str) or not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.timestamp()


def _require(doc: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = doc.get(key)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        name = _kind_name(kind)
        article = "an" if name[0] in "aeiou" else "a"
        raise NotAFailureRecord(f"{where}.{key} missing or not {article} {name}".lstrip("."))
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return "/".join(
        {"str": "string", "int": "number", "dict": "object"}.get(k.__name__, k.__name__)
        for k in kinds
    )


def parse_failure_record(body: str | bytes) -> FailureRecord:
    """Parse an on-failure record; raises :class:`NotAFailureRecord` saying why it is not one.

    Accepts the document itself and also the same document wrapped in an SNS notification
    (``{"Type": "Notification", "Message": "..."}``), as an SQS queue subscribed to an SNS
    on-failure topic receives it.
    """
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NotAFailureRecord("not UTF-8 text") from exc
    try:
        doc = json.loads(body)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise NotAFailureRecord(f"not JSON ({exc.__class__.__name__})") from exc
    if (
        isinstance(doc, dict)
        and doc.get("Type") == "Notification"
        and isinstance(doc.get("Message"), str)
    ):
        return parse_failure_record(doc["Message"])
    if not isinstance(doc, dict):
        raise NotAFailureRecord(f"a JSON {type(doc).__name__}, not an object")
    info = doc.get("DDBStreamBatchInfo")
    if info is not None and not isinstance(info, dict):
        raise NotAFailureRecord("DDBStreamBatchInfo is not an object")
    if not isinstance(info, dict):
        other = next((k for k in doc if k.endswith("BatchInfo")), None)
        if other:
            raise NotAFailureRecord(f"an on-failure record of another source ({other})")
        raise NotAFailureRecord("no DDBStreamBatchInfo (not a DynamoDB stream on-failure record)")
    req = _require(doc, "requestContext", dict, "")
    resp = doc.get("responseContext") if isinstance(doc.get("responseContext"), dict) else {}
    w = "DDBStreamBatchInfo"
    start = _require(info, "startSequenceNumber", str, w)
    end = _require(info, "endSequenceNumber", str, w)
    if not (start.isdigit() and end.isdigit()) or int(start) > int(end):
        raise NotAFailureRecord(f"bad sequence-number range {start!r}..{end!r}")
    stream_arn = _require(info, "streamArn", str, w)
    if ":dynamodb:" not in stream_arn or "/stream/" not in stream_arn:
        raise NotAFailureRecord(f"streamArn {stream_arn[:120]!r} is not a DynamoDB stream ARN")
    batch = BatchInfo(
        shard_id=_require(info, "shardId", str, w),
        start_sequence_number=start,
        end_sequence_number=end,
        first_arrival=str(info.get("approximateArrivalOfFirstRecord") or ""),
        last_arrival=str(info.get("approximateArrivalOfLastRecord") or ""),
        batch_size=_require(info, "batchSize", int, w),
        stream_arn=stream_arn,
    )
    if batch.batch_size < 1:
        raise NotAFailureRecord(f"{w}.batchSize {batch.batch_size} is not 1 or more")
    invokes = req.get("approximateInvokeCount", 0)
    if not isinstance(invokes, int) or isinstance(invokes, bool) or invokes < 0:
        raise NotAFailureRecord("requestContext.approximateInvokeCount is not a count")
    records = None
    if "payload" in doc:
        records = _payload_records(doc["payload"])
    return FailureRecord(
        request_id=str(req.get("requestId") or ""),
        function_arn=str(req.get("functionArn") or ""),
        condition=str(req.get("condition") or ""),
        approximate_invoke_count=invokes,
        status_code=resp.get("statusCode") if isinstance(resp.get("statusCode"), int) else None,
        executed_version=resp.get("executedVersion"),
        function_error=resp.get("functionError"),
        timestamp=str(doc.get("timestamp") or ""),
        batch=batch,
        records=records,
    )


def _payload_records(payload: Any) -> list[dict[str, Any]]:
    """The records of the S3 payload: the invocation event as a JSON string (AWS documents it
    as an escaped JSON string; an object is accepted too)."""
    event = payload
    if isinstance(payload, str):
        try:
            event = json.loads(payload)
        except json.JSONDecodeError as exc:
            raise NotAFailureRecord("payload is not the invocation event's JSON") from exc
    recs = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(recs, list) or not all(isinstance(r, dict) for r in recs):
        raise NotAFailureRecord("payload has no Records list")
    return recs


def readable_until(record: FailureRecord) -> float | None:
    """When the stream trims the batch's first record (epoch seconds; None if unknown)."""
    first = record.batch.first_arrival_epoch()
    return None if first is None else first + STREAM_RETENTION_SECONDS
