"""Conformance: function errors and timeouts, retries, partial batch responses, bisection,
record age, on-failure destinations."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
import time

import pytest

# Fails (raises) while any record's key is listed in FAIL_KEYS; records every call.
FAIL_ON_KEYS = """
import os
def handler(event, context):
    record(event)
    bad = set(os.environ.get("FAIL_KEYS", "").split(","))
    for r in event["Records"]:
        if r["dynamodb"]["Keys"]["pk"]["S"] in bad:
            raise ValueError("cannot process " + r["dynamodb"]["Keys"]["pk"]["S"])
"""

# Fails the first FAIL_TIMES calls, then succeeds.
FAIL_N_TIMES = """
import os
def handler(event, context):
    record(event)
    if len(open(os.environ["RECORD_FILE"]).read().splitlines()) <= int(os.environ["FAIL_TIMES"]):
        raise RuntimeError("transient failure")
"""

# Returns RESPONSE (JSON) on the first call, success afterwards.
RESPOND_ONCE = """
import json, os
def handler(event, context):
    record(event)
    if len(open(os.environ["RECORD_FILE"]).read().splitlines()) == 1:
        response = json.loads(os.environ["RESPONSE"])
        seqs = {r["dynamodb"]["Keys"]["pk"]["S"]: r["dynamodb"]["SequenceNumber"]
                for r in event["Records"]}
        for item in (response or {}).get("batchItemFailures") or []:
            if isinstance(item, dict) and item.get("itemIdentifier") in seqs:
                item["itemIdentifier"] = seqs[item["itemIdentifier"]]
        return response
