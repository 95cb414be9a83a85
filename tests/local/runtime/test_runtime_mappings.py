"""Conformance: parallelization, filtering, Enabled state, mapping discovery, checkpoints."""

from __future__ import annotations

import itertools
import json
import time

from ddbstream.local.runtime import Runtime

RECORDING = """
def handler(event, context):
    record(event)
"""

SLOW = """
import time
def handler(event, context):
    started = time.time()
    time.sleep(0.3)
    record(event, started=started, ended=time.time(),
           values=[r["dynamodb"]["NewImage"]["v"]["N"] for r in event["Records"]])
"""


def test_parallelization_factor_runs_lanes_concurrently_and_keeps_per_key_order(lab):
    lab.table()
    lab.function(SLOW)
    keys = [f"key{i}" for i in range(8)]
    for version in range(3):
        for k in keys:
            lab.put(k, v=version)
    lab.mapping(ParallelizationFactor=4, BatchSize=2)
    rt = lab.runtime()
    assert rt.wait_idle(60)
    calls = lab.calls()
    # every change delivered exactly once
    got = sorted((k, int(v)) for c in calls for k, v in zip(c["keys"], c["values"], strict=True))
    assert got == sorted((k, v) for k in keys for v in range(3))
    # per key: versions in order, and never two batches of the same key at the same time
    for k in keys:
        mine = sorted(
            (c for c in calls if k in c["keys"]),
            key=lambda c: c["started"],
        )
        versions = [
            int(v) for c in mine for kk, v in zip(c["keys"], c["values"], strict=True) if kk == k
        ]
        assert versions == [0, 1, 2], k
        for a, b in itertools.pairwise(mine):
            assert a["ended"] <= b["started"], k
    # batches of different lanes did overlap in time
    spans = sorted((c["started"], c["ended"]) for c in calls)
    overlap = max(sum(1 for s, e in spans if s <= t < e) for t in (s for s, _ in spans))
    assert overlap > 1


def test_parallelization_factor_one_is_sequential(lab):
    lab.table()
    lab.function(SLOW)
    for i in range(4):
        lab.put(f"k{i}", v=i)
    lab.mapping(BatchSize=1)
    rt = lab.runtime()
    assert rt.wait_idle(30)
    calls = lab.calls()
    assert [c["keys"] for c in calls] == [["k0"], ["k1"], ["k2"], ["k3"]]
    for a, b in itertools.pairwise(calls):
        assert a["ended"] <= b["started"]


def test_filter_criteria_skip_and_checkpoint_non_matching_records(lab):
    lab.table()
    lab.function(RECORDING)
    pattern = {
        "eventName": ["INSERT", "MODIFY"],
        "dynamodb": {"NewImage": {"status": {"S": [{"prefix": "PAID"}]}}},
    }
    lab.mapping(FilterCriteria={"Filters": [{"Pattern": json.dumps(pattern)}]})
    lab.put("a", status="PAID")
    lab.put("b", status="PENDING")
    lab.put("c", status="PAID_LATE")
    lab.put("d")  # no status attribute
    lab.delete("a")  # REMOVE
    rt = lab.runtime()
    assert rt.wait_idle(20)
    assert lab.delivered() == ["a", "c"]
    assert rt.stats()[lab.mapping_uuids[0]]["records_filtered"] == 3
    rt.stop()
    # the skipped records were checkpointed: a new runtime does not see them again
    lab.put("e", status="PAID")
    rt2 = lab.runtime()
    assert rt2.wait_idle(20)
    assert lab.delivered() == ["a", "c", "e"]


def test_several_filters_are_or(lab):
    lab.table()
    lab.function(RECORDING)
    filters = [
        {"Pattern": json.dumps({"dynamodb": {"Keys": {"pk": {"S": ["x"]}}}})},
        {"Pattern": json.dumps({"dynamodb": {"NewImage": {"n": {"N": ["7"]}}}})},
    ]
    lab.mapping(FilterCriteria={"Filters": filters})
    lab.put("x")
    lab.put("y", n=7)
    lab.put("z", n=8)
    rt = lab.runtime()
    assert rt.wait_idle(20)
    assert lab.delivered() == ["x", "y"]


