"""The emulator's state on disk: nothing acknowledged is lost to `kill -9` or to `down` under load.

A child process serves a :class:`DurableEmulator` on a free port; the test writes to it from
several threads (DynamoDB with a stream, S3, SNS messages to a topic an SQS queue subscribes to:
delivered after Publish answers), keeps what was acknowledged, then kills the child
(SIGKILL: no chance to save) or stops it (SIGTERM: what `ddbstream down` sends) while the writes
go on, starts a new child on the same state directory and reconciles.
"""

from __future__ import annotations

import contextlib
import io
import json
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from ddbstream.local import clients, journal

SERVE = textwrap.dedent(
    """
    import json, signal, sys, threading
    from pathlib import Path
    from ddbstream.local.durable import DurableEmulator

    d = DurableEmulator(Path(sys.argv[1]), compact_interval=float(sys.argv[2]))
    restored = d.restore()
    emu = d.start()
    d.begin()
    done = threading.Event()
    # An idle kept-alive connection from this process (the runtime's clients hold some):
    # stopping must not wait for it.
    from ddbstream.local import clients
    idle = clients.client("sts", emu.endpoint)
    idle.get_caller_identity()

    def on_term(signum, frame):
        d.stop(save=True)
        done.set()

    signal.signal(signal.SIGTERM, on_term)
    print(json.dumps({"endpoint": emu.endpoint, "restored": restored, "replayed": d.replayed}),
          flush=True)
    # Timed waits, as serve() does: a SIGTERM delivered to one of the request threads only
    # runs its Python handler once the main thread wakes (an untimed wait never does).
    while not done.wait(0.5):
        pass
    """
)


class Child:
    def __init__(self, state_dir: Path, compact_interval: float = 1.0) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SERVE, str(state_dir), str(compact_interval)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.info = json.loads(self.proc.stdout.readline())
        self.endpoint = str(self.info["endpoint"])

    def client(self, service: str) -> Any:
        from botocore.config import Config

        cfg = Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=10)
        return clients.client(service, self.endpoint, config=cfg)

    def end(self, sig: int) -> None:
        self.proc.send_signal(sig)
        self.proc.wait(timeout=60)


class Writers:
    """Threads writing items (and objects) until stopped, and one publishing batches of
    messages; ``acked_*`` hold what was answered."""

    def __init__(self, child: Child, table: str, bucket: str, topic: str, threads: int = 3) -> None:
        self.acked_items: list[str] = []
        self.acked_objects: list[str] = []
        self.acked_messages: list[str] = []
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(child, table, bucket, n))
            for n in range(threads)
        ]
        self._threads.append(threading.Thread(target=self._publish, args=(child, topic)))
        for t in self._threads:
            t.start()

    def _publish(self, child: Child, topic: str) -> None:
        sns = child.client("sns")
        i = 0
        while not self._stop.is_set():
            batch = [f"m-{i + j:05d}" for j in range(10)]
            entries = [{"Id": f"e{j}", "Message": m} for j, m in enumerate(batch)]
            try:
                resp = sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=entries)
            except Exception:
                return
            assert not resp.get("Failed")
            self.acked_messages += batch
            i += 10

    def _run(self, child: Child, table: str, bucket: str, n: int) -> None:
        ddb, s3 = child.client("dynamodb"), child.client("s3")
        i = 0
        while not self._stop.is_set():
            key = f"w{n}-{i:05d}"
            try:
                ddb.put_item(TableName=table, Item={"pk": {"S": key}, "v": {"N": str(i)}})
                self.acked_items.append(key)
                if i % 5 == 0:
                    s3.put_object(Bucket=bucket, Key=f"o/{key}", Body=key.encode())
                    self.acked_objects.append(key)
            except Exception:  # the server went away: the write was not acknowledged
                return
            i += 1

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=30)


def _subscribed_queue(child: Child) -> tuple[str, str]:
    """(topic ARN, queue URL): an SQS queue subscribed to a topic, raw message delivery."""
    sns, sqs = child.client("sns"), child.client("sqs")
    topic = sns.create_topic(Name="durable-topic")["TopicArn"]
    url = sqs.create_queue(QueueName="durable-queue")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    return topic, url


def _messages(child: Child, url: str) -> set[str]:
    """Every message in the queue (received, not deleted: visible again after the test)."""
    sqs = child.client("sqs")
    found: set[str] = set()
    while True:
        resp = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=60
        )
        if not resp.get("Messages"):
            return found
        found.update(m["Body"] for m in resp["Messages"])