"""


def destination_check(doc, lab, condition, batch_size):
    assert set(doc) == {
        "requestContext",
        "responseContext",
        "version",
        "timestamp",
        "DDBStreamBatchInfo",
    }
    assert doc["version"] == "1.0"
    assert doc["timestamp"].endswith("Z") and "T" in doc["timestamp"]
    rc = doc["requestContext"]
    assert rc["functionArn"] == lab.function_arn
    assert rc["condition"] == condition
    assert isinstance(rc["requestId"], str) and rc["requestId"]
    assert isinstance(rc["approximateInvokeCount"], int)
    info = doc["DDBStreamBatchInfo"]
    assert info["streamArn"] == lab.stream_arn
    assert info["shardId"].startswith("shardId-")
    assert info["batchSize"] == batch_size
    assert int(info["startSequenceNumber"]) <= int(info["endSequenceNumber"])
    for k in ("approximateArrivalOfFirstRecord", "approximateArrivalOfLastRecord"):
        assert info[k].endswith("Z")
    assert "Records" not in json.dumps(doc)  # metadata only, never the records


def test_function_error_is_retried_until_success(lab):
    lab.table()
    lab.function(FAIL_N_TIMES, env={"FAIL_TIMES": "2"})
    lab.put("a")
    lab.put("b")
    lab.mapping()
    rt = lab.runtime()
    assert rt.wait_idle(20)
    assert lab.batches() == [["a", "b"]] * 3  # two failures, then success; nothing lost
    stats = rt.stats()[lab.mapping_uuids[0]]
    assert stats["invoke"] == 3 and stats["errors"] == 2


def test_failed_batch_retries_are_spaced_by_exponential_backoff(lab):
    lab.table()
    lab.function(FAIL_ON_KEYS, env={"FAIL_KEYS": "bad"})
    lab.put("bad")
    lab.mapping(MaximumRetryAttempts=5)
    # the Lambda-like schedule (1 s doubling to 60 s) scaled down by 5: 0.2, 0.4, 0.8, 0.8, ...
    rt = lab.runtime(retry_base_delay=0.2, retry_max_delay=0.8)
    assert lab.wait_for(lambda: len(lab.calls()) >= 6, timeout=20)
    starts = [c["t"] for c in lab.calls()]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    for gap, wait in zip(gaps, [0.2, 0.4, 0.8, 0.8, 0.8], strict=True):
        # the wait, plus one invocation's overhead (generous: a loaded machine is slow)
        assert wait <= gap < wait + 2.0, gaps
    assert rt.wait_idle(10)  # then discarded (RetryAttemptsExhausted); the shard moves on
    lab.put("good")
    assert rt.wait_idle(10)
    assert lab.batches()[-1] == ["good"]  # progress resets the backoff: no wait before it
    assert lab.calls()[-1]["t"] - starts[-1] < 0.8 + 1.0


def test_retry_attempts_exhausted_goes_to_sqs_and_shard_moves_on(lab):
    lab.table()
    lab.function(FAIL_ON_KEYS, env={"FAIL_KEYS": "bad"})
    url, arn = lab.queue()
    lab.put("bad")
    lab.mapping(
        MaximumRetryAttempts=2,
        DestinationConfig={"OnFailure": {"Destination": arn}},
    )
    rt = lab.runtime()
    assert rt.wait_idle(20)
    lab.put("good")
    assert rt.wait_idle(20)
    assert lab.batches() == [["bad"]] * 3 + [["good"]]  # 1 call + 2 retries, then unblocked
    (doc,) = lab.messages(url, want=1)
    destination_check(doc, lab, "RetryAttemptsExhausted", 1)
    assert doc["requestContext"]["approximateInvokeCount"] == 3
    assert doc["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    invokes = [e for e in lab.events if e["type"] == "invoke"]
    assert doc["requestContext"]["requestId"] == invokes[2]["request_id"]  # the last attempt
    bad_seq = lab.calls()[0]["seqs"][0]
    info = doc["DDBStreamBatchInfo"]
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == bad_seq


def test_on_failure_destination_sns(lab, aws_client_session):
    sns = aws_client_session("sns")
    topic = sns.create_topic(Name=f"fail-{lab.name}")["TopicArn"]
    url, qarn = lab.queue()
    sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=qarn, Attributes={"RawMessageDelivery": "true"}
    )
    lab.table()
    lab.function(FAIL_ON_KEYS, env={"FAIL_KEYS": "bad"})
    lab.put("bad")
    lab.mapping(MaximumRetryAttempts=0, DestinationConfig={"OnFailure": {"Destination": topic}})
    rt = lab.runtime()
    assert rt.wait_idle(20)
    (doc,) = lab.messages(url, want=1)
    destination_check(doc, lab, "RetryAttemptsExhausted", 1)
    assert doc["requestContext"]["approximateInvokeCount"] == 1


def test_on_failure_destination_s3_keeps_the_records_under_the_documented_key(
    lab, aws_client_session
):
    """AWS (services-dynamodb-errors): an S3 destination gets the metadata plus ``payload``, the
    invocation event as an escaped JSON string, under
    aws/lambda/<ESM-UUID>/<shardID>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<Random UUID>."""
    s3 = aws_client_session("s3")
    bucket = f"fail-{lab.name}".lower()
    s3.create_bucket(Bucket=bucket)
    lab.table()
    lab.function(FAIL_ON_KEYS, env={"FAIL_KEYS": "bad"})
    lab.put("bad")
    esm = lab.mapping(
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": f"arn:aws:s3:::{bucket}"}},
    )
    rt = lab.runtime()
    assert rt.wait_idle(20)
    assert lab.wait_for(lambda: s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 1)
    (obj,) = s3.list_objects_v2(Bucket=bucket)["Contents"]
    key = obj["Key"]
    doc = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    payload = doc.pop("payload")
    destination_check(doc, lab, "RetryAttemptsExhausted", 1)
    shard = doc["DDBStreamBatchInfo"]["shardId"]
    assert re.fullmatch(
        rf"aws/lambda/{esm}/{shard}/(\d{{4}})/(\d\d)/(\d\d)/\1-\2-\3T\d\d\.\d\d\.\d\d-"
        r"[0-9a-f-]{36}",
        key,
    ), key
    assert isinstance(payload, str)  # an escaped JSON string, not an object
    event = json.loads(payload)
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"]] == ["bad"]
    assert (
        event["Records"][0]["dynamodb"]["SequenceNumber"]
        == (doc["DDBStreamBatchInfo"]["startSequenceNumber"])
    )


def test_timeout_is_a_function_error_and_the_next_call_gets_a_fresh_worker(lab):
    lab.table()
    lab.function(
        """