def test_exists_filter_matches_leaf_nodes_only(lab):
    lab.table()
    lab.function(RECORDING)
    # "status" holds {"S": ...}: an intermediate node, which exists never matches on AWS
    intermediate = {"dynamodb": {"NewImage": {"status": [{"exists": True}]}}}
    uuid_ = lab.mapping(FilterCriteria={"Filters": [{"Pattern": json.dumps(intermediate)}]})
    lab.put("a", status="PAID")
    lab.put("b")
    rt = lab.runtime()
    assert rt.wait_idle(20)
    assert lab.delivered() == []
    assert rt.stats()[uuid_]["records_filtered"] == 2
    leaf = {"dynamodb": {"NewImage": {"status": {"S": [{"exists": True}]}}}}
    lab.lam.update_event_source_mapping(
        UUID=uuid_, FilterCriteria={"Filters": [{"Pattern": json.dumps(leaf)}]}
    )
    assert lab.wait_for(lambda: _filters_applied(rt, uuid_, leaf))
    lab.put("c", status="PAID")
    lab.put("d")
    assert rt.wait_idle(20)
    assert lab.delivered() == ["c"]


def _filters_applied(rt, uuid_, pattern):
    runner = rt._runners.get(uuid_)
    return runner is not None and runner._patterns == [pattern]


def test_last_processing_result_is_kept_as_lambda_does(lab):
    lab.table()
    lab.function(
        """
import os
def handler(event, context):
    record(event)
    if any(r["dynamodb"]["Keys"]["pk"]["S"] == "bad" for r in event["Records"]):
        raise ValueError("bad record")
"""
    )
    uuid_ = lab.mapping(MaximumRetryAttempts=0)

    def result() -> str:
        return lab.lam.get_event_source_mapping(UUID=uuid_)["LastProcessingResult"]

    assert result() == "No records processed"  # not invoked yet (moto: null)
    rt = lab.runtime()
    lab.put("good")
    assert rt.wait_idle(20)
    assert result() == "OK"
    lab.put("bad")
    assert rt.wait_idle(20)
    assert result() == "PROBLEM: Function call failed"
    listed = lab.lam.list_event_source_mappings(FunctionName=lab.function_name)
    assert [m["LastProcessingResult"] for m in listed["EventSourceMappings"]] == [result()]
    lab.put("good2")
    assert rt.wait_idle(20)
    assert result() == "OK"


def test_enabled_state_is_honoured_when_it_changes(lab):
    lab.table()
    lab.function(RECORDING)
    uuid = lab.mapping()
    rt = lab.runtime()
    lab.put("on1")
    assert rt.wait_idle(20)
    lab.lam.update_event_source_mapping(UUID=uuid, Enabled=False)
    assert lab.wait_for(lambda: uuid not in rt.mappings())
    lab.put("off1")
    lab.put("off2")
    time.sleep(0.5)
    assert lab.delivered() == ["on1"]  # disabled: nothing polled
    lab.lam.update_event_source_mapping(UUID=uuid, Enabled=True)
    assert lab.wait_for(lambda: len(lab.delivered()) == 3)
    assert rt.wait_idle(20)
    assert lab.delivered() == ["on1", "off1", "off2"]  # resumed from its checkpoint


def test_new_mappings_are_picked_up_and_deleted_ones_stop(lab):
    lab.table()
    lab.function(RECORDING)
    rt = lab.runtime()
    assert rt.mappings() == []
    uuid = lab.mapping()
    assert lab.wait_for(lambda: uuid in rt.mappings())
    lab.put("a")
    assert rt.wait_idle(20)
    lab.lam.delete_event_source_mapping(UUID=uuid)
    assert lab.wait_for(lambda: uuid not in rt.mappings())
    lab.put("b")
    time.sleep(0.5)
    assert lab.delivered() == ["a"]


