"""The local stack's notification inbox against the in-process emulator: one subscription however
often it starts, every published message drained into the file as its subscriber got it, the
queue left empty."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from ddbstream.local import clients, emulator
from ddbstream.local.monitoring import inbox


def test_inbox_drains_the_topic_into_the_file(aws_client: Any, tmp_path: Path) -> None:
    sns, sqs = aws_client("sns"), aws_client("sqs")
    topic = sns.create_topic(Name=f"t-{uuid.uuid4().hex[:8]}")["TopicArn"]
    path = tmp_path / inbox.INBOX_FILE
    box = inbox.Inbox(aws_client, topic, path, wait_seconds=0)
    url = box.subscribe()
    box.subscribe()  # a restarted stack subscribes again: still one subscription
    subs = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [s["Endpoint"].rsplit(":", 1)[-1] for s in subs] == [inbox.QUEUE_NAME]

    for i in range(12):
        sns.publish(
            TopicArn=topic,
            Subject=f"s{i}",
            Message=f"m{i}",
            MessageAttributes={"eventName": {"DataType": "String", "StringValue": "INSERT"}},
        )
    assert emulator.deliveries.settle(timeout=30)  # SNS delivers after Publish answered
    while box.drain_once():
        pass
    got = inbox.read(path)
    assert sorted(r["Message"] for r in got) == sorted(f"m{i}" for i in range(12))
    first = got[0]
    assert first["Type"] == "Notification" and first["TopicArn"] == topic
    assert first["MessageAttributes"]["eventName"]["Value"] == "INSERT"
    assert "received" in first and "Timestamp" in first
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "0"
    assert attrs["ApproximateNumberOfMessagesNotVisible"] == "0"  # deleted, not just received
    sqs.delete_queue(QueueUrl=url)  # the session's emulator is shared


def test_inbox_rotates_and_readers_follow_across_the_rotation(
    aws_client: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    """Past MAX_BYTES the file becomes notifications.jsonl.1 and a new one starts: the inbox stays
    bounded; `ddbstream notifications` lists the kept ones once, in order, and `-f` follows
    across a rotation."""
    from ddbstream.ops import notifications

    sns = aws_client("sns")
    topic = sns.create_topic(Name=f"t-{uuid.uuid4().hex[:8]}")["TopicArn"]
    path = tmp_path / inbox.INBOX_FILE
    box = inbox.Inbox(aws_client, topic, path, wait_seconds=0)
    url = box.subscribe()
    monkeypatch.setattr(inbox, "MAX_BYTES", 2000)

    def publish(first: int, n: int) -> None:
        for i in range(first, first + n):
            sns.publish(TopicArn=topic, Message=f"m{i:02d}")
            assert emulator.deliveries.settle(timeout=30)
            while box.drain_once():
                pass

    follower = notifications._from_file(path, follow=True, start=0)
    publish(0, 2)
    assert [next(follower)["Message"] for _ in range(2)] == ["m00", "m01"]
    publish(2, 4)  # the file passes 2000 bytes: rotated at least once
    assert inbox.rotated(path).exists()
    assert [next(follower)["Message"] for _ in range(4)] == ["m02", "m03", "m04", "m05"]

    publish(6, 24)
    kept = [r["Message"] for r in inbox.read(path)]
    assert kept == sorted(kept) and kept[-1] == "m29" and len(kept) < 30  # bounded
    assert path.stat().st_size + inbox.rotated(path).stat().st_size < 3 * 2000
    listed = [r["Message"] for r in notifications._from_file(path, follow=False, start=0)]
    assert listed == kept
    aws_client("sqs").delete_queue(QueueUrl=url)


@pytest.mark.slow
def test_stopping_while_notifications_pour_in_is_bounded_and_loses_none(
    aws_client: Any, tmp_path: Path
) -> None:
    """A busy stack publishes one notification per change while it stops (seen: `ddbstream
    down` gave up after 150 s, the inbox draining a queue that never emptied). The final
    drain is bounded; what it leaves stays queued for the next start."""
    topic = aws_client("sns").create_topic(Name=f"t-{uuid.uuid4().hex[:8]}")["TopicArn"]
    path = tmp_path / inbox.INBOX_FILE
    box = inbox.Inbox(aws_client, topic, path, wait_seconds=0)
    box.start()
    published: list[str] = []
    pouring = threading.Event()
    pouring.set()

    def publish(n: int) -> None:
        sns = clients.client("sns", aws_client.endpoint)  # a client per thread
        i = 0
        while pouring.is_set():
            batch = [f"p{n}-{i + j}" for j in range(10)]
            entries = [{"Id": str(j), "Message": m} for j, m in enumerate(batch)]
            sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=entries)
            published.extend(batch)
            i += 10

    publishers = [threading.Thread(target=publish, args=(n,)) for n in range(3)]
    for t in publishers:
        t.start()
    while len(published) < 100:
        time.sleep(0.05)
    stopper = threading.Thread(target=box.stop, kwargs={"drain_seconds": 1.0})
    stopper.start()
    stopper.join(timeout=30)
    stopped = not stopper.is_alive()
    pouring.clear()
    for t in publishers:
        t.join()
    try:
        assert stopped, "Inbox.stop kept draining while notifications kept coming"
        assert emulator.deliveries.settle(timeout=60)
        while box.drain_once():  # the next start's drain
            pass
        got = [r["Message"] for r in inbox.read(path)]
        assert set(got) == set(published), "a notification was lost"
        print(f"\n{len(published)} published while stopping; {len(got)} lines (at least once)")
    finally:
        aws_client("sqs").delete_queue(QueueUrl=box.queue_url)  # the emulator is shared