import os, time
def handler(event, context):
    record(event, remaining=context.get_remaining_time_in_millis())
    if any(r["dynamodb"]["Keys"]["pk"]["S"] == "slow" for r in event["Records"]):
        print("sleeping past the timeout")
        time.sleep(30)
""",
        timeout=1,
    )
    url, arn = lab.queue()
    lab.put("slow")
    lab.mapping(MaximumRetryAttempts=0, DestinationConfig={"OnFailure": {"Destination": arn}})
    rt = lab.runtime()
    assert rt.wait_idle(20)
    lab.put("fast")
    assert rt.wait_idle(20)
    calls = lab.calls()
    assert [c["keys"] for c in calls] == [["slow"], ["fast"]]
    assert calls[0]["pid"] != calls[1]["pid"]  # the timed-out worker was killed
    assert 0 < calls[0]["remaining"] <= 1000
    (doc,) = lab.messages(url, want=1)
    destination_check(doc, lab, "RetryAttemptsExhausted", 1)
    assert doc["responseContext"]["functionError"] == "Unhandled"
    logs = lab.client("logs").filter_log_events(
        logGroupName=f"/aws/lambda/{lab.function_name}", filterPattern="timed"
    )["events"]
    assert any("Task timed out after 1.00 seconds" in e["message"] for e in logs)


def test_a_killed_runtime_writes_lambdas_error_lines_to_the_log_group(lab):
    """The worker killed mid-invocation (the OOM killer, kill -9): Runtime.ExitError in the
    function's log group, where the function itself could write nothing; the batch is retried."""
    lab.table()
    lab.function(
        """
import os, signal
def handler(event, context):
    record(event)
    if not os.path.exists(os.environ["RECORD_FILE"] + ".killed"):
        open(os.environ["RECORD_FILE"] + ".killed", "w").close()
        os.kill(os.getpid(), signal.SIGKILL)
"""
    )
    lab.put("a")
    lab.mapping()
    rt = lab.runtime()
    assert rt.wait_idle(30)
    assert [c["keys"] for c in lab.calls()] == [["a"], ["a"]]  # retried in a fresh worker
    logs = lab.client("logs").filter_log_events(
        logGroupName=f"/aws/lambda/{lab.function_name}", filterPattern="Runtime.ExitError"
    )["events"]
    (event,) = logs
    assert re.match(
        r"RequestId: \S+ Error: Runtime exited with error: signal: killed\nRuntime\.ExitError$",
        event["message"],
    ), event["message"]


def test_partial_batch_response_checkpoints_at_the_lowest_item(lab):
    lab.table()
    lab.function(
        RESPOND_ONCE,
        env={
            "RESPONSE": json.dumps(
                {"batchItemFailures": [{"itemIdentifier": "d"}, {"itemIdentifier": "c"}]}
            )
        },
    )
    for k in "abcde":
        lab.put(k)
    lab.mapping(FunctionResponseTypes=["ReportBatchItemFailures"])
    rt = lab.runtime()
    assert rt.wait_idle(20)
    # a and b are checkpointed; Lambda retries from c, the lowest reported sequence number
    assert lab.batches() == [list("abcde"), list("cde")]


@pytest.mark.parametrize(
    "response",
    [None, {}, {"batchItemFailures": []}, {"batchItemFailures": None}],
    ids=["null-response", "empty-response", "empty-list", "null-list"],
)
def test_partial_batch_response_success_conditions(lab, response):
    lab.table()
    lab.function(RESPOND_ONCE, env={"RESPONSE": json.dumps(response)})
    lab.put("a")
    lab.put("b")
    lab.mapping(FunctionResponseTypes=["ReportBatchItemFailures"])
    rt = lab.runtime()
    assert rt.wait_idle(20)
    assert lab.batches() == [["a", "b"]]  # complete success: no retry