def _setup(child: Child) -> tuple[str, str, str]:
    ddb = child.client("dynamodb")
    table = "durable"
    desc = ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    child.client("s3").create_bucket(Bucket="durable-bucket")
    return table, "durable-bucket", str(desc["TableDescription"]["LatestStreamArn"])


def _stream(child: Child, arn: str) -> dict[str, tuple[str, str]]:
    """sequence number -> (eventID, key) of every record in the stream."""
    streams = child.client("dynamodbstreams")
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")[
        "ShardIterator"
    ]
    found: dict[str, tuple[str, str]] = {}
    while it:
        resp = streams.get_records(ShardIterator=it, Limit=1000)
        for r in resp["Records"]:
            found[r["dynamodb"]["SequenceNumber"]] = (
                r["eventID"],
                r["dynamodb"]["Keys"]["pk"]["S"],
            )
        if not resp["Records"]:
            break
        it = resp.get("NextShardIterator")
    return found


def _keys(child: Child, table: str) -> set[str]:
    pages = child.client("dynamodb").get_paginator("scan").paginate(TableName=table)
    return {item["pk"]["S"] for page in pages for item in page["Items"]}


def _objects(child: Child, bucket: str) -> set[str]:
    pages = child.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return {o["Key"][2:] for page in pages for o in page.get("Contents", [])}


@pytest.mark.parametrize("how", ["kill -9", "down"])
def test_nothing_acknowledged_is_lost(tmp_path: Path, how: str) -> None:
    first = Child(tmp_path, compact_interval=1.0)  # snapshots taken while writing, too
    assert first.info == {"endpoint": first.endpoint, "restored": False, "replayed": 0}
    table, bucket, arn = _setup(first)
    topic, queue = _subscribed_queue(first)
    writers = Writers(first, table, bucket, topic)
    deadline = time.monotonic() + 30
    while len(writers.acked_items) < 60 and time.monotonic() < deadline:  # a snapshot or two
        time.sleep(0.2)
    before = _stream(first, arn)  # records (and their ids) a consumer may have seen already
    time.sleep(0.5)
    first.end(signal.SIGKILL if how == "kill -9" else signal.SIGTERM)  # while writes go on
    writers.stop()
    acked = set(writers.acked_items)
    assert len(acked) >= 60 and writers.acked_objects
    if how == "down":  # a clean stop: everything in the snapshot, the journal emptied
        assert not (tmp_path / "emulator.journal").exists()

    second = Child(tmp_path)
    try:
        assert second.info["restored"] is True
        if how == "kill -9":
            assert second.info["replayed"] > 0, "the writes since the last snapshot"
        missing = acked - _keys(second, table)
        assert not missing, f"{len(missing)} acknowledged writes lost, e.g. {sorted(missing)[:5]}"
        assert set(writers.acked_objects) <= _objects(second, bucket)
        after = _stream(second, arn)
        # The records seen before the crash are there with the same sequence numbers and ids
        # (a consumer's checkpoint stays valid, a re-processed change is recognised).
        assert {seq: after.get(seq) for seq in before} == before
        assert acked <= {key for _, key in after.values()}
        # SNS answered each PublishBatch before delivering it (emulator.Deliveries): the
        # deliveries pending at the stop are in the snapshot (down) or made again by the
        # replay of the journaled PublishBatch (kill -9); at least once
        assert writers.acked_messages
        undelivered = set(writers.acked_messages) - _messages(second, queue)
        assert not undelivered, f"{len(undelivered)} acknowledged messages never delivered"
        print(
            f"\n{how}: {len(acked)} items, {len(writers.acked_objects)} objects and "
            f"{len(writers.acked_messages)} messages acknowledged, "
            f"none lost; {second.info['replayed']} journaled requests replayed"
        )
    finally:
        second.end(signal.SIGTERM)


def test_a_torn_last_entry_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "j"
    j = journal.Journal(path, fsync=False)
    env = {"REQUEST_METHOD": "PUT", "PATH_INFO": "/b/k", "HTTP_HOST": "127.0.0.1:1"}
    j.append(env, b"one")
    j.append(env, b"two")
    j.close()
    with open(path, "ab") as f:
        f.write(b'{"seq": 3, "environ": {"REQUEST_')  # the crash hit mid-write
    entries = journal.Journal.read(path)
    assert [(e["seq"], e["body"]) for e in entries] == [(1, b"one"), (2, b"two")]