def test_configuration_changes_apply_to_the_next_batch(lab):
    lab.table()
    lab.function(RECORDING)
    uuid = lab.mapping(BatchSize=1)
    lab.put("a")
    lab.put("b")
    rt = lab.runtime()
    assert rt.wait_idle(20)
    assert lab.batches() == [["a"], ["b"]]
    rt.stop()
    lab.lam.update_event_source_mapping(UUID=uuid, BatchSize=10)
    for k in "cde":
        lab.put(k)
    rt2 = lab.runtime()
    assert rt2.wait_idle(20)
    assert lab.batches() == [["a"], ["b"], ["c", "d", "e"]]


def test_checkpoints_persist_across_runtimes(lab):
    lab.table()
    lab.function(RECORDING)
    lab.mapping(BatchSize=2)
    for k in "abc":
        lab.put(k)
    rt = lab.runtime()
    assert rt.wait_idle(20)
    rt.stop()
    state = json.loads((lab.state_dir / "checkpoints.json").read_text())
    (shards,) = state["mappings"].values()
    (cp,) = shards.values()
    assert cp["checkpoint"] == lab.calls()[-1]["seqs"][-1]
    for k in "def":
        lab.put(k)
    rt2 = lab.runtime()
    assert rt2.wait_idle(20)
    assert lab.delivered() == list("abcdef")  # nothing twice, nothing skipped


def test_parallel_lanes_resume_without_redoing_finished_records(lab):
    # lane of "slow" is still busy when the runtime stops; other lanes finished records
    # beyond the checkpoint. The next runtime redoes the abandoned batch only.
    lab.table()
    lab.function(
        """
import time
def handler(event, context):
    if "slow" in [r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"]]:
        time.sleep(5)
    record(event)
""",
        timeout=10,
    )
    lab.mapping(ParallelizationFactor=10, BatchSize=1)
    lab.put("slow")
    for i in range(12):
        lab.put(f"k{i}")
    rt = lab.runtime()
    assert lab.wait_for(lambda: len(lab.calls()) >= 1)
    time.sleep(2.0)  # the other lanes are done; "slow" (and its lane) still busy
    rt.stop(timeout=0.2)  # abandons the slow batch: not checkpointed
    first = lab.delivered()
    assert "slow" not in first
    rt2 = lab.runtime()
    assert rt2.wait_idle(30)
    later = lab.delivered()[len(first) :]
    assert sorted(first + later) == sorted(["slow"] + [f"k{i}" for i in range(12)])
    assert len(first + later) == 13  # nothing processed twice


def test_runtime_without_select_runs_every_stream_mapping(lab, moto_endpoint, tmp_path):
    lab.table()
    lab.function(RECORDING)
    lab.mapping()
    lab.put("a")
    rt = Runtime(
        moto_endpoint,
        tmp_path / "all",
        poll_interval=0.05,
        refresh_interval=0.1,
        credentials=lab.credentials,  # the suite's account: every mapping there
    )
    with rt:
        assert lab.mapping_uuids[0] in rt.mappings()
        assert lab.wait_for(lambda: lab.delivered() == ["a"])


def test_polling_does_not_grow_the_emulators_iterator_map(lab):
    from moto.dynamodbstreams.models import dynamodbstreams_backends

    lab.table()
    lab.function(RECORDING)
    lab.mapping()
    rt = lab.runtime(poll_interval=0.01)
    lab.put("a")
    assert rt.wait_idle(20)
    time.sleep(0.5)  # about 50 idle polls
    iterators = dynamodbstreams_backends[lab.account]["us-east-1"].shard_iterators
    mine = [k for k in iterators if f"table/{lab.name}/" in k]
    assert len(mine) <= 2