@pytest.mark.parametrize(
    "response",
    [
        {"batchItemFailures": [{"itemIdentifier": ""}]},
        {"batchItemFailures": [{"itemIdentifier": None}]},
        {"batchItemFailures": [{"itemIdentifer": "b"}]},
        {"batchItemFailures": [{"itemIdentifier": "12345"}]},
    ],
    ids=["empty-identifier", "null-identifier", "bad-key-name", "unknown-identifier"],
)
def test_partial_batch_response_failure_conditions_fail_the_whole_batch(lab, response):
    lab.table()
    lab.function(RESPOND_ONCE, env={"RESPONSE": json.dumps(response)})
    url, arn = lab.queue()
    lab.put("a")
    lab.put("b")
    lab.mapping(
        FunctionResponseTypes=["ReportBatchItemFailures"],
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": arn}},
    )
    rt = lab.runtime()
    assert rt.wait_idle(20)
    assert lab.batches() == [["a", "b"]]
    (doc,) = lab.messages(url, want=1)
    destination_check(doc, lab, "RetryAttemptsExhausted", 2)  # the whole batch
    assert "functionError" not in doc["responseContext"]  # the function itself succeeded


def test_partial_response_ignored_without_report_batch_item_failures(lab):
    lab.table()
    lab.function(
        RESPOND_ONCE, env={"RESPONSE": json.dumps({"batchItemFailures": [{"itemIdentifier": "a"}]})}
    )
    lab.put("a")
    lab.put("b")
    lab.mapping()
    rt = lab.runtime()
    assert rt.wait_idle(20)
    assert lab.batches() == [["a", "b"]]


def test_bisect_isolates_the_bad_record_without_using_retries(lab):
    lab.table()
    lab.function(FAIL_ON_KEYS, env={"FAIL_KEYS": "c"})
    url, arn = lab.queue()
    for k in "abcd":
        lab.put(k)
    lab.mapping(
        BisectBatchOnFunctionError=True,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": arn}},
    )
    rt = lab.runtime()
    assert rt.wait_idle(20)
    # with zero retries allowed, the splits still happen: they do not use the retry quota
    assert lab.batches() == [list("abcd"), ["a", "b"], ["c", "d"], ["c"], ["d"]]
    (doc,) = lab.messages(url, want=1)
    destination_check(doc, lab, "RetryAttemptsExhausted", 1)
    c_seq = lab.calls()[3]["seqs"][0]
    assert doc["DDBStreamBatchInfo"]["startSequenceNumber"] == c_seq


def test_bisect_with_partial_response_retries_only_the_remaining_records(lab):
    lab.table()
    lab.function(
        RESPOND_ONCE, env={"RESPONSE": json.dumps({"batchItemFailures": [{"itemIdentifier": "c"}]})}
    )
    for k in "abcde":
        lab.put(k)
    lab.mapping(
        FunctionResponseTypes=["ReportBatchItemFailures"],
        BisectBatchOnFunctionError=True,
        MaximumRetryAttempts=0,
    )
    rt = lab.runtime()
    assert rt.wait_idle(20)
    assert lab.batches() == [list("abcde"), list("cde")]


def test_maximum_record_age_discards_old_records(lab):
    lab.table()
    lab.function(FAIL_ON_KEYS)
    url, arn = lab.queue()
    lab.put("old")
    lab.mapping(MaximumRecordAgeInSeconds=60, DestinationConfig={"OnFailure": {"Destination": arn}})
    # the runtime's clock is an hour ahead: every record is older than 60 seconds
    rt = lab.runtime(clock=lambda: time.time() + 3600)
    assert rt.wait_idle(20)
    assert lab.calls() == []  # never sent to the function
    (doc,) = lab.messages(url, want=1)
    destination_check(doc, lab, "RecordAgeExceeded", 1)