@pytest.mark.parametrize(
    ("environ", "body", "mutation"),
    [
        ({"REQUEST_METHOD": "GET", "PATH_INFO": "/bucket/key"}, b"", False),
        ({"REQUEST_METHOD": "PUT", "PATH_INFO": "/bucket/key"}, b"x", True),
        ({"REQUEST_METHOD": "DELETE", "PATH_INFO": "/bucket/key"}, b"", True),
        ({"REQUEST_METHOD": "POST", "HTTP_X_AMZ_TARGET": "DynamoDB_20120810.PutItem"}, b"", True),
        ({"REQUEST_METHOD": "POST", "HTTP_X_AMZ_TARGET": "DynamoDB_20120810.Query"}, b"", False),
        (
            {"REQUEST_METHOD": "POST", "HTTP_X_AMZ_TARGET": "DynamoDBStreams_20120810.GetRecords"},
            b"",
            False,
        ),
        (
            {"REQUEST_METHOD": "POST", "CONTENT_TYPE": "application/x-www-form-urlencoded"},
            b"Action=Publish&TopicArn=x",
            True,
        ),
        (
            {"REQUEST_METHOD": "POST", "CONTENT_TYPE": "application/x-www-form-urlencoded"},
            b"Action=ListTopics",
            False,
        ),
        ({"REQUEST_METHOD": "POST", "HTTP_X_AMZ_TARGET": "AmazonSQS.ReceiveMessage"}, b"", False),
        (
            {
                "REQUEST_METHOD": "POST",
                "PATH_INFO": "/service/GraniteServiceVersion20100801/operation/PutMetricData",
            },
            b"",
            True,
        ),
        ({"REQUEST_METHOD": "POST", "PATH_INFO": "/moto-api/reset"}, b"", False),
    ],
)
def test_which_requests_are_journaled(environ: dict[str, str], body: bytes, mutation: bool) -> None:
    assert journal.is_mutation(environ, body) is mutation


def test_the_emulator_serves_loopback_only_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    from ddbstream.errors import UserError
    from ddbstream.local import emulator

    monkeypatch.delenv(emulator.ALLOW_NON_LOOPBACK_ENV, raising=False)
    with pytest.raises(UserError, match=r"refusing to serve the emulator on 0\.0\.0\.0"):
        emulator.start(host="0.0.0.0")
    monkeypatch.setenv(emulator.ALLOW_NON_LOOPBACK_ENV, "1")  # told explicitly: it serves
    emu = emulator.start(host="0.0.0.0")
    try:
        from ddbstream.local.stack import endpoint_healthy

        assert endpoint_healthy(f"http://127.0.0.1:{emu.port}")
    finally:
        emu.stop()
    assert emulator.is_loopback("127.0.0.1") and emulator.is_loopback("::1")
    assert emulator.is_loopback("localhost") and emulator.is_loopback("127.0.0.2")
    assert not emulator.is_loopback("10.0.0.1") and not emulator.is_loopback("example.com")


