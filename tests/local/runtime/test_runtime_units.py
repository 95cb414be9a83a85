"""Unit tests of the runtime's plain-Python core: filters, batch state machine, formats."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from ddbstream.local.runtime.batching import (
    Backoff,
    InvokeOutcome,
    MappingSettings,
    Segment,
    ShardProgress,
    decide,
    expired,
    partial_failure_index,
)
from ddbstream.local.runtime.checkpoints import CheckpointStore, ShardCheckpoint
from ddbstream.local.runtime.events import (
    PAYLOAD_LIMIT_BYTES,
    Discard,
    ResponseContext,
    StreamRecord,
    failure_record,
    lambda_record,
    stream_record,
    take_batch,
)
from ddbstream.local.runtime.filtering import FilterPatternError, matches, parse_patterns
from ddbstream.local.runtime.runner import Lane

STREAM = "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2024-01-01T00:00:00.000"


def rec(seq: int, created: float = 1_700_000_000, size: int = 100) -> StreamRecord:
    return StreamRecord(
        seq=str(seq), record={"seq": seq}, size=size, created=created, partition_key=str(seq)
    )


def seqs(records: list[StreamRecord]) -> list[int]:
    return [r.seq_int for r in records]


# -- filtering ---------------------------------------------------------------------------
EVENT = {
    "eventName": "INSERT",
    "dynamodb": {
        "Keys": {"pk": {"S": "order#1"}},
        "NewImage": {
            "pk": {"S": "order#1"},
            "status": {"S": "PAID"},
            "amount": {"N": "42"},
            "tags": {"L": [{"S": "a"}, {"S": "b"}]},
            "gone": {"NULL": True},
            "note": {"S": ""},
            "star": {"S": "a*b"},
        },
        "SizeBytes": 120,
    },
    "nothing": None,
}


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ({"eventName": ["INSERT"]}, True),
        ({"eventName": ["MODIFY", "REMOVE"]}, False),
        ({"dynamodb": {"NewImage": {"status": {"S": ["PAID"]}}}}, True),
        ({"dynamodb": {"NewImage": {"status": {"S": ["paid"]}}}}, False),
        ({"dynamodb": {"NewImage": {"status": {"S": [{"equals-ignore-case": "paid"}]}}}}, True),
        ({"dynamodb": {"Keys": {"pk": {"S": [{"prefix": "order#"}]}}}}, True),
        ({"dynamodb": {"Keys": {"pk": {"S": [{"prefix": "user#"}]}}}}, False),
        ({"dynamodb": {"Keys": {"pk": {"S": [{"suffix": "#1"}]}}}}, True),
        ({"dynamodb": {"Keys": {"pk": {"S": [{"wildcard": "ord*#1"}]}}}}, True),
        ({"eventName": [{"anything-but": ["REMOVE"]}]}, True),
        ({"eventName": [{"anything-but": "INSERT"}]}, False),
        ({"eventName": [{"anything-but": {"prefix": "INS"}}]}, False),
        ({"dynamodb": {"SizeBytes": [{"numeric": [">", 100, "<=", 200]}]}}, True),
        ({"dynamodb": {"SizeBytes": [{"numeric": ["<", 100]}]}}, False),
        ({"dynamodb": {"SizeBytes": [120]}}, True),
        ({"dynamodb": {"SizeBytes": [120.0]}}, False),  # numbers compare by their JSON text
        # a DynamoDB N value is a string in the record: numeric rules do not match it
        ({"dynamodb": {"NewImage": {"amount": {"N": [{"numeric": [">", 1]}]}}}}, False),
        ({"dynamodb": {"NewImage": {"amount": {"N": ["42"]}}}}, True),
        # exists works on leaf nodes only: a DynamoDB attribute ({"S": ...}) is not a leaf
        ({"dynamodb": {"NewImage": {"status": [{"exists": True}]}}}, False),
        ({"dynamodb": {"NewImage": {"status": [{"exists": False}]}}}, True),
        ({"dynamodb": {"NewImage": {"status": {"S": [{"exists": True}]}}}}, True),
        ({"dynamodb": {"NewImage": {"status": {"N": [{"exists": True}]}}}}, False),
        ({"dynamodb": {"NewImage": [{"exists": True}]}}, False),
        # every rule sees leaves only: an object is neither equal nor "anything but" a value
        ({"dynamodb": {"NewImage": {"status": [{"anything-but": "PAID"}]}}}, False),
        ({"dynamodb": {"NewImage": {"status": {"S": [{"anything-but": "PAID"}]}}}}, False),
        ({"dynamodb": {"NewImage": {"status": {"S": [{"anything-but": ["X", "Y"]}]}}}}, True),
        ({"dynamodb": {"NewImage": {"nope": {"S": [{"anything-but": "PAID"}]}}}}, False),
        # arrays: each element on its own ("b" is anything but "a")
        ({"dynamodb": {"NewImage": {"tags": {"L": {"S": [{"anything-but": "a"}]}}}}}, True),
        ({"dynamodb": {"NewImage": {"tags": {"L": {"S": [{"anything-but": ["a", "b"]}]}}}}}, False),
        ({"dynamodb": {"NewImage": {"tags": {"L": {"S": [{"prefix": "b"}]}}}}}, True),
        ({"dynamodb": {"NewImage": {"tags": {"L": {"S": [{"exists": True}]}}}}}, True),
        # prefix / suffix / equals-ignore-case / wildcard: strings only
        ({"dynamodb": {"SizeBytes": [{"prefix": "12"}]}}, False),
        ({"dynamodb": {"NewImage": {"amount": {"N": [{"prefix": "4"}]}}}}, True),
        (
            {"dynamodb": {"Keys": {"pk": {"S": [{"suffix": {"equals-ignore-case": "DER#1"}}]}}}},
            True,
        ),
        (
            {"dynamodb": {"Keys": {"pk": {"S": [{"prefix": {"equals-ignore-case": "ORDER"}}]}}}},
            True,
        ),
        ({"dynamodb": {"Keys": {"pk": {"S": [{"wildcard": "*#*"}]}}}}, True),
        ({"dynamodb": {"Keys": {"pk": {"S": [{"wildcard": "order\\*1"}]}}}}, False),
        ({"dynamodb": {"NewImage": {"star": {"S": [{"wildcard": "a\\*b"}]}}}}, True),
        ({"dynamodb": {"NewImage": {"star": {"S": [{"wildcard": "a*b"}]}}}}, True),
        ({"eventName": [{"anything-but": {"wildcard": "MOD*"}}]}, True),
        ({"eventName": [{"anything-but": {"equals-ignore-case": ["insert"]}}]}, False),
        ({"eventName": [{"anything-but": {"suffix": "ERT"}}]}, False),
        # null and empty values
        ({"dynamodb": {"NewImage": {"gone": {"NULL": [True]}}}}, True),
        ({"dynamodb": {"NewImage": {"note": {"S": [""]}}}}, True),
        ({"dynamodb": {"NewImage": {"status": {"S": [""]}}}}, False),
        ({"nothing": [None]}, True),
        ({"eventName": [None]}, False),
        ({"$or": [{"eventName": ["REMOVE"]}, {"dynamodb": {"Keys": {"pk": {"S": ["x"]}}}}]}, False),
        ({"dynamodb": {"NewImage": {"missing": [{"exists": True}]}}}, False),
        ({"dynamodb": {"NewImage": {"missing": [{"exists": False}]}}}, True),
        ({"dynamodb": {"OldImage": {"status": {"S": [{"exists": False}]}}}}, True),
        ({"dynamodb": {"NewImage": {"tags": {"L": {"S": ["b"]}}}}}, True),
        ({"eventName": ["INSERT"], "dynamodb": {"NewImage": {"status": {"S": ["X"]}}}}, False),
        ({"$or": [{"eventName": ["REMOVE"]}, {"dynamodb": {"SizeBytes": [120]}}]}, True),
    ],
)
def test_filter_operators_on_a_dynamodb_record(pattern, expected):
    assert matches(pattern, EVENT) is expected


def test_filter_criteria_parsing():
    crit = {"Filters": [{"Pattern": json.dumps({"eventName": ["INSERT"]})}]}
    assert parse_patterns(crit) == [{"eventName": ["INSERT"]}]
    assert parse_patterns(None) == [] and parse_patterns({}) == []
    with pytest.raises(FilterPatternError):
        parse_patterns({"Filters": [{"Pattern": "{not json"}]})


@pytest.mark.parametrize(
    "pattern",
    [
        {"a": [{"numeric": [">"]}]},
        {"a": [{"numeric": ["~", 1]}]},
        {"a": [{"no-such-operator": 1}]},
        {"a": []},
        {"a": "x"},
        {"$or": [{"a": ["x"]}]},
        {"a": [{"wildcard": "a**b"}]},
        {"a": [{"wildcard": "a\\b"}]},
        {"a": [{"prefix": 1}]},
        {"a": [{"suffix": ["x"]}]},
        {"a": [{"equals-ignore-case": 5}]},
        {"a": [{"exists": "yes"}]},
        {"a": [{"anything-but": ["x", 1]}]},
        {"a": [{"anything-but": []}]},
        {"a": [{"anything-but": {"numeric": [">", 1]}}]},
    ],
)
def test_invalid_filter_patterns_are_refused(pattern):
    with pytest.raises(FilterPatternError):
        parse_patterns({"Filters": [{"Pattern": json.dumps(pattern)}]})


# -- event format ------------------------------------------------------------------------
def test_lambda_record_format():
    raw = {
        "eventID": "e1",
        "eventName": "MODIFY",
        "eventVersion": "1.0",
        "awsRegion": "us-east-1",
        "eventSource": "aws:dynamodb",
        "dynamodb": {
            "ApproximateCreationDateTime": dt.datetime(2024, 1, 1, 0, 0, 5, 700000, dt.UTC),
            "Keys": {"pk": {"S": "a"}},
            "NewImage": {"pk": {"S": "a"}, "b": {"B": b"\x00\x01"}, "bs": {"BS": [b"\x02"]}},
            "OldImage": {"pk": {"S": "a"}},
            "SequenceNumber": "100",
            "SizeBytes": 10,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
        "userIdentity": {"Type": "Service", "PrincipalId": "dynamodb.amazonaws.com"},
    }
    r = lambda_record(raw, STREAM, "eu-west-1")
    assert list(r) == [
        "eventID",
        "eventName",
        "eventVersion",
        "eventSource",
        "awsRegion",
        "dynamodb",
        "eventSourceARN",
        "userIdentity",
    ]
    assert r["eventVersion"] == "1.1" and r["awsRegion"] == "eu-west-1"
    assert r["eventSourceARN"] == STREAM
    assert r["dynamodb"]["ApproximateCreationDateTime"] == 1704067205.0
    assert r["dynamodb"]["NewImage"]["b"] == {"B": "AAE="}
    assert r["dynamodb"]["NewImage"]["bs"] == {"BS": ["Ag=="]}
    assert r["userIdentity"] == {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    json.dumps(r)  # JSON-serialisable as sent
    sr = stream_record(raw, STREAM, "us-east-1", "pk")
    assert sr.partition_key == json.dumps({"S": "a"}) and sr.created == 1704067205


def test_take_batch_respects_size_and_payload():
    records = [rec(i, size=1_000_000) for i in range(10)]
    assert take_batch(records, 100) == 6  # 6 x 1 MB fits in 6 MB, 7 does not
    assert take_batch(records, 3) == 3
    assert take_batch([rec(1, size=PAYLOAD_LIMIT_BYTES * 2)], 10) == 1  # never empty
    assert take_batch([], 10) == 0


def test_failure_record_format():
    d = Discard(
        records=[rec(800, created=1573690399), rec(801, created=1573690400)],
        condition="RetryAttemptsExhausted",
        invoke_count=3,
        response=ResponseContext(200, "$LATEST", "Unhandled"),
    )
    doc = failure_record(
        d,
        request_id="r-1",
        function_arn="arn:aws:lambda:us-east-1:123456789012:function:f",
        stream_arn=STREAM,
        shard_id="shardId-1",
        now=1573690429.717,
    )
    assert doc == {
        "requestContext": {
            "requestId": "r-1",
            "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:f",
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": 3,
        },
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled",
        },
        "version": "1.0",
        "timestamp": "2019-11-14T00:13:49.717Z",
        "DDBStreamBatchInfo": {
            "shardId": "shardId-1",
            "startSequenceNumber": "800",
            "endSequenceNumber": "801",
            "approximateArrivalOfFirstRecord": "2019-11-14T00:13:19Z",
            "approximateArrivalOfLastRecord": "2019-11-14T00:13:20Z",
            "batchSize": 2,
            "streamArn": STREAM,
        },
    }


# -- the batch state machine ---------------------------------------------------------------
RBIF = MappingSettings(report_batch_item_failures=True)
ERROR = InvokeOutcome(error={"errorType": "Exception", "errorMessage": "boom"})


@pytest.mark.parametrize(
    "payload", [None, {}, {"batchItemFailures": []}, {"batchItemFailures": None}]
)
def test_partial_response_success_conditions(payload):
    records = [rec(1), rec(2)]
    assert partial_failure_index(payload, records) is None
    d = decide(Segment(records, invokes=1), InvokeOutcome(payload=payload), RBIF)
    assert seqs(d.succeeded) == [1, 2] and not d.retry and not d.discarded


@pytest.mark.parametrize(
    "payload",
    [
        {"batchItemFailures": [{"itemIdentifier": ""}]},
        {"batchItemFailures": [{"itemIdentifier": None}]},
        {"batchItemFailures": [{"itemIdentifer": "2"}]},  # wrong key name
        {"batchItemFailures": [{"itemIdentifier": "999"}]},  # not in the batch
        {"batchItemFailures": [{"itemIdentifier": "2"}, {"itemIdentifier": ""}]},
    ],
)
def test_partial_response_failure_conditions(payload):
    records = [rec(1), rec(2), rec(3)]
    assert partial_failure_index(payload, records) == 0
    d = decide(Segment(records, invokes=1), InvokeOutcome(payload=payload), RBIF)
    assert not d.succeeded and seqs(d.retry[0].records) == [1, 2, 3]
    assert d.retry[0].retries == 1


def test_partial_response_lowest_identifier_is_the_checkpoint():
    records = [rec(1), rec(2), rec(3), rec(4)]
    payload = {"batchItemFailures": [{"itemIdentifier": "4"}, {"itemIdentifier": "2"}]}
    d = decide(Segment(records, invokes=1), InvokeOutcome(payload=payload), RBIF)
    assert seqs(d.succeeded) == [1]
    assert seqs(d.retry[0].records) == [2, 3, 4] and d.retry[0].retries == 1


def test_partial_response_ignored_without_report_batch_item_failures():
    payload = {"batchItemFailures": [{"itemIdentifier": "1"}]}
    d = decide(Segment([rec(1)], invokes=1), InvokeOutcome(payload=payload), MappingSettings())
    assert seqs(d.succeeded) == [1]


def test_retries_then_discard():
    s = MappingSettings(max_retries=2)
    seg = Segment([rec(1), rec(2)])
    for attempt in range(3):
        seg.invokes += 1
        d = decide(seg, ERROR, s)
        if attempt < 2:
            (seg,) = d.retry
            assert seg.retries == attempt + 1
    assert not d.retry
    (gone,) = d.discarded
    assert gone.condition == "RetryAttemptsExhausted" and gone.invoke_count == 3
    assert gone.response is not None and gone.response.function_error == "Unhandled"


def test_bisect_splits_without_using_retries():
    s = MappingSettings(max_retries=0, bisect_on_error=True)
    d = decide(Segment([rec(i) for i in range(1, 6)], invokes=1), ERROR, s)
    assert [seqs(x.records) for x in d.retry] == [[1, 2, 3], [4, 5]]
    assert all(x.retries == 0 for x in d.retry)
    single = decide(Segment([rec(3)], invokes=1), ERROR, s)
    assert single.discarded and seqs(single.discarded[0].records) == [3]


def test_bisect_with_partial_response_splits_at_the_reported_record():
    s = MappingSettings(max_retries=0, bisect_on_error=True, report_batch_item_failures=True)
    payload = {"batchItemFailures": [{"itemIdentifier": "3"}]}
    d = decide(Segment([rec(i) for i in range(1, 6)], invokes=1), InvokeOutcome(payload=payload), s)
    assert seqs(d.succeeded) == [1, 2]
    assert [seqs(x.records) for x in d.retry] == [[3, 4, 5]] and d.retry[0].retries == 0


def test_record_age():
    s = MappingSettings(max_record_age=60)
    seg = Segment([rec(1, created=1000), rec(2, created=1050), rec(3, created=1100)])
    gone, rest = expired(seg, s, now=1105)
    assert gone is not None and gone.condition == "RecordAgeExceeded"
    assert seqs(gone.records) == [1] and seqs(rest.records) == [2, 3]
    assert expired(seg, MappingSettings(), now=10**9)[0] is None


def test_settings_from_mapping():
    s = MappingSettings.from_mapping(
        {
            "BatchSize": 20000,
            "MaximumBatchingWindowInSeconds": 2,
            "MaximumRetryAttempts": 3,
            "ParallelizationFactor": 4,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "BisectBatchOnFunctionError": True,
        }
    )
    assert (s.batch_size, s.batching_window, s.max_retries, s.max_record_age) == (10000, 2, 3, -1)
    assert s.parallelization_factor == 4 and s.report_batch_item_failures and s.bisect_on_error


# -- checkpoints -------------------------------------------------------------------------
def test_shard_progress_out_of_order():
    p = ShardProgress()
    for s in ("10", "11", "12", "13"):
        p.register(s)
    assert not p.mark_done(["12"]) and p.checkpoint is None
    assert p.mark_done(["10"]) and p.checkpoint == "10"
    assert p.done_after == ["12"]
    assert p.backlog == 3  # 11 and 13 open, 12 done out of order
    assert p.mark_done(["11"]) and p.checkpoint == "12" and p.done_after == []
    assert p.in_progress == 1 and p.backlog == 1


def test_shard_progress_resume_skips_done_records():
    p = ShardProgress("10", ["12"])
    p.register("11")
    assert not p.already_done("11")
    p.register("12")
    assert p.already_done("12")
    p.mark_done(["12"])
    assert p.checkpoint == "10"  # 11 still open
    p.mark_done(["11"])
    assert p.checkpoint == "12"


def test_checkpoint_store_roundtrip(tmp_path):
    store = CheckpointStore(tmp_path)
    store.put("u", STREAM, "s1", ShardCheckpoint("5", ["7"], True))
    again = CheckpointStore(tmp_path).get("u", STREAM, "s1")
    assert again == ShardCheckpoint("5", ["7"], True)
    assert CheckpointStore(tmp_path).get("u", STREAM, "other") == ShardCheckpoint()
    assert not list(tmp_path.glob(".checkpoints.*"))  # no temporary file left behind
    store.forget("u")
    assert CheckpointStore(tmp_path).mapping_ids() == []


def test_retry_backoff_schedule_doubles_from_one_second_to_a_minute():
    assert [Backoff().delay(n) for n in range(0, 9)] == [0, 1, 2, 4, 8, 16, 32, 60, 60]
    assert sum(Backoff().delay(n) for n in range(1, 7)) == 63  # six retries ride out a minute
    assert Backoff(0.02, 0.2).delay(3) == pytest.approx(0.08)
    assert Backoff(0.0, 0.0).delay(5) == 0  # base 0: immediate retries (not the default)


def test_lane_window_counts_from_when_the_head_record_was_read():
    # the next batch's window starts when its first record was read, page by page
    lane = Lane(None, 0)  # type: ignore[arg-type]  # add/_take touch no shard
    for s in (1, 2, 3):
        lane.add(rec(s), read_at=10.0)
    for s in (4, 5):
        lane.add(rec(s), read_at=11.5)
    assert lane.gathering_since() == 10.0
    assert seqs(lane._take(2)) == [1, 2]
    assert lane.gathering_since() == 10.0  # record 3 came with the first page
    assert seqs(lane._take(2)) == [3, 4]
    assert lane.gathering_since() == 11.5
    assert seqs(lane._take(1)) == [5]
    assert not lane.pending and not lane._read_at
    lane.add(rec(6), read_at=20.0)  # an idle lane: the window starts afresh
    assert lane.gathering_since() == 20.0
