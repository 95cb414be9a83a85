"""The batch pipeline's outcomes: what is delivered, quarantined, and reported for retry."""

from __future__ import annotations

import json
import time

from ddbstream.core.audit import read_audit_body
from ddbstream.core.pipeline import PipelineConfig, process_batch
from ddbstream.core.rules import parse_rules
from ddbstream.testing.memory import MemoryAudit, MemoryNotifier, MemoryQuarantine
from ddbstream.testing.records import activity, stream_record

KEYS = {"UserId": "u1", "ActivityId": "a1"}
T0 = 1_764_064_800


def good(i, name="INSERT", ts=T0):  # type: ignore[no-untyped-def]
    return stream_record(
        name, KEYS, activity(f"u{i}", i), activity(f"u{i}", i, "OLD"), seq=i + 1, ts=ts
    )


def poison(i):  # type: ignore[no-untyped-def]
    """Poison as a whole: its keys do not decode (see partial() for an image value)."""
    rec = good(i)
    rec["dynamodb"]["Keys"]["ActivityId"] = {"N": "not-a-number"}
    return rec


def run(records, config=None, **sinks):  # type: ignore[no-untyped-def]
    audit = sinks.pop("audit", MemoryAudit())
    notifier = sinks.pop("notifier", MemoryNotifier())
    quarantine = sinks.pop("quarantine", MemoryQuarantine())
    result = process_batch(
        records,
        config=config or PipelineConfig(),
        audit=audit,
        notifier=notifier,
        quarantine=quarantine,
        **sinks,
    )
    return result, audit, notifier, quarantine


def seq(i):  # type: ignore[no-untyped-def]
    return str(i + 1).zfill(21)


def test_happy_batch_one_audit_object_and_a_notification_per_change():
    recs = [good(i, name) for i, name in enumerate(["INSERT", "MODIFY", "REMOVE"] * 10)]
    result, audit, notifier, quarantine = run(recs)
    assert result.failures == []
    assert [o.status for o in result.outcomes] == ["delivered"] * 30
    assert audit.calls == 1
    (obj,) = audit.objects.values()
    assert len(read_audit_body(obj.body)) == 30
    assert [n.index for n in notifier.sent] == list(range(30))
    assert notifier.calls == 3  # PublishBatch: 10 per call
    assert quarantine.calls == 0
    assert result.changes_by_event == {"INSERT": 10, "MODIFY": 10, "REMOVE": 10}


def test_poison_record_is_quarantined_and_does_not_block():
    recs = [good(0), poison(1), good(2)]
    result, audit, notifier, quarantine = run(recs)
    assert result.failures == []
    assert [o.status for o in result.outcomes] == ["delivered", "quarantined", "delivered"]
    (q,) = quarantine.objects.values()
    assert q.key.startswith("quarantine/table=UserActivities/")
    assert b"not-a-number" in q.body and b"is not a number" in q.body
    rows = read_audit_body(next(iter(audit.objects.values())).body)
    assert [r["sequence_number"] for r in rows] == [seq(0), seq(2)]
    assert [n.index for n in notifier.sent] == [0, 2]
    assert result.records_quarantined == 1


