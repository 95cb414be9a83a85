"""Conformance: tumbling windows (TumblingWindowInSeconds) of a DynamoDB stream mapping.

Windows are long (900 s, the maximum) so that a test's records share one; the runtime's clock
is moved past the window's end to close it."""

from __future__ import annotations

import json
import time

import pytest

from ddbstream.local.runtime.windows import TumblingWindow, has_state, window_start

# Counts the records of the window in its state; returns the state; records every call.
COUNTING = """
import json, os
def handler(event, context):
    record(event, window=event.get("window"), state=event.get("state"),
           final=event.get("isFinalInvokeForWindow"), early=event.get("isWindowTerminatedEarly"),
           shard=event.get("shardId"), arn=event.get("eventSourceARN"))
    mode = os.environ.get("MODE", "")
    if event["isFinalInvokeForWindow"]:
        if mode == "fail-final":
            path = os.environ["RECORD_FILE"] + ".finals"
            n = len(open(path).read()) if os.path.exists(path) else 0
            open(path, "a").write("x")
            if n < 2:
                raise RuntimeError("final invocation failed")
        return None
    if mode == "no-state":
        return {"batchItemFailures": []}
    state = dict(event["state"])
    failures = []
    for r in event["Records"]:
        key = r["dynamodb"]["Keys"]["pk"]["S"]
        if mode == "fail-b-once" and key == "b" and not state.get("b_failed"):
            state["b_failed"] = True
            failures = [{"itemIdentifier": r["dynamodb"]["SequenceNumber"]}]
            break
        state["seen"] = state.get("seen", []) + [key]
        if mode == "big" and key == "a":
            state["big"] = "x" * (1024 * 1024 + 10)
    return {"state": state, "batchItemFailures": failures}
"""

WINDOW = 900


@pytest.fixture
def shifted():
    """A clock that tests move forward: {"s": seconds ahead}."""
    return {"s": 0.0}


def start_runtime(lab, shifted):
    return lab.runtime(clock=lambda: time.time() + shifted["s"])


def calls_of(lab, final=None):
    return [c for c in lab.calls() if final is None or bool(c["final"]) == final]


def test_tumbling_window_carries_state_and_the_final_invocation_gets_it(lab, shifted):
    lab.table()
    lab.function(COUNTING)
    lab.mapping(BatchSize=1, TumblingWindowInSeconds=WINDOW)
    for k in ("a", "b", "c"):
        lab.put(k)
    rt = start_runtime(lab, shifted)
    assert rt.wait_idle(20)
    aggregate = calls_of(lab, final=False)
    assert [c["keys"] for c in aggregate] == [["a"], ["b"], ["c"]]
    # each invocation gets the state the previous one returned, {} at first
    assert [c["state"] for c in aggregate] == [{}, {"seen": ["a"]}, {"seen": ["a", "b"]}]
    first = aggregate[0]
    start = window_start(first["t"], WINDOW)
    assert first["window"] == {
        "start": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start)),
        "end": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start + WINDOW)),
    }
    assert first["shard"].startswith("shardId-") and first["arn"] == lab.stream_arn
    assert first["final"] is False and first["early"] is False
    assert calls_of(lab, final=True) == []  # the window is still open

    shifted["s"] = WINDOW + 5  # the window's end passes: its final invocation
    assert lab.wait_for(lambda: len(calls_of(lab, final=True)) == 1, timeout=15)
    (final,) = calls_of(lab, final=True)
    assert final["keys"] == [] and final["state"] == {"seen": ["a", "b", "c"]}
    assert final["window"] == first["window"] and final["early"] is False

    lab.put("d")  # a new window starts from a fresh state
    assert lab.wait_for(lambda: len(calls_of(lab, final=True)) == 2, timeout=15)
    after = [c for c in lab.calls() if c["keys"] == ["d"]]
    assert after[0]["state"] == {}
    assert calls_of(lab, final=True)[-1]["state"] == {"seen": ["d"]}


