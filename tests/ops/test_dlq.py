"""dlq list / replay against the in-process emulator: a table with its stream, the function's
configuration, the DLQ, the audit bucket and the topic, built with boto3 (no Terraform; the
local stack's end-to-end cycle is tests/local/test_dlq_cycle.py)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from ops_helpers import MiniStack, state_dir_for

from ddbstream import cli
from ddbstream.errors import UserError
from ddbstream.ops import dlq, target


def test_replay_refuses_while_the_function_configuration_is_invalid(mini: MiniStack) -> None:
    seqs = mini.put(2, "bad")
    mini.send(mini.failure_record(seqs))
    with pytest.raises(UserError, match=r"invalid configuration \(SNS_TOPIC_ARN: 'invalid-arn'"):
        dlq.replay(mini.d, wait_in_flight=0)
    assert len(mini.dlq_bodies()) == 1, "nothing is deleted when the replay cannot run"
    assert mini.audit_event_ids() == []


def test_replay_runs_the_batch_through_the_function_pipeline_then_deletes_it(
    mini: MiniStack,
) -> None:
    seqs = mini.put(3, "ok")
    mini.send(mini.failure_record(seqs))
    foreign = mini.send("a message someone sent by hand")
    mini.set_topic(mini.topic)

    listed = dlq.list_records(mini.d)
    assert sorted((str(entry.readable), entry.where) for entry in listed) == [
        ("None", "not JSON (JSONDecodeError)"),
        ("True", "stream"),
    ]
    assert len(mini.dlq_bodies()) == 2, "listing removes nothing"

    report = dlq.replay(mini.d, wait_in_flight=0)
    assert report.count("replayed") == 1
    assert report.count("foreign") == 1 and report.exit_code == dlq.EXIT_KEPT
    assert report.totals()["changes"] == 3
    assert report.totals()["notifications"] == 3
    ids = mini.audit_event_ids()
    assert len(ids) == 3 and len(set(ids)) == 3
    notes = mini.notifications()
    assert len(notes) == 3
    assert all(n["MessageAttributes"][dlq.REPLAY_ATTRIBUTE]["Value"] == "true" for n in notes)
    assert {json.loads(n["Message"])["event_id"] for n in notes} == set(ids)
    assert mini.dlq_bodies() == ["a message someone sent by hand"], "the foreign one is kept"
    assert [r.id for r in report.kept] == [foreign]

    # a second replay adds nothing to the audit log
    again = dlq.replay(mini.d, wait_in_flight=0)
    assert again.count("replayed") == 0
    assert sorted(mini.audit_event_ids()) == sorted(ids)


def test_dry_run_changes_nothing(mini: MiniStack) -> None:
    seqs = mini.put(2, "dry")
    mini.send(mini.failure_record(seqs))
    mini.set_topic(mini.topic)
    report = dlq.replay(mini.d, dry_run=True, wait_in_flight=0)
    assert [r.status for r in report.results] == ["would-replay"]
    assert report.results[0].changes == 2
    assert mini.audit_event_ids() == [] and mini.notifications() == []
    assert len(mini.dlq_bodies()) == 1


def test_no_notify_writes_the_audit_log_only(mini: MiniStack) -> None:
    seqs = mini.put(2, "quiet")
    mini.send(mini.failure_record(seqs))
    mini.set_topic(mini.topic)
    report = dlq.replay(mini.d, notify=False, wait_in_flight=0)
    assert report.count("replayed") == 1
    assert len(mini.audit_event_ids()) == 2
    assert mini.notifications() == []


def test_message_id_and_limit_select_what_is_replayed(mini: MiniStack) -> None:
    mini.set_topic(mini.topic)
    first = mini.send(mini.failure_record(mini.put(1, "m1")))
    second = mini.send(mini.failure_record(mini.put(1, "m2")))
    report = dlq.replay(mini.d, message_ids=[second], wait_in_flight=0)
    assert [(r.id, r.status) for r in report.results] == [(second, "replayed")]
    assert len(mini.dlq_bodies()) == 1
    with pytest.raises(UserError, match="no message nope"):
        dlq.replay(mini.d, message_ids=["nope"], wait_in_flight=0)
    report = dlq.replay(mini.d, limit=1, wait_in_flight=0)
    assert [(r.id, r.status) for r in report.results] == [(first, "replayed")]
    assert mini.dlq_bodies() == []


def test_records_no_longer_in_the_stream_are_reported_and_kept(mini: MiniStack) -> None:
    mini.set_topic(mini.topic)
    seqs = mini.put(1, "gone")
    # a range below the shard's first sequence number: what the stream trimmed
    old = str(int(seqs[0]) - 10_000_000)
    msg = mini.send(
        mini.failure_record([old, old], approximateArrivalOfFirstRecord="2020-01-01T00:00:00Z")
    )
    (entry,) = dlq.list_records(mini.d)
    assert entry.readable is False
    report = dlq.replay(mini.d, wait_in_flight=0)
    assert [(r.id, r.status) for r in report.results] == [(msg, "unreadable")]
    assert report.exit_code == dlq.EXIT_KEPT
    assert len(mini.dlq_bodies()) == 1
    report = dlq.replay(mini.d, discard_expired=True, wait_in_flight=0)
    assert [r.status for r in report.results] == ["discarded"]
    assert mini.dlq_bodies() == [] and report.exit_code == 0


def test_an_empty_dlq_is_nothing_to_do(mini: MiniStack) -> None:
    report = dlq.replay(mini.d, wait_in_flight=0)
    assert report.results == [] and report.exit_code == 0
    assert dlq.list_records(mini.d) == []


def test_a_replay_interrupted_after_the_audit_write_is_run_again_without_duplicates(
    mini: MiniStack,
) -> None:
    mini.set_topic(mini.topic)
    mini.send(mini.failure_record(mini.put(2, "int")))
    queue = dlq.SqsQueue(mini.c("sqs"), mini.dlq_url, visibility=2)
    (item,) = list(queue.iterate())  # a replay took the message ...
    pipe = dlq.load_pipeline(mini.d, mini.function)
    from ddbstream.core.pipeline import process_batch

    records = dlq.read_range(mini.c("dynamodbstreams"), item.record)  # type: ignore[arg-type]
    process_batch(
        records,
        config=pipe.config,
        audit=pipe.audit,
        notifier=pipe.notifier,
        quarantine=pipe.quarantine,
    )
    # ... and died before deleting it: the message comes back once its visibility ends
    waited = dlq.wait_for_in_flight(queue, 10, lambda _s: None)
    assert waited <= 10
    report = dlq.replay(mini.d, wait_in_flight=10)
    assert report.count("replayed") == 1
    ids = mini.audit_event_ids()
    assert len(set(ids)) == 2, "each change once after deduplication by event_id"
    assert len(mini.notifications()) >= 2, "every change notified, at least once"
    assert mini.dlq_bodies() == []


# ---------------------------------------------------------------------------------------------
# the command line, on a state directory that names this emulator (as `ddbstream up` leaves it)
# ---------------------------------------------------------------------------------------------


def test_cli_list_and_replay(
    mini: MiniStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sd = state_dir_for(tmp_path, mini)
    assert cli.main(["dlq", "list", "--state-dir", sd]) == 0
    assert capsys.readouterr().out.startswith("nothing in sqs ")
    assert cli.main(["dlq", "replay", "--state-dir", sd]) == 0
    assert "nothing to replay" in capsys.readouterr().out

    seqs = mini.put(2, "cli")
    mini.send(mini.failure_record(seqs))
    mini.send('{"hello": "world"}')
    assert cli.main(["dlq", "list", "--state-dir", sd]) == 0
    out = capsys.readouterr().out
    assert "2 message(s) in sqs" in out and "1 on-failure record(s), 1 other" in out
    assert f"sequence {seqs[0]} .. {seqs[-1]} (2 record(s))" in out
    assert "RetryAttemptsExhausted · function error Unhandled" in out
    assert "records: readable from the stream for about 23h" in out
    assert "NOT AN ON-FAILURE RECORD (no DDBStreamBatchInfo" in out
    assert cli.main(["dlq", "list", "--json", "--state-dir", sd]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert sorted(m["on_failure_record"] for m in doc["messages"]) == [False, True]

    # still invalid-arn: one line, exit 1, nothing taken
    assert cli.main(["dlq", "replay", "--state-dir", sd]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ddbstream: function fn-") and err.count("\n") == 1
    mini.set_topic(mini.topic)
    assert cli.main(["dlq", "replay", "--state-dir", sd]) == dlq.EXIT_KEPT
    captured = capsys.readouterr()
    assert "replayed [sqs]" in captured.out and "2 changes" in captured.out
    assert "foreign [sqs]" in captured.out
    assert "1 message(s) kept" in captured.err
    assert len(mini.audit_event_ids()) == 2


@pytest.mark.parametrize("verb", ["list", "replay"])
def test_cli_without_a_stack_or_with_a_wrong_terraform_dir_is_one_line(
    verb: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["dlq", verb, "--state-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ddbstream: no local stack is running") and err.count("\n") == 1
    assert cli.main(["dlq", verb, "--terraform-dir", str(tmp_path / "nope")]) == 1
    err = capsys.readouterr().err
    assert err == f"ddbstream: --terraform-dir {tmp_path / 'nope'}: no such directory\n"


def test_a_long_read_yields_each_message_once_and_gives_back_the_latest_handles(
    mini: MiniStack,
) -> None:
    ids = [mini.send(f"m{i}") for i in range(3)]
    queue = dlq.SqsQueue(mini.c("sqs"), mini.dlq_url, visibility=1)
    got = []
    for item in queue.iterate():
        got.append(item)
        time.sleep(1.5)  # longer than the visibility: seen messages come back meanwhile
    assert sorted(i.id for i in got) == sorted(ids)
    queue.release(got)  # with each message's newest handle: all visible again at once
    assert sorted(b for b in mini.dlq_bodies()) == ["m0", "m1", "m2"]


def test_explicit_function_name_finds_the_dlq_bucket_and_stream(
    mini: MiniStack, capsys: pytest.CaptureFixture[str]
) -> None:
    """--function-name: the deployment named by its function, without Terraform outputs (the
    session's AWS_ENDPOINT_URL points boto3 at the emulator, as a user's settings would)."""
    d = target.from_function(mini.function)
    assert d.outputs["dlq_url"].endswith(mini.dlq_url.rsplit("/", 1)[1])
    assert d.outputs["s3_bucket_name"] == mini.bucket
    assert d.outputs["dynamodb_stream_arn"] == mini.stream_arn
    assert d.outputs["dynamodb_table_name"] == mini.table
    mini.set_topic(mini.topic)
    mini.send(mini.failure_record(mini.put(1, "byname")))
    assert cli.main(["dlq", "replay", "--function-name", mini.function]) == 0
    assert "1 replayed" in capsys.readouterr().out
    assert cli.main(["dlq", "list", "--function-name", "no-such-function"]) == 1
    assert capsys.readouterr().err == (
        "ddbstream: --function-name no-such-function: no such function\n"
    )


def test_a_record_of_another_function_that_is_gone_is_kept_and_the_rest_replayed(
    mini: MiniStack,
) -> None:
    mini.set_topic(mini.topic)
    ours = mini.send(mini.failure_record(mini.put(1, "ours")))
    other = mini.failure_record(mini.put(1, "theirs"))
    other["requestContext"]["functionArn"] = mini.function_arn.replace(mini.function, "gone-fn")
    theirs = mini.send(other)
    report = dlq.replay(mini.d, wait_in_flight=0)
    status = {r.id: (r.status, r.detail) for r in report.results}
    assert status[ours][0] == "replayed"
    assert status[theirs] == ("failed", "kept: function gone-fn not found: is the stack deployed?")
    assert report.exit_code == dlq.EXIT_KEPT and len(mini.dlq_bodies()) == 1


def test_a_record_naming_a_shard_or_sequence_number_the_api_refuses_is_unreadable(
    mini: MiniStack,
) -> None:
    """A record whose shard id or sequence numbers DynamoDB Streams' API refuses outright (too
    short for its length constraints) is listed as unreadable and kept, not a traceback
    (found: botocore's ParamValidationError escaped `dlq list`)."""
    mini.set_topic(mini.topic)
    msg = mini.send(mini.failure_record(["1", "5"], shardId="shardId-nope"))
    (entry,) = dlq.list_records(mini.d)
    assert entry.readable is False and "shardId-nope" in entry.where
    report = dlq.replay(mini.d, wait_in_flight=0)
    assert [(r.id, r.status) for r in report.results] == [(msg, "unreadable")]
    assert len(mini.dlq_bodies()) == 1
