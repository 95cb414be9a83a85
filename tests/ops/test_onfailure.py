"""The on-failure invocation record of a DynamoDB stream mapping, as AWS documents it
(Lambda developer guide, "Retain discarded records for a DynamoDB event source in Lambda")."""

from __future__ import annotations

import json

import pytest

from ddbstream.ops.onfailure import (
    STREAM_RETENTION_SECONDS,
    NotAFailureRecord,
    parse_failure_record,
    parse_time,
    readable_until,
)

# AWS's example for an SQS or SNS destination, field for field.
AWS_EXAMPLE = {
    "requestContext": {
        "requestId": "316aa6d0-8154-xmpl-9af7-85d5f4a6bc81",
        "functionArn": "arn:aws:lambda:us-east-2:123456789012:function:myfunction",
        "condition": "RetryAttemptsExhausted",
        "approximateInvokeCount": 1,
    },
    "responseContext": {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    },
    "version": "1.0",
    "timestamp": "2019-11-14T00:13:49.717Z",
    "DDBStreamBatchInfo": {
        "shardId": "shardId-00000001573689847184-864758bb",
        "startSequenceNumber": "800000000003126276362",
        "endSequenceNumber": "800000000003126276362",
        "approximateArrivalOfFirstRecord": "2019-11-14T00:13:19Z",
        "approximateArrivalOfLastRecord": "2019-11-14T00:13:19Z",
        "batchSize": 1,
        "streamArn": "arn:aws:dynamodb:us-east-2:123456789012:table/mytable/stream/"
        "2019-11-14T00:04:06.388",
    },
}


def test_the_documented_sqs_record_parses_field_for_field() -> None:
    r = parse_failure_record(json.dumps(AWS_EXAMPLE))
    assert r.condition == "RetryAttemptsExhausted"
    assert r.function_error == "Unhandled"
    assert r.function_name == "myfunction"
    assert r.approximate_invoke_count == 1
    b = r.batch
    assert (b.shard_id, b.start_sequence_number, b.end_sequence_number, b.batch_size) == (
        "shardId-00000001573689847184-864758bb",
        "800000000003126276362",
        "800000000003126276362",
        1,
    )
    assert b.table_name == "mytable"
    assert b.region == "us-east-2"
    assert r.records is None  # SQS/SNS: metadata only
    assert readable_until(r) == parse_time("2019-11-14T00:13:19Z") + STREAM_RETENTION_SECONDS


def test_the_s3_record_carries_the_invocation_event_as_an_escaped_json_string() -> None:
    event = {"Records": [{"eventID": "e1", "dynamodb": {"SequenceNumber": "1"}}]}
    doc = AWS_EXAMPLE | {"payload": json.dumps(event)}
    r = parse_failure_record(json.dumps(doc).encode())
    assert r.records == event["Records"]
    assert r.to_json()["records_in_payload"] == 1


def test_a_record_never_invoked_has_no_function_error() -> None:
    doc = json.loads(json.dumps(AWS_EXAMPLE))
    doc["requestContext"]["condition"] = "RecordAgeExceeded"
    del doc["responseContext"]["functionError"]
    r = parse_failure_record(json.dumps(doc))
    assert (r.condition, r.function_error) == ("RecordAgeExceeded", None)


def test_an_sns_notification_wrapping_the_record_is_unwrapped() -> None:
    wrapped = {"Type": "Notification", "MessageId": "m", "Message": json.dumps(AWS_EXAMPLE)}
    assert parse_failure_record(json.dumps(wrapped)).batch.batch_size == 1


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("hello", "not JSON"),
        ("[1, 2]", "a JSON list, not an object"),
        ('{"Records": []}', "no DDBStreamBatchInfo"),
        (json.dumps({"KinesisBatchInfo": {}, "requestContext": {}}), "another source"),
        (
            json.dumps(AWS_EXAMPLE | {"DDBStreamBatchInfo": {"shardId": "s"}}),
            "startSequenceNumber missing",
        ),
        (
            json.dumps(
                AWS_EXAMPLE
                | {
                    "DDBStreamBatchInfo": AWS_EXAMPLE["DDBStreamBatchInfo"]
                    | {"startSequenceNumber": "9", "endSequenceNumber": "1"}
                }
            ),
            "bad sequence-number range",
        ),
        (
            json.dumps(
                AWS_EXAMPLE
                | {"DDBStreamBatchInfo": AWS_EXAMPLE["DDBStreamBatchInfo"] | {"batchSize": True}}
            ),
            "batchSize missing or not a number",
        ),
        (json.dumps(AWS_EXAMPLE | {"payload": "{not json"}), "payload is not"),
        (
            json.dumps(AWS_EXAMPLE | {"DDBStreamBatchInfo": "x"}),
            "^DDBStreamBatchInfo is not an obj",
        ),
        (json.dumps({"DDBStreamBatchInfo": {}}), "^requestContext missing or not an object$"),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_anything_else_is_not_an_on_failure_record_and_says_why(
    body: str | bytes, reason: str
) -> None:
    with pytest.raises(NotAFailureRecord, match=reason):
        parse_failure_record(body)


def test_s3_key_follows_the_documented_naming_convention() -> None:
    # aws/lambda/<ESM-UUID>/<shardID>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<Random UUID>
    from ddbstream.local.runtime.events import failure_object_key

    key = failure_object_key(
        "esm-1", "shardId-1", parse_time("2019-11-14T00:13:49.717Z") or 0, "r-1"
    )
    assert key == "aws/lambda/esm-1/shardId-1/2019/11/14/2019-11-14T00.13.49-r-1"


def _paths(doc: dict, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    for k, v in doc.items():
        out.append((*prefix, k))
        if isinstance(v, dict):
            out.extend(_paths(v, (*prefix, k)))
    return out


@pytest.mark.parametrize("path", _paths(AWS_EXAMPLE), ids="/".join)
@pytest.mark.parametrize("value", ["x", -1, 1.5, None, [], {}, True], ids=repr)
def test_any_field_of_another_shape_is_a_foreign_message_never_a_crash(
    path: tuple[str, ...], value: object
) -> None:
    """A DLQ may hold anything (a message sent by hand, another producer's): whatever shape a
    field has, the parser either reads the record or says why it is not one (found: a string
    approximateInvokeCount raised ValueError, a traceback in `dlq list`)."""
    doc = json.loads(json.dumps(AWS_EXAMPLE))
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    try:
        r = parse_failure_record(json.dumps(doc))
    except NotAFailureRecord:
        return
    json.dumps(r.to_json())  # what `dlq list --json` prints
    assert isinstance(r.approximate_invoke_count, int)
    assert r.batch.batch_size >= 1