def test_a_response_without_state_is_a_failed_invocation(lab, shifted):
    lab.table()
    lab.function(COUNTING, env={"MODE": "no-state"})
    url, arn = lab.queue()
    lab.mapping(
        TumblingWindowInSeconds=WINDOW,
        MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": arn}},
    )
    lab.put("a")
    rt = start_runtime(lab, shifted)
    assert rt.wait_idle(20)
    assert [c["keys"] for c in calls_of(lab, final=False)] == [["a"], ["a"]]  # 1 + 1 retry
    (doc,) = lab.messages(url, want=1)
    assert doc["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert "functionError" not in doc["responseContext"]  # the function itself did not fail


def test_partial_batch_response_keeps_the_state_of_the_records_before_the_failure(lab, shifted):
    lab.table()
    lab.function(COUNTING, env={"MODE": "fail-b-once"})
    lab.mapping(
        BatchSize=10,
        TumblingWindowInSeconds=WINDOW,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    lab.put_many(["a", "b", "c"])
    rt = start_runtime(lab, shifted)
    assert rt.wait_idle(20)
    first, retry = calls_of(lab, final=False)
    assert first["keys"] == ["a", "b", "c"] and first["state"] == {}
    # retried from the reported record, with the state the partial response returned
    assert retry["keys"] == ["b", "c"]
    assert retry["state"] == {"seen": ["a"], "b_failed": True}
    shifted["s"] = WINDOW + 5
    assert lab.wait_for(lambda: len(calls_of(lab, final=True)) == 1, timeout=15)
    assert calls_of(lab, final=True)[0]["state"]["seen"] == ["a", "b", "c"]


def test_a_failed_final_invocation_is_retried_until_it_succeeds(lab, shifted):
    lab.table()
    lab.function(COUNTING, env={"MODE": "fail-final"})
    lab.mapping(TumblingWindowInSeconds=WINDOW, MaximumRetryAttempts=0)
    lab.put("a")
    rt = start_runtime(lab, shifted)
    assert rt.wait_idle(20)
    shifted["s"] = WINDOW + 5
    # two failures, then success: MaximumRetryAttempts does not apply to it
    assert lab.wait_for(lambda: len(calls_of(lab, final=True)) == 3, timeout=15)
    time.sleep(0.5)
    finals = calls_of(lab, final=True)
    assert len(finals) == 3 and all(f["state"] == {"seen": ["a"]} for f in finals)
    lab.put("b")  # processing went on after the successful final invocation
    assert lab.wait_for(lambda: any(c["keys"] == ["b"] for c in lab.calls()), timeout=15)


def test_a_state_over_1_mb_terminates_the_window_early(lab, shifted):
    lab.table()
    lab.function(COUNTING, env={"MODE": "big"})
    lab.mapping(BatchSize=1, TumblingWindowInSeconds=WINDOW)
    lab.put("a")
    lab.put("b")
    rt = start_runtime(lab, shifted)
    assert rt.wait_idle(30)
    calls = lab.calls()
    assert [(c["keys"], c["final"], c["early"]) for c in calls] == [
        (["a"], False, False),
        ([], True, True),  # terminated early, with the big state
        (["b"], False, False),
    ]
    assert len(calls[1]["state"]["big"]) > 1024 * 1024
    assert calls[2]["state"] == {}  # the same window goes on with a fresh state
    assert calls[2]["window"] == calls[0]["window"]


def test_window_state_survives_a_runtime_restart(lab, shifted):
    lab.table()
    lab.function(COUNTING)
    lab.mapping(BatchSize=1, TumblingWindowInSeconds=WINDOW)
    lab.put("a")
    rt = start_runtime(lab, shifted)
    assert rt.wait_idle(20)
    rt.stop()
    lab.put("b")
    rt2 = start_runtime(lab, shifted)
    assert rt2.wait_idle(20)
    assert [c["state"] for c in calls_of(lab, final=False)] == [{}, {"seen": ["a"]}]


def test_window_arithmetic_and_response_shape():
    assert window_start(1_700_000_123.0, 60) == 1_700_000_100.0
    w = TumblingWindow(1_700_000_100.0, 60, {"n": 1})
    fields = w.event_fields("shardId-1", "arn:s", final=True)
    assert list(fields) == [
        "window",
        "state",
        "shardId",
        "eventSourceARN",
        "isFinalInvokeForWindow",
        "isWindowTerminatedEarly",
    ]
    assert fields["window"] == {"start": "2023-11-14T22:15:00Z", "end": "2023-11-14T22:16:00Z"}
    assert TumblingWindow.from_json(json.loads(json.dumps(w.to_json()))) == w
    assert (
        has_state({"state": {}})
        and not has_state(None)
        and not has_state({"batchItemFailures": []})
    )