def test_terraform_and_verbs_refuse_a_non_loopback_endpoint_unless_told(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ddbstream.errors import UserError
    from ddbstream.local import emulator
    from ddbstream.local import terraform as tf

    monkeypatch.delenv(emulator.ALLOW_NON_LOOPBACK_ENV, raising=False)
    with pytest.raises(UserError, match=r"refusing to run Terraform .* http://10\.1\.2\.3:4566"):
        tf.render_override("http://10.1.2.3:4566", "us-east-1", "k", "s")
    with pytest.raises(UserError, match="refusing to use the local stack against"):
        emulator.require_loopback("http://example.com:4566", "use the local stack")
    assert "http://127.0.0.1:4566" in tf.render_override("http://127.0.0.1:4566", "r", "k", "s")
    monkeypatch.setenv(emulator.ALLOW_NON_LOOPBACK_ENV, "1")  # told explicitly
    assert "http://10.1.2.3:4566" in tf.render_override("http://10.1.2.3:4566", "r", "k", "s")
    emulator.require_loopback("http://example.com:4566", "use the local stack")


def test_concurrent_journal_appends_share_one_fsync_and_none_returns_before_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Group commit: while one fsync runs, the entries written meanwhile wait for the next one,
    which covers them all; nobody is answered before an fsync that began after its write."""
    disk = threading.Event()  # the first fsync blocks until set: a slow disk
    calls: list[int] = []
    real_fsync = journal.os.fsync

    def fsync(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 1:
            assert disk.wait(30)
        real_fsync(fd)

    monkeypatch.setattr(journal.os, "fsync", fsync)
    j = journal.Journal(tmp_path / "j")
    env = {"REQUEST_METHOD": "PUT", "PATH_INFO": "/b/k"}
    returned: list[int] = []
    turn = threading.Lock()  # appends one at a time, as DurableApp's mutation turn does

    def write(body: bytes) -> None:
        with turn:
            seq = j.append(env, body, sync=False)
        j.sync(seq)
        returned.append(seq)

    first = threading.Thread(target=write, args=(b"first",))
    first.start()
    while not calls:  # its fsync is under way (blocked)
        time.sleep(0.01)
    others = [threading.Thread(target=write, args=(f"w{i}".encode(),)) for i in range(4)]
    for t in others:
        t.start()
    while j.next_seq < 6:  # all four written, waiting for their fsync
        time.sleep(0.01)
    first.join(timeout=0.2)
    assert first.is_alive() and returned == [], "nothing answered before its fsync"
    disk.set()
    for t in [first, *others]:
        t.join(timeout=30)
    assert sorted(returned) == [1, 2, 3, 4, 5] and j.synced == 5
    assert len(calls) == 2, "the four written during the first fsync shared the second"
    assert journal.Journal.read(tmp_path / "j")[0]["body"] == b"first"


def test_a_mutation_is_answered_only_once_its_journal_entry_is_on_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DurableApp applies mutations in journal order and syncs after the turn (group commit);
    the WSGI response, and a read made meanwhile, come only after the fsync."""
    disk = threading.Event()
    syncing = threading.Event()
    real_fsync = journal.os.fsync

    def fsync(fd: int) -> None:
        syncing.set()
        assert disk.wait(30)
        real_fsync(fd)

    applied: list[str] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        applied.append(str(environ["PATH_INFO"]))
        start_response("200 OK", [])
        return [b"ok"]

    durable = journal.DurableApp(app)
    durable.checkpoint(lambda last: 0, journal_path=tmp_path / "j")
    monkeypatch.setattr(journal.os, "fsync", fsync)
    answered: list[str] = []

    def call(method: str, path: str) -> None:
        env = {"REQUEST_METHOD": method, "PATH_INFO": path, "wsgi.input": io.BytesIO(b"x")}
        env["CONTENT_LENGTH"] = "1"
        durable(env, lambda *a: None)
        answered.append(path)

    put = threading.Thread(target=call, args=("PUT", "/b/k"))
    put.start()
    assert syncing.wait(30)
    read = threading.Thread(target=call, args=("GET", "/b/k"))
    read.start()
    while len(applied) < 2:
        time.sleep(0.01)
    put.join(timeout=0.2)
    read.join(timeout=0.2)
    assert applied == ["/b/k", "/b/k"], "applied before the fsync (the turn is not held)"
    assert answered == [], "neither answered while the PUT's entry is not on disk"
    disk.set()
    put.join(timeout=30)
    read.join(timeout=30)
    assert sorted(answered) == ["/b/k", "/b/k"]
    assert [e["seq"] for e in journal.Journal.read(tmp_path / "j")] == [1]


def _zip() -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("index.py", "def handler(event, context):\n    return None\n")
    return buf.getvalue()


def _create_after_the_snapshot(child: Child) -> dict[str, Any]:
    """Resources of each kind the stack has, created while the journal runs (after the last
    snapshot); returns what a client kept of them (ids, handles, ciphertext)."""
    ddb, lam, iam = child.client("dynamodb"), child.client("lambda"), child.client("iam")
    kms, sqs, sns = child.client("kms"), child.client("sqs"), child.client("sns")
    s3, athena = child.client("s3"), child.client("athena")
    table = ddb.create_table(
        TableName="late",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]
    for i in range(3):
        ddb.put_item(TableName="late", Item={"pk": {"S": f"k{i}"}})
    role = iam.create_role(RoleName="late-role", AssumeRolePolicyDocument="{}")["Role"]
    lam.create_function(
        FunctionName="late-fn",
        Runtime="python3.12",
        Role=role["Arn"],
        Handler="index.handler",
        Code={"ZipFile": _zip()},
    )
    esm = lam.create_event_source_mapping(
        FunctionName="late-fn",
        EventSourceArn=table["LatestStreamArn"],
        StartingPosition="TRIM_HORIZON",
    )
    # Live, a read makes KMS's backend here (not journaled); the replay makes it in CreateKey.
    kms.list_keys()
    key = kms.create_key()["KeyMetadata"]
    kms.create_alias(AliasName="alias/late", TargetKeyId=key["KeyId"])
    blob = kms.encrypt(KeyId="alias/late", Plaintext=b"kept")["CiphertextBlob"]
    url = sqs.create_queue(QueueName="late-q")["QueueUrl"]
    sent = [sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")["MessageId"] for i in range(3)]
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2, VisibilityTimeout=600)
    handles = [m["ReceiptHandle"] for m in got["Messages"]]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=handles[0])  # consumed: must stay consumed
    topic = sns.create_topic(Name="late-topic")["TopicArn"]
    qarn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    sub = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn["QueueArn"])
    published = sns.publish(TopicArn=topic, Message="hello")["MessageId"]
    delivered = ""  # the queue message SNS's delivery made (after Publish answered)
    deadline = time.monotonic() + 30
    while not delivered and time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
        for m in got.get("Messages", []):
            if published in m["Body"]:
                delivered = m["MessageId"]
    assert delivered
    s3.create_bucket(Bucket="late-bucket")
    upload = s3.create_multipart_upload(Bucket="late-bucket", Key="big")["UploadId"]
    part = s3.upload_part(
        Bucket="late-bucket", Key="big", UploadId=upload, PartNumber=1, Body=b"x" * 100
    )["ETag"]
    named = athena.create_named_query(Name="late", Database="db", QueryString="SELECT 1")
    execution = athena.start_query_execution(
        QueryString="SELECT 1", ResultConfiguration={"OutputLocation": "s3://late-bucket/q/"}
    )
    return {
        "stream_arn": table["LatestStreamArn"],
        "mapping": esm["UUID"],
        "key": key["KeyId"],
        "blob": blob,
        "url": url,
        "sent": sent,
        "handles": handles,
        "topic": topic,
        "subscription": sub["SubscriptionArn"],
        "published": published,
        "delivered": delivered,
        "upload": (upload, part),
        "named_query": named["NamedQueryId"],
        "execution": execution["QueryExecutionId"],
    }


