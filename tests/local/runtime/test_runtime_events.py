"""Conformance: the event Lambda sends, starting positions, polling, batching."""

from __future__ import annotations

import itertools
import json
import time

RECORDING = """
def handler(event, context):
    record(event)
"""


def test_event_is_exactly_what_lambda_sends(lab):
    stream = lab.table("NEW_AND_OLD_IMAGES")
    lab.function(RECORDING, env={"RECORD_EVENTS": "1"})
    lab.mapping(BatchSize=10)
    before = int(time.time())
    lab.put("a", n=1, blob=b"\x00\xff")
    lab.put("a", n=2)
    lab.delete("a")
    rt = lab.runtime()
    assert rt.wait_idle(15)
    records = [r for c in lab.calls() for r in c["event"]["Records"]]
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    for r in records:
        assert list(r)[:7] == [
            "eventID",
            "eventName",
            "eventVersion",
            "eventSource",
            "awsRegion",
            "dynamodb",
            "eventSourceARN",
        ]
        assert r["eventVersion"] == "1.1"
        assert r["eventSource"] == "aws:dynamodb"
        assert r["awsRegion"] == "us-east-1"
        assert r["eventSourceARN"] == stream
        assert isinstance(r["eventID"], str) and r["eventID"]
        d = r["dynamodb"]
        created = d["ApproximateCreationDateTime"]
        assert isinstance(created, float) and created == int(created)  # e.g. 1693997155.0
        assert before - 1 <= created <= time.time() + 1
        assert d["Keys"] == {"pk": {"S": "a"}}
        assert d["StreamViewType"] == "NEW_AND_OLD_IMAGES"
        assert isinstance(d["SequenceNumber"], str) and isinstance(d["SizeBytes"], int)
    ins, mod, rem = (r["dynamodb"] for r in records)
    assert "OldImage" not in ins and ins["NewImage"]["blob"] == {"B": "AP8="}
    assert ins["NewImage"]["n"] == {"N": "1"}
    assert mod["OldImage"]["n"] == {"N": "1"} and mod["NewImage"]["n"] == {"N": "2"}
    assert "NewImage" not in rem and rem["OldImage"]["n"] == {"N": "2"}
    seqs = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert seqs == sorted(seqs)
    json.dumps(records)


def test_ttl_deletion_user_identity_has_lambdas_key_names(lab):
    from moto.dynamodb.models import dynamodb_backends

    lab.table("NEW_AND_OLD_IMAGES")
    lab.function(RECORDING, env={"RECORD_EVENTS": "1"})
    lab.put("a", n=1)
    lab.delete("a")
    # moto does not expire items; the REMOVE becomes what DynamoDB Streams returns for a TTL
    # deletion: GetRecords says {"PrincipalId": ..., "Type": ...}
    table = dynamodb_backends[lab.account]["us-east-1"].get_table(lab.name)
    table.stream_shard.items[-1].record["userIdentity"] = {
        "PrincipalId": "dynamodb.amazonaws.com",
        "Type": "Service",
    }
    raw = lab.client("dynamodbstreams")
    it = raw.get_shard_iterator(
        StreamArn=lab.stream_arn,
        ShardId=table.stream_shard.id,
        ShardIteratorType="TRIM_HORIZON",
    )["ShardIterator"]
    assert raw.get_records(ShardIterator=it)["Records"][-1]["userIdentity"] == {
        "PrincipalId": "dynamodb.amazonaws.com",
        "Type": "Service",
    }
    lab.mapping()
    rt = lab.runtime()
    assert rt.wait_idle(15)
    insert, remove = (r for c in lab.calls() for r in c["event"]["Records"])
    assert "userIdentity" not in insert
    assert remove["userIdentity"] == {"type": "Service", "principalId": "dynamodb.amazonaws.com"}


def test_keys_only_view_has_no_images(lab):
    lab.table("KEYS_ONLY")
    lab.function(RECORDING, env={"RECORD_EVENTS": "1"})
    lab.mapping()
    lab.put("k", v=1)
    rt = lab.runtime()
    assert rt.wait_idle(15)
    (r,) = lab.calls()[0]["event"]["Records"]
    assert set(r["dynamodb"]) == {
        "ApproximateCreationDateTime",
        "Keys",
        "SequenceNumber",
        "SizeBytes",
        "StreamViewType",
    }