# The example event of AWS's documentation ("Using AWS Lambda with Amazon DynamoDB"), the
# shape of the Lambda console's DynamoDB test event: no ApproximateCreationDateTime at all.
SAMPLE_STREAM = (
    "arn:aws:dynamodb:us-west-2:111122223333:table/TestTable/stream/2015-05-11T21:21:33.291"
)
AWS_SAMPLE_EVENT = {
    "Records": [
        {
            "eventID": "1",
            "eventVersion": "1.0",
            "dynamodb": {
                "Keys": {"Id": {"N": "101"}},
                "NewImage": {"Message": {"S": "New item!"}, "Id": {"N": "101"}},
                "StreamViewType": "NEW_AND_OLD_IMAGES",
                "SequenceNumber": "111",
                "SizeBytes": 26,
            },
            "awsRegion": "us-west-2",
            "eventName": "INSERT",
            "eventSourceARN": SAMPLE_STREAM,
            "eventSource": "aws:dynamodb",
        },
        {
            "eventID": "2",
            "eventVersion": "1.0",
            "dynamodb": {
                "OldImage": {"Message": {"S": "New item!"}, "Id": {"N": "101"}},
                "SequenceNumber": "222",
                "Keys": {"Id": {"N": "101"}},
                "SizeBytes": 59,
                "NewImage": {"Message": {"S": "This item has changed"}, "Id": {"N": "101"}},
                "StreamViewType": "NEW_AND_OLD_IMAGES",
            },
            "awsRegion": "us-west-2",
            "eventName": "MODIFY",
            "eventSourceARN": SAMPLE_STREAM,
            "eventSource": "aws:dynamodb",
        },
    ]
}


def test_aws_sample_event_is_processed_and_its_lines_say_the_creation_time_is_missing():
    received = 1_764_067_230.5  # 2025-11-25T10:40:30.5Z: the batch's arrival
    audit, notifier, quarantine = MemoryAudit(), MemoryNotifier(), MemoryQuarantine()
    result = process_batch(
        AWS_SAMPLE_EVENT["Records"],
        config=PipelineConfig(),
        audit=audit,
        notifier=notifier,
        quarantine=quarantine,
        received_at=received,
    )
    assert [o.status for o in result.outcomes] == ["delivered", "delivered"]
    assert quarantine.calls == 0 and result.failures == []
    ((key, obj),) = audit.objects.items()
    # the partition of the hour the batch arrived in
    assert key.startswith("audit-logs/table=TestTable/year=2025/month=11/day=25/hour=10/")
    insert, modify = read_audit_body(obj.body)
    for row in (insert, modify):
        assert row["approximate_creation_time"] is None  # the creation time is missing
        assert row["event_time"] == "2025-11-25T10:40:30Z"
    assert modify["changed_attributes"] == ["Message"]
    assert modify["old_image"] == {"Message": "New item!", "Id": 101}
    assert [n.index for n in notifier.sent] == [0, 1]


def test_failed_quarantine_write_is_a_failure_from_that_record():
    recs = [good(0), poison(1), good(2)]
    result, *_ = run(recs, quarantine=MemoryQuarantine(fail=lambda q: True))
    assert result.failures == [seq(1), seq(2)]
    assert result.outcomes[0].status == "delivered"


def test_audit_failure_fails_the_whole_object_and_sends_no_notifications():
    result, _, notifier, _ = run(
        [good(i) for i in range(5)], audit=MemoryAudit(fail=lambda o: True)
    )
    assert result.failures == [seq(i) for i in range(5)]
    assert notifier.calls == 0
    assert result.audit_objects_written == 0


def test_audit_failure_of_a_later_partition_keeps_earlier_changes_delivered():
    recs = [good(0, ts=T0 - 10), good(1, ts=T0 - 5), good(2, ts=T0), good(3, ts=T0 + 1)]
    audit = MemoryAudit(fail=lambda o: "hour=10" in o.key)
    result, _, notifier, _ = run(recs, audit=audit)
    assert result.failures == [seq(2), seq(3)]
    assert [n.index for n in notifier.sent] == [0, 1]  # nothing published past the failure


def test_sns_entry_failure_reports_from_that_change():
    recs = [good(i) for i in range(15)]
    notifier = MemoryNotifier(fail_entry=lambda n: n.index == 12)
    result, *_ = run(recs, notifier=notifier)
    assert result.failures == [seq(i) for i in range(12, 15)]
    assert all(o.status == "delivered" for o in result.outcomes[:12])
    assert result.notifications_sent == 14  # 13 and 14 went out in the same call (retried too)