def test_latest_is_resolved_once_then_the_checkpoint_rules(lab):
    # LATEST means "after the mapping started", once: records written while the runtime is
    # down are not skipped by the next runtime.
    lab.table()
    lab.function(RECORDING)
    lab.put("before")
    lab.mapping(StartingPosition="LATEST")
    rt = lab.runtime()
    assert rt.wait_idle(15)
    lab.put("a")
    assert rt.wait_idle(15)
    rt.stop()
    lab.put("while-down")
    rt2 = lab.runtime()
    assert rt2.wait_idle(15)
    assert lab.delivered() == ["a", "while-down"]


def test_invalid_filter_criteria_pause_the_mapping_without_losing_records(lab):
    # Lambda refuses such filter criteria, and so does the emulator now
    # (test_runtime_validation); a mapping holding them anyway (an emulator state saved by an
    # older version) is paused: the runtime reads and checkpoints nothing until they are fixed.
    from moto.awslambda.utils import get_backend

    lab.table()
    lab.function(RECORDING)
    bad = {"Filters": [{"Pattern": json.dumps({"eventName": [{"bogus-operator": 1}]})}]}
    uuid = lab.mapping()
    get_backend(lab.account, "us-east-1").get_event_source_mapping(uuid).filter_criteria = bad
    lab.put("a")
    rt = lab.runtime()
    assert lab.wait_for(lambda: any(e["type"] == "error" for e in lab.events))
    assert not rt.wait_idle(1.0) and lab.calls() == []
    good = {"Filters": [{"Pattern": json.dumps({"eventName": ["INSERT"]})}]}
    lab.lam.update_event_source_mapping(UUID=uuid, FilterCriteria=good)
    assert rt.wait_idle(20)
    assert lab.delivered() == ["a"]


def test_mapping_changes_reach_the_running_runtime(lab):
    # A change to the mapping applies without a restart: a record retried without limit is
    # given up on once MaximumRetryAttempts and an on-failure destination are set.
    lab.table()
    lab.function(
        """
def handler(event, context):
    record(event)
    if "bad" in [r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"]]:
        raise ValueError("bad")
"""
    )
    url, arn = lab.queue()
    uuid = lab.mapping()
    rt = lab.runtime()
    lab.put("bad")
    assert lab.wait_for(lambda: len(lab.calls()) >= 2)  # failing, retried (no retry limit)
    lab.lam.update_event_source_mapping(
        UUID=uuid, MaximumRetryAttempts=0, DestinationConfig={"OnFailure": {"Destination": arn}}
    )
    assert rt.wait_idle(20)
    (doc,) = lab.messages(url, want=1)
    assert doc["requestContext"]["condition"] == "RetryAttemptsExhausted"
    lab.put("good")
    assert rt.wait_idle(20)
    assert lab.delivered()[-1] == "good"
    assert not any(e["type"] == "mapping-stopped" for e in lab.events)  # not restarted


def test_a_deleted_mappings_checkpoints_are_forgotten_after_its_last_batch(lab):
    # The mapping is deleted while a batch is in flight: that batch still finishes, and its
    # checkpoint must not bring the deleted mapping back into the checkpoint file.
    lab.table()
    lab.function(
        """
import time
def handler(event, context):
    record(event)
    time.sleep(1.0)
""",
        timeout=5,
    )
    uuid = lab.mapping()
    rt = lab.runtime()
    lab.put("a")
    assert lab.wait_for(lambda: len(lab.calls()) == 1)  # in flight
    lab.lam.delete_event_source_mapping(UUID=uuid)
    assert lab.wait_for(lambda: uuid not in rt.mappings())
    rt.stop(timeout=10)  # lets the in-flight batch finish
    assert any(e["type"] == "invoke" for e in lab.events)
    state = json.loads((lab.state_dir / "checkpoints.json").read_text())
    assert uuid not in state["mappings"]