def test_trim_horizon_reads_records_written_before_the_mapping(lab):
    lab.table()
    lab.function(RECORDING)
    lab.put("old1")
    lab.put("old2")
    lab.mapping(StartingPosition="TRIM_HORIZON")
    rt = lab.runtime()
    lab.put("new")
    assert rt.wait_idle(15)
    assert lab.delivered() == ["old1", "old2", "new"]


def test_latest_reads_only_records_written_after_the_mapping(lab):
    lab.table()
    lab.function(RECORDING)
    lab.put("old1")
    lab.put("old2")
    lab.mapping(StartingPosition="LATEST")
    rt = lab.runtime()
    assert rt.wait_idle(15)  # the mapping is running: its starting position is resolved
    lab.put("new1")
    lab.put("new2")
    assert rt.wait_idle(15)
    assert lab.delivered() == ["new1", "new2"]


def test_batch_size(lab):
    lab.table()
    lab.function(RECORDING)
    for i in range(7):
        lab.put(f"k{i}")
    lab.mapping(BatchSize=3)
    rt = lab.runtime()
    assert rt.wait_idle(15)
    assert lab.batches() == [["k0", "k1", "k2"], ["k3", "k4", "k5"], ["k6"]]


def test_polls_again_at_once_while_records_remain(lab):
    # 1,500 records, more than one GetRecords call (1,000) returns: all delivered once, in
    # order, in batches of at most BatchSize.
    lab.table()
    lab.function(RECORDING)
    lab.put_many([f"k{i:04d}" for i in range(1500)])
    lab.mapping(BatchSize=1200)
    rt = lab.runtime(poll_interval=0.25)
    assert rt.wait_idle(60)
    assert all(len(k) <= 1200 for k in lab.batches())
    assert lab.delivered() == [f"k{i:04d}" for i in range(1500)]


def test_batching_window_gathers_records(lab):
    lab.table()
    lab.function(RECORDING)
    lab.mapping(BatchSize=100, MaximumBatchingWindowInSeconds=2)
    rt = lab.runtime()
    lab.put("first")
    assert lab.wait_for(lambda: len(lab.calls()) == 1)
    # the next window begins when w0 is read: the five records form one batch
    for i in range(5):
        lab.put(f"w{i}")
        time.sleep(0.1)
    assert rt.wait_idle(15)
    assert lab.batches() == [["first"], [f"w{i}" for i in range(5)]]


SLOW_ON_SLOW = """
import time
def handler(event, context):
    record(event)
    if "slow" in [r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"]]:
        time.sleep(2.5)
"""


def test_batching_window_counts_while_the_previous_batch_runs(lab):
    # A record read while the lane's previous invocation runs has been gathering since it was
    # read: once it waited the window, it goes right after that invocation, alone; a record
    # written after that invocation ended is not held back to join it.
    lab.table()
    lab.function(SLOW_ON_SLOW, timeout=10)
    lab.mapping(BatchSize=100, MaximumBatchingWindowInSeconds=1)
    rt = lab.runtime()
    lab.put("slow")
    assert lab.wait_for(lambda: len(lab.calls()) == 1)
    lab.put("late")  # read at once; waits ~2.5 s (> the window) for "slow" to finish
    assert lab.wait_for(lambda: any(e["type"] == "invoke" for e in lab.events))
    lab.put("fresh")  # written after "slow" ended: "late" is already being invoked
    assert rt.wait_idle(15)
    assert lab.batches() == [["slow"], ["late"], ["fresh"]]
    # still one invocation at a time per shard: "late" started after "slow" returned
    slow, late, _ = lab.calls()
    assert late["t"] >= slow["t"] + 2.5


def test_batching_window_starts_when_the_first_record_is_read(lab):
    # An idle lane (idle longer than the window) still gathers for up to the window from the
    # first record it reads: a record read shortly after joins the batch.
    lab.table()
    lab.function(RECORDING)
    lab.mapping(BatchSize=100, MaximumBatchingWindowInSeconds=2)
    rt = lab.runtime()
    assert rt.wait_idle(15)
    time.sleep(2.5)
    lab.put("a")
    time.sleep(0.2)
    lab.put("b")
    assert rt.wait_idle(15)
    assert lab.batches() == [["a", "b"]]