def test_sns_call_failure_stops_publishing():
    recs = [good(i) for i in range(25)]
    notifier = MemoryNotifier(fail_call=lambda batch: batch[0].index == 10)
    result, _, notifier, _ = run(recs, notifier=notifier)
    assert result.failures == [seq(i) for i in range(10, 25)]
    assert notifier.calls == 2
    assert result.notifications_sent == 10


def test_rules_select_what_is_published():
    rules = parse_rules('{"rules":[{"name":"mods","events":["MODIFY"]}]}')
    recs = [good(i, name) for i, name in enumerate(["INSERT", "MODIFY", "REMOVE"])]
    result, _, notifier, _ = run(recs, PipelineConfig(rules=rules))
    assert [n.index for n in notifier.sent] == [1]
    assert result.failures == []


def test_running_out_of_time_reports_the_rest_without_calls():
    result, audit, notifier, _ = run([good(i) for i in range(3)], should_stop=lambda: True)
    assert result.failures == [seq(i) for i in range(3)]
    assert audit.calls == 0 and notifier.calls == 0
    assert result.stopped_early


def test_time_runs_out_between_notification_calls():
    calls = iter([False, False, True])  # audit ok, first publish ok, then out of time
    result, _, notifier, _ = run([good(i) for i in range(20)], should_stop=lambda: next(calls))
    assert result.failures == [seq(i) for i in range(10, 20)]
    assert notifier.calls == 1


def test_on_change_is_called_per_decoded_change_in_order():
    seen: list[int] = []
    run([good(0), poison(1), good(2)], on_change=lambda i, ev: seen.append(i))
    assert seen == [0, 2]


def test_empty_batch():
    result, audit, notifier, _ = run([])
    assert result.failures == [] and audit.calls == 0 and notifier.calls == 0


def test_concurrent_publishing_sends_every_notification_once():
    recs = [good(i) for i in range(95)]
    result, _, notifier, _ = run(recs, PipelineConfig(publish_concurrency=4))
    assert result.failures == []
    assert sorted(n.index for n in notifier.sent) == list(range(95))
    assert notifier.calls == 10


def test_concurrent_publishing_stops_within_the_window_of_a_failure():
    recs = [good(i) for i in range(95)]
    notifier = MemoryNotifier(fail_entry=lambda n: n.index == 25)
    result, _, notifier, _ = run(recs, PipelineConfig(publish_concurrency=4), notifier=notifier)
    assert result.failures == [seq(i) for i in range(25, 95)]
    # chunk 2 (20-29) failed; chunk k goes out only once chunk k-4 is done: at most chunks 3-5
    # were in flight with it, nothing after them
    assert 3 <= notifier.calls <= 6
    assert max(n.index for n in notifier.sent) < 60
    assert all(o.status == "delivered" for o in result.outcomes[:25])


class _SlowFirstCall(MemoryNotifier):
    """The call holding change 0 answers after the others: records how many calls had started
    by the time it answered."""

    started_when_first_answered: int = -1

    def publish(self, batch):  # type: ignore[no-untyped-def]
        if batch[0].index == 0:
            time.sleep(0.3)
            self.started_when_first_answered = self.calls + 1
        return super().publish(batch)


def test_the_window_slides_over_the_oldest_unfinished_call():
    recs = [good(i) for i in range(95)]
    notifier = _SlowFirstCall()
    result, _, notifier, _ = run(recs, PipelineConfig(publish_concurrency=4), notifier=notifier)
    assert result.failures == [] and notifier.calls == 10
    # chunks 1-3 answered long before chunk 0, yet chunk 4 waited for it: 4 calls at most
    assert notifier.started_when_first_answered <= 4


def test_audit_failure_publishes_nothing_even_though_messages_were_built_meanwhile():
    recs = [good(i) for i in range(30)]
    audit = MemoryAudit(fail=lambda o: True)
    result, _, notifier, _ = run(recs, PipelineConfig(publish_concurrency=4), audit=audit)
    assert notifier.calls == 0 and result.notifications == []
    assert result.failures == [seq(i) for i in range(30)]