def _identities(child: Child, kept: dict[str, Any]) -> dict[str, Any]:
    """Every id and timestamp a client, Terraform or the runtime may hold about those."""
    ddb, lam, iam = child.client("dynamodb"), child.client("lambda"), child.client("iam")
    kms, sqs, sns = child.client("kms"), child.client("sqs"), child.client("sns")
    athena = child.client("athena")
    table = ddb.describe_table(TableName="late")["Table"]
    fn = lam.get_function_configuration(FunctionName="late-fn")
    key = kms.describe_key(KeyId="alias/late")["KeyMetadata"]
    attrs = sqs.get_queue_attributes(QueueUrl=kept["url"], AttributeNames=["All"])["Attributes"]
    streams = child.client("dynamodbstreams")
    shard = streams.describe_stream(StreamArn=kept["stream_arn"])["StreamDescription"]
    it = streams.get_shard_iterator(
        StreamArn=kept["stream_arn"],
        ShardId=shard["Shards"][0]["ShardId"],
        ShardIteratorType="TRIM_HORIZON",
    )["ShardIterator"]
    records = streams.get_records(ShardIterator=it)["Records"]
    return {
        "table": (table["LatestStreamArn"], table["TableArn"], table["CreationDateTime"]),
        "stream records": [
            (
                r["eventID"],
                r["dynamodb"]["SequenceNumber"],
                r["dynamodb"]["ApproximateCreationDateTime"],
            )
            for r in records
        ],
        "role": iam.get_role(RoleName="late-role")["Role"]["RoleId"],
        "function": (fn["FunctionArn"], fn["CodeSha256"], fn["LastModified"]),
        "mappings": [
            (m["UUID"], m["EventSourceArn"], m["LastModified"])
            for m in lam.list_event_source_mappings(FunctionName="late-fn")["EventSourceMappings"]
        ],
        "key": (key["KeyId"], key["Arn"], key["CreationDate"]),
        "alias": [
            a["TargetKeyId"]
            for a in kms.list_aliases()["Aliases"]
            if a["AliasName"] == "alias/late"
        ],
        "decrypted": kms.decrypt(CiphertextBlob=kept["blob"])["Plaintext"],
        "queue": (
            attrs["QueueArn"],
            attrs["CreatedTimestamp"],
            attrs["ApproximateNumberOfMessages"],
            attrs["ApproximateNumberOfMessagesNotVisible"],
        ),
        "subscriptions": [
            s["SubscriptionArn"]
            for s in sns.list_subscriptions_by_topic(TopicArn=kept["topic"])["Subscriptions"]
        ],
        "named queries": athena.list_named_queries()["NamedQueryIds"],
        "execution": athena.get_query_execution(QueryExecutionId=kept["execution"])[
            "QueryExecution"
        ]["QueryExecutionId"],
    }