def test_record_age_limit_applies_while_retrying(lab):
    lab.table()
    lab.function(FAIL_ON_KEYS, env={"FAIL_KEYS": "bad"})
    url, arn = lab.queue()
    lab.put("bad")
    lab.mapping(MaximumRecordAgeInSeconds=60, DestinationConfig={"OnFailure": {"Destination": arn}})
    shift = {"s": 0.0}
    rt = lab.runtime(clock=lambda: time.time() + shift["s"])
    assert lab.wait_for(lambda: len(lab.calls()) >= 2)  # failing, retried (no retry limit)
    shift["s"] = 3600.0  # an hour passes
    assert rt.wait_idle(20)
    (doc,) = lab.messages(url, want=1)
    destination_check(doc, lab, "RecordAgeExceeded", 1)
    assert doc["requestContext"]["approximateInvokeCount"] >= 2
    assert doc["responseContext"]["functionError"] == "Unhandled"


def test_reserved_concurrency_zero_throttles_until_the_records_exceed_the_maximum_age(lab):
    lab.table()
    lab.function(FAIL_ON_KEYS)
    lab.lam.put_function_concurrency(FunctionName=lab.function_name, ReservedConcurrentExecutions=0)
    url, arn = lab.queue()
    lab.mapping(
        MaximumRetryAttempts=0,  # throttles do not use retries
        MaximumRecordAgeInSeconds=60,
        DestinationConfig={"OnFailure": {"Destination": arn}},
    )
    lab.put("a")
    shift = {"s": 0.0}
    rt = lab.runtime(clock=lambda: time.time() + shift["s"])
    uuid_ = lab.mapping_uuids[0]
    assert lab.wait_for(lambda: rt.stats().get(uuid_, {}).get("throttle", 0) >= 3)
    assert lab.calls() == []  # never invoked
    assert not rt.wait_idle(0.5) and lab.messages(url, want=1, timeout=0.5) == []
    cw = lab.client("cloudwatch")
    now = dt.datetime.now(dt.UTC)
    stats = cw.get_metric_statistics(
        Namespace="AWS/Lambda",
        MetricName="Throttles",
        Dimensions=[{"Name": "FunctionName", "Value": lab.function_name}],
        StartTime=now - dt.timedelta(minutes=5),
        EndTime=now + dt.timedelta(minutes=1),
        Period=60,
        Statistics=["Sum"],
    )["Datapoints"]
    assert sum(d["Sum"] for d in stats) >= 3
    shift["s"] = 120.0  # the record is now older than MaximumRecordAgeInSeconds
    assert rt.wait_idle(20)
    (doc,) = lab.messages(url, want=1)
    destination_check(doc, lab, "RecordAgeExceeded", 1)
    assert doc["requestContext"]["approximateInvokeCount"] == 0
    # concurrency restored (and the clock): the function runs again
    shift["s"] = 0.0
    lab.lam.delete_function_concurrency(FunctionName=lab.function_name)
    lab.put("b")
    assert rt.wait_idle(20)
    assert lab.batches() == [["b"]]


SLOW_ONE = """
import time
def handler(event, context):
    t0 = time.time()
    time.sleep(0.4)
    record(event, started=t0, ended=time.time())
"""


def test_reserved_concurrency_bounds_the_invocations_in_flight(lab):
    lab.table()
    lab.function(SLOW_ONE)
    lab.lam.put_function_concurrency(FunctionName=lab.function_name, ReservedConcurrentExecutions=1)
    lab.mapping(BatchSize=1, ParallelizationFactor=4)
    for i in range(6):
        lab.put(f"k{i}")
    rt = lab.runtime()
    assert rt.wait_idle(40)
    calls = sorted(lab.calls(), key=lambda c: c["started"])
    assert sorted(k for c in calls for k in c["keys"]) == [f"k{i}" for i in range(6)]
    for a, b in itertools.pairwise(calls):
        assert a["ended"] <= b["started"]  # never two at once
    assert rt.stats()[lab.mapping_uuids[0]]["throttle"] > 0