def test_fifo_topic_publishes_one_call_at_a_time_in_order():
    recs = [good(i) for i in range(30)]
    notifier = MemoryNotifier(fail_entry=lambda n: n.index == 12)
    cfg = PipelineConfig(publish_concurrency=4, fifo_topic=True)
    result, _, notifier, _ = run(recs, cfg, notifier=notifier)
    assert notifier.calls == 2
    assert result.failures == [seq(i) for i in range(12, 30)]


def test_a_partially_undecodable_change_is_audited_and_its_raw_record_quarantined() -> None:
    """Keys and new image fine, old-image values undecodable: the change is in the audit log
    with what decodes, the bad attributes named, and the raw record sits in quarantine."""
    rec = good(1, "MODIFY")
    rec["dynamodb"]["OldImage"]["Timestamp"] = {"N": "not-a-number"}
    rec["dynamodb"]["OldImage"]["Blob"] = {"XX": "?"}
    result, audit, notifier, quarantine = run([good(0), rec, good(2)])
    assert result.failures == []
    lines = [ln for obj in audit.objects.values() for ln in read_audit_body(obj.body)]
    assert len(lines) == 3
    partial = lines[1]
    assert partial["keys"] == KEYS and partial["new_image"] == activity("u1", 1)
    assert "Timestamp" not in partial["old_image"] and "Blob" not in partial["old_image"]
    assert set(partial["undecodable_attributes"]) == {"old_image.Timestamp", "old_image.Blob"}
    assert "not-a-number" in partial["undecodable_attributes"]["old_image.Timestamp"]
    assert "Timestamp" not in (partial["changed_attributes"] or [])  # unknown: not claimed
    assert "undecodable_attributes" not in lines[0]
    assert result.records_quarantined == 1
    (q,) = quarantine.objects.values()
    body = json.loads(q.body)
    assert body["record"] == rec and "old_image.Timestamp" in body["error"]
    assert len(notifier.sent) == 3  # every change notified (default rules)


def test_a_failed_quarantine_of_a_partial_change_retries_it() -> None:
    rec = good(1)
    rec["dynamodb"]["NewImage"]["Bad"] = {"N": "x"}
    result, _, _, _ = run([good(0), rec], quarantine=MemoryQuarantine(fail=lambda q: True))
    assert result.failures == [rec["dynamodb"]["SequenceNumber"]]


def test_an_sns_outage_writes_each_change_at_most_twice() -> None:
    """SNS down for six invocations while changes keep arriving: every retry starts from the
    same change with more records after it. Each change lands in the audit log (objects as S3
    keeps them: a PUT to an existing key replaces it) at most twice, none is lost."""
    stream = [good(i) for i in range(60)]
    audit, outage = MemoryAudit(), {"left": 6}

    def failing(batch: object) -> bool:
        return outage["left"] > 0

    notifier = MemoryNotifier(fail_call=failing)
    checkpoint, arrived, invocations = 0, 8, 0
    while checkpoint < len(stream):
        batch = stream[checkpoint:arrived]
        result, *_ = run(batch, audit=audit, notifier=notifier)
        invocations += 1
        done = len(batch)
        if result.failures:
            first = result.failures[0]
            done = next(i for i, r in enumerate(batch) if r["dynamodb"]["SequenceNumber"] == first)
        checkpoint += done
        outage["left"] -= 1
        arrived = min(len(stream), arrived + 8)
    copies: dict[str, int] = {}
    for obj in audit.objects.values():
        for line in read_audit_body(obj.body):
            copies[line["sequence_number"]] = copies.get(line["sequence_number"], 0) + 1
    assert len(copies) == len(stream)  # nothing lost
    assert max(copies.values()) <= 2, copies
    assert invocations >= 7