def test_a_replay_recreates_every_resource_with_the_ids_it_had(tmp_path: Path) -> None:
    """Resources created after the last snapshot are recreated by the journal's replay with the
    ids (ARNs, UUIDs, handles) and timestamps they had: Terraform's state, the runtime's
    checkpoints (keyed by mapping UUID and stream ARN) and a queue consumer's receipt handles
    still name them after `kill -9`. Before the journal kept a seed and time per request, the
    replay drew new ones (found: a new mapping UUID, KMS key id, stream ARN, ...)."""
    first = Child(tmp_path, compact_interval=3600.0)  # no snapshot after the first one
    try:
        kept = _create_after_the_snapshot(first)
        before = _identities(first, kept)
    finally:
        first.end(signal.SIGKILL)

    second = Child(tmp_path, compact_interval=3600.0)
    try:
        assert second.info["restored"] is True and second.info["replayed"] > 20, second.info
        after = _identities(second, kept)
        differ = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
        assert not differ, f"changed by the replay: {differ}"
        sqs, s3 = second.client("sqs"), second.client("s3")
        # The consumed message stays consumed, the in-flight one stays in flight (600 s), the
        # third and the SNS notification are delivered with the ids they were sent with.
        visible = sqs.receive_message(QueueUrl=kept["url"], MaxNumberOfMessages=10)["Messages"]
        ids = {m["MessageId"] for m in visible}
        assert ids & set(kept["sent"]) == {kept["sent"][2]}
        assert kept["delivered"] in ids, "the SNS delivery's message has the id it had"
        sqs.delete_message(QueueUrl=kept["url"], ReceiptHandle=kept["handles"][1])
        # A multipart upload begun before the crash can be completed after it.
        upload, part = kept["upload"]
        s3.complete_multipart_upload(
            Bucket="late-bucket",
            Key="big",
            UploadId=upload,
            MultipartUpload={"Parts": [{"ETag": part, "PartNumber": 1}]},
        )
        assert s3.get_object(Bucket="late-bucket", Key="big")["Body"].read() == b"x" * 100
        print(f"\nkill -9: {second.info['replayed']} journaled requests replayed, every id kept")
    finally:
        second.end(signal.SIGTERM)


def test_a_replayed_request_that_fails_does_not_stop_the_replay(tmp_path: Path) -> None:
    """A request moto failed with an exception (HTTP 500 for its client) fails again when
    replayed; the requests after it are still replayed (found: one such request, an UploadPart
    naming an upload id the replay had drawn anew, made the whole restore give up)."""
    path = tmp_path / "j"
    j = journal.Journal(path, fsync=False)
    for p in ("/a", "/boom", "/c"):
        j.append({"REQUEST_METHOD": "PUT", "PATH_INFO": p}, b"x", seed=f"s/{p}", time=1.5)
    j.append_entry({"receipts": []})
    j.close()
    entries = journal.Journal.read(path)
    assert [e.get("seed") for e in entries] == ["s//a", "s//boom", "s//c", None]
    applied: list[str] = []
    given: list[Any] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if environ["PATH_INFO"] == "/boom":
            raise KeyError("no such upload")
        applied.append(environ["PATH_INFO"])
        return [b""]

    durable = journal.DurableApp(
        app,
        reproducible=lambda seed, at: contextlib.nullcontext(),
        receipts=lambda: contextlib.nullcontext([]),
        apply_receipts=given.append,
    )
    assert durable.replay(entries) == 3
    assert durable.replay_errors == 1 and applied == ["/a", "/c"] and given == [[]]