def test_without_batching_window_records_go_at_once(lab):
    lab.table()
    lab.function(RECORDING)
    lab.mapping(BatchSize=100)
    rt = lab.runtime()
    for i in range(3):
        lab.put(f"w{i}")
        assert lab.wait_for(lambda i=i: len(lab.calls()) == i + 1)
    assert rt.wait_idle(15)
    assert lab.batches() == [["w0"], ["w1"], ["w2"]]


def test_payload_limit_of_6_mb_splits_batches(lab):
    lab.table("NEW_IMAGE")
    lab.function(
        """
def handler(event, context):
    import json
    record(event, size=len(json.dumps(event, separators=(",", ":"))))
"""
    )
    blob = "x" * 300_000
    for i in range(25):  # about 7.5 MB of records
        lab.put(f"big{i:02d}", blob=blob)
    lab.mapping(BatchSize=100)
    rt = lab.runtime()
    assert rt.wait_idle(60)
    calls = lab.calls()
    assert len(calls) >= 2
    assert all(c["size"] <= 6 * 1024 * 1024 for c in calls)
    assert [k for c in calls for k in c["keys"]] == [f"big{i:02d}" for i in range(25)]


def test_idle_shard_is_polled_about_four_times_a_second(lab):
    lab.table()
    lab.function(RECORDING)
    lab.mapping()
    rt = lab.runtime(poll_interval=0.25)  # the default, as Lambda
    assert rt.wait_idle(15)
    calls = []
    rt.services.clients.streams.meta.events.register(
        "after-call.dynamodb-streams.GetRecords", lambda **kw: calls.append(time.monotonic())
    )
    time.sleep(3.0)
    # About four polls a second: the typical gap between two polls is the 0.25 s interval. The
    # median gap, so that a moment without CPU on a loaded machine (a 1 s stall was seen with
    # the suite's workers and other suites running) does not count; and never a busy loop.
    gaps = sorted(b - a for a, b in itertools.pairwise(calls))
    assert len(calls) >= 4, calls
    assert 0.2 <= gaps[len(gaps) // 2] <= 0.5, gaps
    assert len(calls) <= 16, calls  # at most ~5 a second over 3 s


def test_idle_polls_start_four_times_a_second_even_when_a_poll_is_slow(lab):
    # "a base rate of 4 times per second" (Lambda with DynamoDB): a poll starts every 0.25 s,
    # not 0.25 s after the one before ended; with each GetRecords taking 0.2 s, sleeping the
    # interval after it made the period 0.45 s (a change waited up to that to be read).
    lab.table()
    lab.function(RECORDING)
    lab.mapping()
    rt = lab.runtime(poll_interval=0.25)
    assert rt.wait_idle(15)
    starts: list[float] = []

    def slow(**kw: object) -> None:
        starts.append(time.monotonic())
        time.sleep(0.2)

    rt.services.clients.streams.meta.events.register(
        "before-call.dynamodb-streams.GetRecords", slow
    )
    time.sleep(3.0)
    gaps = sorted(b - a for a, b in itertools.pairwise(starts))
    assert len(starts) >= 4, starts
    assert 0.2 <= gaps[len(gaps) // 2] <= 0.35, gaps  # the median: robust to a stall under load


def test_backlog_is_read_without_idle_waits(lab):
    # With a 30-second idle poll interval, 2,500 records (three GetRecords pages) are all
    # delivered well before a second idle poll could have happened (a loaded machine needs
    # more than 5 s for them).
    lab.table()
    lab.function(RECORDING)
    lab.put_many([f"k{i:04d}" for i in range(2500)])
    lab.mapping(BatchSize=1000)
    lab.runtime(poll_interval=30.0)
    assert lab.wait_for(lambda: len(lab.delivered()) == 2500, timeout=25)
    assert lab.delivered() == [f"k{i:04d}" for i in range(2500)]