def _script_result(script: str, state_dir: Path) -> dict[str, Any]:
    """Run ``script`` (a durable emulator of its own on ``state_dir``) in a fresh process;
    the JSON it printed last."""
    out = subprocess.run(
        [sys.executable, "-c", script, str(state_dir)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


COMPACT = textwrap.dedent(
    """
    import json, sys, threading
    from pathlib import Path
    from ddbstream.local import clients, journal, snapshot
    from ddbstream.local.durable import DurableEmulator

    d = DurableEmulator(Path(sys.argv[1]), compact_interval=3600)
    d.restore()
    emu = d.start()
    d.begin()
    ddb = clients.client("dynamodb", emu.endpoint)
    ddb.create_table(
        TableName="t", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.put_item(TableName="t", Item={"pk": {"S": "before"}})
    writing, release = threading.Event(), threading.Event()

    def slow_write(blob):
        writing.set()
        assert release.wait(30)
        return snapshot.write(d.snapshot_path, blob, fsync=True)

    out = {}
    t = threading.Thread(target=lambda: out.update(size=emu.app.compact(
        lambda last: snapshot.dumps({"journal_seq": last}), slow_write)))
    t.start()
    assert writing.wait(30)
    ddb.put_item(TableName="t", Item={"pk": {"S": "during"}})  # answered while it is written
    answered = True
    during = [e["seq"] for e in journal.Journal.read(d.journal_path)]
    release.set()
    t.join(30)
    after = [e["seq"] for e in journal.Journal.read(d.journal_path)]
    meta = snapshot.load_with_meta(d.snapshot_path)[1]
    d.stop(save=False)
    print(json.dumps({"answered": answered, "during": during, "after": after,
                      "snapshot_seq": meta["journal_seq"], "size": out.get("size")}))
    """
)


def test_requests_are_answered_while_a_snapshot_is_written_and_the_journal_keeps_the_rest(
    tmp_path: Path,
) -> None:
    # The state is copied while no request runs; writing the copy to disk (0.5-1 s for a
    # busy stack's 30 MB) no longer holds the stack's requests. Until the copy is on disk the
    # journal keeps every entry; then it drops those the snapshot holds and keeps the later.
    res = _script_result(COMPACT, tmp_path)
    assert res["answered"] and res["size"] > 0
    last = res["snapshot_seq"]
    assert res["during"] and res["during"][-1] > last  # "during" was journaled meanwhile
    assert min(res["during"]) <= last  # nothing dropped before the snapshot was on disk
    assert res["after"] == [s for s in res["during"] if s > last]


def test_dropping_journal_entries_keeps_the_later_ones_and_appends_go_on(tmp_path: Path) -> None:
    j = journal.Journal(tmp_path / "j", fsync=True)
    for i in range(5):
        j.append({"REQUEST_METHOD": "POST", "PATH_INFO": f"/{i}"}, b"x", seed="s", time=1.0)
    j.drop_through(3)
    assert [e["seq"] for e in journal.Journal.read(tmp_path / "j")] == [4, 5]
    assert j.append({"REQUEST_METHOD": "POST", "PATH_INFO": "/5"}, b"y") == 6
    assert [e["seq"] for e in journal.Journal.read(tmp_path / "j")] == [4, 5, 6]
    assert j.synced == 6 and j.appended == 3
    j.close()


LONG_POLL = textwrap.dedent(
    """
    import json, sys, threading, time
    from pathlib import Path
    from botocore.config import Config
    from ddbstream.local import clients
    from ddbstream.local.durable import DurableEmulator

    d = DurableEmulator(Path(sys.argv[1]), compact_interval=3600)
    d.restore()
    emu = d.start()
    d.begin()
    cfg = Config(retries={"max_attempts": 1}, read_timeout=30)
    ddb, sqs = (clients.client(s, emu.endpoint, config=cfg) for s in ("dynamodb", "sqs"))
    ddb.create_table(
        TableName="t", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    url = sqs.create_queue(QueueName="polled")["QueueUrl"]
    out = {}

    def poll(name, wait):
        start = time.monotonic()
        try:
            got = clients.client("sqs", emu.endpoint, config=cfg).receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait)
            out[name] = [m["Body"] for m in got.get("Messages", [])]
        except Exception as exc:  # the stack stopping
            out[name] = type(exc).__name__
        out[name + "_s"] = time.monotonic() - start

    polling = threading.Thread(target=poll, args=("poll", 10))
    polling.start()
    time.sleep(1.0)  # the receive is waiting on the empty queue
    start = time.monotonic()
    snapshotted = threading.Thread(target=lambda: out.update(size=d.compact()))
    snapshotted.start()
    ddb.put_item(TableName="t", Item={"pk": {"S": "meanwhile"}})
    out["put_s"] = time.monotonic() - start
    snapshotted.join(30)
    out["compact_s"] = time.monotonic() - start
    out["polling_after_both"] = polling.is_alive()
    sqs.send_message(QueueUrl=url, MessageBody="hello")
    polling.join(30)
    poll("empty", 2)  # nothing sent: empty once the wait is over

    # down (a checkpoint) while a receive waits: it does not wait for the receive either
    polling = threading.Thread(target=poll, args=("at_stop", 10))
    polling.start()
    time.sleep(1.0)
    start = time.monotonic()
    d.stop(save=True)
    out["stop_s"] = time.monotonic() - start
    polling.join(30)
    print(json.dumps(out))
    """
)


def test_a_snapshot_does_not_wait_for_a_long_poll_nor_do_the_requests_behind_it(
    tmp_path: Path,
) -> None:
    # A ReceiveMessage with WaitTimeSeconds waits for a message inside the request (AWS: "If a
    # message is available, the call returns sooner than WaitTimeSeconds"). It waited inside
    # the gate: a snapshot (which waits until no request runs) waited up to 10 s for it, and
    # every request of the stack waited behind the snapshot. Now the receive waits outside it.
    res = _script_result(LONG_POLL, tmp_path)
    print(f"\n{res}")
    assert res["size"] > 0
    # generous bounds: the poll's wait is 10 s, and it was still waiting when both were done
    assert res["compact_s"] < 5 and res["put_s"] < 5 and res["polling_after_both"]
    assert res["poll"] == ["hello"] and res["poll_s"] < 9, "the message sent during the wait"
    assert res["empty"] == [] and 1.9 <= res["empty_s"] < 6
    assert res["stop_s"] < 5 and res["at_stop_s"] < 9 and res["at_stop"] != ["hello"]


def test_a_message_deleted_after_a_long_poll_stays_deleted_after_kill_9(tmp_path: Path) -> None:
    # A long poll's receipt handles are journaled as a short receive's are: after a crash the
    # message deleted by its handle stays deleted, the one in flight stays hidden.
    first = Child(tmp_path, compact_interval=3600)
    sqs = first.client("sqs")
    url = sqs.create_queue(QueueName="polled")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="kept")
    timer = threading.Timer(1.0, lambda: sqs.send_message(QueueUrl=url, MessageBody="deleted"))
    timer.start()
    got = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=5, VisibilityTimeout=3600
    )["Messages"]
    assert [m["Body"] for m in got] == ["kept"]  # there at once: in flight from now on
    got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5, VisibilityTimeout=3600)["Messages"]
    timer.join()
    assert [m["Body"] for m in got] == ["deleted"]  # came during the wait
    sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
    sqs.send_message(QueueUrl=url, MessageBody="visible")
    first.end(signal.SIGKILL)

    second = Child(tmp_path)
    try:
        assert second.info["replayed"] > 0
        assert _messages(second, url) == {"visible"}  # "deleted" gone, "kept" still in flight
    finally:
        second.end(signal.SIGTERM)


@pytest.mark.parametrize(
    "form",
    [
        "Action=PublishBatch&Version=2010-03-31&TopicArn=arn",
        "Action=Publish",
        "Version=2010-03-31&Action=ReceiveMessage&QueueUrl=q",
        "Action=&Action=DeleteMessage",
        "Action=A%2BB+C&Action=Other",
        "Action=Caf%C3%A9%FF&x=1",
        "Actions=X&Action=Y",
        "Version=1",
        "",
    ],
)
def test_the_action_of_a_form_is_what_parse_qs_finds_first(form: str) -> None:
    """The journal reads the action of a query-protocol request from a form starting
    ``Action=NAME&`` without decoding the rest of it (a PublishBatch's ~10 KB): the answer is
    still the first non-empty ``Action`` field, decoded, as ``parse_qs`` gives it."""
    from urllib.parse import parse_qs

    environ = {"CONTENT_TYPE": "application/x-www-form-urlencoded; charset=utf-8"}
    expected = (parse_qs(form).get("Action") or [None])[0]
    assert journal.action_of(environ, form.encode()) == expected
