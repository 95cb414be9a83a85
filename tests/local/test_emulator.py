"""The emulator's changes to moto, checked through real requests to the in-process server."""

from __future__ import annotations

import io
import json
import threading
import time
import uuid
import zipfile
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ddbstream.local import emulator
from ddbstream.local.emulator.once import once


def test_policy_fix_lifts_only_the_insecure_transport_deny() -> None:
    tls_only = {"Bool": {"aws:SecureTransport": "false"}}
    assert emulator._requires_insecure_transport(tls_only)
    assert emulator._requires_insecure_transport({"Bool": {"aws:SecureTransport": ["false"]}})
    assert not emulator._requires_insecure_transport({"Bool": {"aws:SecureTransport": "true"}})
    assert not emulator._requires_insecure_transport({"StringEquals": {"aws:SourceAccount": "1"}})
    assert not emulator._requires_insecure_transport(None)


def test_a_patch_runs_once_whatever_the_threads_and_again_after_it_raised() -> None:
    # patch_moto() is called from the server, the runtime, monitoring and tests, from any thread
    runs: list[str] = []
    release = threading.Event()

    @once
    def slow_patch() -> None:
        runs.append(threading.current_thread().name)
        release.wait(5)

    callers = [threading.Thread(target=slow_patch, name=f"caller-{i}") for i in range(4)]
    for t in callers:
        t.start()
    time.sleep(0.05)  # the others reach the patch while the first still runs it
    release.set()
    for t in callers:
        t.join(10)
    slow_patch()
    assert len(runs) == 1

    attempts: list[int] = []

    @once
    def fails_first() -> None:
        attempts.append(len(attempts))
        if len(attempts) == 1:
            raise RuntimeError("first attempt")

    with pytest.raises(RuntimeError):
        fails_first()
    fails_first()
    fails_first()
    assert attempts == [0, 1]  # not marked done by the failure; done after the success


def test_tls_only_bucket_policy_still_admits_writes_and_other_denies_still_bite(
    aws_client,  # type: ignore[no-untyped-def]
) -> None:
    s3 = aws_client("s3")
    bucket = "emulator-tls-only"
    s3.create_bucket(Bucket=bucket)
    arn = f"arn:aws:s3:::{bucket}"
    s3.put_bucket_policy(
        Bucket=bucket,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "DenyInsecureTransport",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Resource": [arn, f"{arn}/*"],
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    },
                    {
                        "Sid": "DenyOutsideThePrefix",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:PutObject",
                        "Resource": f"{arn}/forbidden/*",
                    },
                ],
            }
        ),
    )
    s3.put_object(Bucket=bucket, Key="audit-logs/x.ndjson.gz", Body=b"x")
    assert s3.get_object(Bucket=bucket, Key="audit-logs/x.ndjson.gz")["Body"].read() == b"x"
    with pytest.raises(ClientError, match=r"Forbidden|AccessDenied"):
        s3.put_object(Bucket=bucket, Key="forbidden/x", Body=b"x")


def _zip(source: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("fn.py", source)
    return buf.getvalue()


def test_writes_to_a_mapped_table_keep_their_stream_records(aws_client) -> None:  # type: ignore[no-untyped-def]
    """moto, unpatched, invokes the function itself and then empties the stream's records."""
    ddb, lam, streams = aws_client("dynamodb"), aws_client("lambda"), aws_client("dynamodbstreams")
    table = ddb.create_table(
        TableName="emulator-mapped",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]
    role = aws_client("iam").create_role(
        RoleName="emulator-mapped-role",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]
    fn = lam.create_function(
        FunctionName="emulator-mapped-fn",
        Runtime="python3.12",
        Role=role["Arn"],
        Handler="fn.handler",
        Code={"ZipFile": _zip("def handler(e, c):\n    return None\n")},
    )
    lam.create_event_source_mapping(
        EventSourceArn=table["LatestStreamArn"],
        FunctionName=fn["FunctionArn"],
        StartingPosition="TRIM_HORIZON",
    )
    # listed by the function's name as by its ARN, as Lambda lists them (created with the ARN)
    for ref in ("emulator-mapped-fn", fn["FunctionArn"]):
        assert len(lam.list_event_source_mappings(FunctionName=ref)["EventSourceMappings"]) == 1
    assert lam.list_event_source_mappings(FunctionName="other-fn")["EventSourceMappings"] == []
    for i in range(3):
        ddb.put_item(TableName="emulator-mapped", Item={"pk": {"S": f"k{i}"}})

    arn = table["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")[
        "ShardIterator"
    ]
    records = streams.get_records(ShardIterator=it)["Records"]
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in records] == ["k0", "k1", "k2"]
    seqs = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert seqs == sorted(set(seqs))


def test_get_shard_iterator_answers_trimmed_and_unknown_shard_as_aws(aws_client) -> None:  # type: ignore[no-untyped-def]
    """AWS: TrimmedDataAccessException for a sequence number older than the trim point;
    ResourceNotFoundException for a shard that is not there (moto: an assertion, HTTP 500)."""
    ddb, streams = aws_client("dynamodb"), aws_client("dynamodbstreams")
    arn = ddb.create_table(
        TableName="emulator-trim",
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
    )["TableDescription"]["LatestStreamArn"]
    ddb.put_item(TableName="emulator-trim", Item={"k": {"S": "a"}})
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
    first = int(shard["SequenceNumberRange"]["StartingSequenceNumber"])
    ok = streams.get_shard_iterator(
        StreamArn=arn,
        ShardId=shard["ShardId"],
        ShardIteratorType="AT_SEQUENCE_NUMBER",
        SequenceNumber=str(first),
    )
    assert len(streams.get_records(ShardIterator=ok["ShardIterator"])["Records"]) == 1
    with pytest.raises(ClientError) as trimmed:
        streams.get_shard_iterator(
            StreamArn=arn,
            ShardId=shard["ShardId"],
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            SequenceNumber=str(first - 1),
        )
    assert trimmed.value.response["Error"]["Code"] == "TrimmedDataAccessException"
    with pytest.raises(ClientError) as missing:
        streams.get_shard_iterator(
            StreamArn=arn,
            ShardId="shardId-00000000000000000000-00000000",
            ShardIteratorType="TRIM_HORIZON",
        )
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_lambda_logging_config_is_kept_and_returned(aws_client) -> None:  # type: ignore[no-untyped-def]
    """Lambda returns a function's LoggingConfig (defaults Text and /aws/lambda/NAME) and keeps
    what CreateFunction / UpdateFunctionConfiguration set; without it Terraform's
    logging_config would differ from what it reads back on every plan."""
    iam, lam = aws_client("iam"), aws_client("lambda")
    role = iam.create_role(
        RoleName="emulator-logging-role",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]
    common = {
        "Runtime": "python3.12",
        "Role": role["Arn"],
        "Handler": "fn.handler",
        "Code": {"ZipFile": _zip("def handler(e, c):\n    return None\n")},
    }
    lam.create_function(FunctionName="emulator-text-logs", **common)
    plain = lam.get_function_configuration(FunctionName="emulator-text-logs")["LoggingConfig"]
    assert plain == {"LogFormat": "Text", "LogGroup": "/aws/lambda/emulator-text-logs"}

    json_logs = {"LogFormat": "JSON", "ApplicationLogLevel": "INFO", "SystemLogLevel": "INFO"}
    lam.create_function(FunctionName="emulator-json-logs", LoggingConfig=json_logs, **common)
    got = lam.get_function(FunctionName="emulator-json-logs")["Configuration"]["LoggingConfig"]
    assert got == {**json_logs, "LogGroup": "/aws/lambda/emulator-json-logs"}

    lam.update_function_configuration(
        FunctionName="emulator-json-logs", LoggingConfig={"ApplicationLogLevel": "WARN"}
    )
    got = lam.get_function_configuration(FunctionName="emulator-json-logs")["LoggingConfig"]
    assert got["ApplicationLogLevel"] == "WARN" and got["LogFormat"] == "JSON"


def test_bucket_metrics_configurations_are_kept_returned_and_deleted(aws_client) -> None:  # type: ignore[no-untyped-def]
    """S3's PutBucketMetricsConfiguration / Get / Delete (Terraform's aws_s3_bucket_metric)."""
    s3 = aws_client("s3")
    s3.create_bucket(Bucket="emulator-metrics")
    config = {"Id": "on-failure-objects", "Filter": {"Prefix": "aws/lambda/"}}
    s3.put_bucket_metrics_configuration(
        Bucket="emulator-metrics", Id="on-failure-objects", MetricsConfiguration=config
    )
    got = s3.get_bucket_metrics_configuration(Bucket="emulator-metrics", Id="on-failure-objects")
    assert got["MetricsConfiguration"] == config
    # S3's request metrics: a PUT under the prefix counts in AWS/S3 PutRequests, others do not
    s3.put_object(Bucket="emulator-metrics", Key="aws/lambda/esm/shard/x", Body=b"{}")
    s3.put_object(Bucket="emulator-metrics", Key="elsewhere/y", Body=b"{}")
    import datetime as dt

    now = dt.datetime.now(dt.UTC)
    stats = aws_client("cloudwatch").get_metric_statistics(
        Namespace="AWS/S3",
        MetricName="PutRequests",
        Dimensions=[
            {"Name": "BucketName", "Value": "emulator-metrics"},
            {"Name": "FilterId", "Value": "on-failure-objects"},
        ],
        StartTime=now - dt.timedelta(minutes=5),
        EndTime=now + dt.timedelta(minutes=1),
        Period=60,
        Statistics=["Sum"],
    )["Datapoints"]
    assert sum(p["Sum"] for p in stats) == 1
    for o in s3.list_objects_v2(Bucket="emulator-metrics")["Contents"]:
        s3.delete_object(Bucket="emulator-metrics", Key=o["Key"])
    s3.delete_bucket_metrics_configuration(Bucket="emulator-metrics", Id="on-failure-objects")
    with pytest.raises(ClientError) as gone:
        s3.get_bucket_metrics_configuration(Bucket="emulator-metrics", Id="on-failure-objects")
    assert gone.value.response["Error"]["Code"] == "NoSuchConfiguration"
    assert s3.list_objects_v2(Bucket="emulator-metrics")["KeyCount"] == 0  # listing unaffected


def test_application_autoscaling_tags_are_kept_per_target(aws_client: Any) -> None:
    """TagResource / UntagResource / ListTagsForResource (moto has none; the AWS provider
    reads the tags of every aws_appautoscaling_target), tags given at registration included."""
    name = f"scaled-{uuid.uuid4().hex[:8]}"
    aws_client("dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        BillingMode="PROVISIONED",
        ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
    )
    scaling = aws_client("application-autoscaling")
    arn = scaling.register_scalable_target(
        ServiceNamespace="dynamodb",
        ResourceId=f"table/{name}",
        ScalableDimension="dynamodb:table:ReadCapacityUnits",
        MinCapacity=5,
        MaxCapacity=50,
        Tags={"Project": "ddbstream"},
    )["ScalableTargetARN"]
    assert scaling.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"Project": "ddbstream"}
    scaling.tag_resource(ResourceARN=arn, Tags={"Owner": "ops"})
    scaling.untag_resource(ResourceARN=arn, TagKeys=["Project"])
    assert scaling.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"Owner": "ops"}


def test_poison_fault_corrupts_the_marked_stream_records_as_read(
    aws_client: Any, moto_endpoint: str
) -> None:
    """The reliability suite's poison: DynamoDB refuses undecodable values in PutItem, so the
    fault endpoint corrupts the records of marked items as GetRecords returns them, the same
    way on every read; unmarked records are untouched; the processor audits the partial ones
    with the undecodable attribute named and rejects the whole ones with a reason."""
    import urllib.request

    from ddbstream.core.decode import DecodeError, decode_record
    from ddbstream.local import journal
    from ddbstream.local.runtime.events import lambda_record

    ddb, streams = aws_client("dynamodb"), aws_client("dynamodbstreams")
    table = "emulator-poison"
    arn = ddb.create_table(
        TableName=table,
        KeySchema=[
            {"AttributeName": "u", "KeyType": "HASH"},
            {"AttributeName": "a", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "u", "AttributeType": "S"},
            {"AttributeName": "a", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]["LatestStreamArn"]
    for i in range(8):
        user = "poison-me" if i % 2 else "clean"
        item = {"u": {"S": user}, "a": {"S": f"a{i}"}, "t": {"S": "LOGIN"}, "n": {"N": str(i)}}
        ddb.put_item(TableName=table, Item=item)
    ddb.delete_item(TableName=table, Key={"u": {"S": "poison-me"}, "a": {"S": "a1"}})

    def arm(seconds: float) -> None:
        body = json.dumps({"poison": "poison-me", "seconds": seconds}).encode()
        req = urllib.request.Request(moto_endpoint + journal.FAULT_PATH, data=body, method="POST")
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert resp.status == 200

    def read() -> list[dict[str, Any]]:
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
        it = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        raw = streams.get_records(ShardIterator=it)["Records"]
        return [lambda_record(r, arn, "us-east-1") for r in raw]

    clean = read()
    arm(60)
    first, again = read(), read()
    assert first == again  # every read of a record gets the same corruption
    kinds: dict[str, str] = {}
    for before, after in zip(clean, first, strict=True):
        seq = before["dynamodb"]["SequenceNumber"]
        if "poison-me" not in json.dumps(before["dynamodb"]["Keys"]):
            assert after == before
            continue
        assert after != before
        kind = journal.POISON_KINDS[int(seq) % len(journal.POISON_KINDS)]
        kinds[seq] = kind
        if kind in ("bad-number", "unknown-type"):
            ev = decode_record(after)
            image = "old_image" if before["eventName"] == "REMOVE" else "new_image"
            assert ev.undecodable and list(ev.undecodable) == [f"{image}.n"], ev.undecodable
            assert ev.keys == decode_record(before).keys
        else:
            with pytest.raises(DecodeError, match=r"not a number|UPSERT"):
                decode_record(after)
    assert len(kinds) == 5 and len(set(kinds.values())) >= 3, kinds
    arm(0)  # over: records read clean again
    assert read() == clean


def test_fault_windows_outlive_a_restart_until_their_deadline(tmp_path: Any) -> None:
    """The reliability suite restarts the stack in the middle of an outage: a fault window
    set through the endpoint is kept in the state directory and taken up by the next
    emulator (still failing writes), and an expired one is not."""
    from werkzeug.test import Client

    from ddbstream.local import journal

    def ok_app(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    path = tmp_path / "emulator.faults.json"
    put = {"Authorization": "AWS4-HMAC-SHA256 Credential=k/20260101/us-east-1/s3/aws4_request"}
    first = journal.DurableApp(ok_app)
    first.keep_faults(path)
    client = Client(first)
    assert client.put("/bucket/key", data=b"x", headers=put).status_code == 200
    for doc in ({"service": "s3", "seconds": 60}, {"service": "sns", "seconds": 0.01}):
        assert client.post(journal.FAULT_PATH, json=doc).status_code == 200
    assert client.post(journal.FAULT_PATH, json={"poison": "m", "seconds": 60}).status_code == 200
    assert client.put("/bucket/key", data=b"x", headers=put).status_code == 503
    time.sleep(0.05)

    again = journal.DurableApp(ok_app)  # the next `up`, after `down` or kill -9
    again.keep_faults(path)
    assert set(again.faults) == {"s3"} and set(again.poison) == {"m"}
    assert 55 < again.faults["s3"] - time.monotonic() <= 60
    assert Client(again).put("/bucket/key", data=b"x", headers=put).status_code == 503


def test_sns_publish_answers_before_delivering_and_the_delivery_still_happens(
    aws_client: Any,
) -> None:
    """SNS delivers after Publish answered (moto delivered inside the call): a PublishBatch
    returns while the deliveries cannot run yet, and each message reaches the subscribed queue
    once they can."""
    import threading

    sns, sqs = aws_client("sns"), aws_client("sqs")
    topic = sns.create_topic(Name=f"async-{uuid.uuid4().hex[:8]}")["TopicArn"]
    url = sqs.create_queue(QueueName=f"async-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"}
    )
    release = threading.Event()
    emulator.deliveries.submit(release.wait, 30)  # deliveries are made in order: this one first
    try:
        entries = [{"Id": str(i), "Message": f"m{i}"} for i in range(3)]
        resp = sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=entries)
        assert len(resp["Successful"]) == 3
        assert emulator.deliveries.pending >= 4, "answered with the deliveries still to make"
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        assert not got.get("Messages")
    finally:
        release.set()
    assert emulator.deliveries.settle(timeout=30)
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
    assert sorted(m["Body"] for m in got["Messages"]) == ["m0", "m1", "m2"]


def test_sns_publish_still_refuses_an_invalid_message_structure_in_the_call(
    aws_client: Any,
) -> None:
    sns, sqs = aws_client("sns"), aws_client("sqs")
    topic = sns.create_topic(Name=f"structure-{uuid.uuid4().hex[:8]}")["TopicArn"]
    url = sqs.create_queue(QueueName=f"structure-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    with pytest.raises(ClientError):
        sns.publish(TopicArn=topic, Message="{not json", MessageStructure="json")


def test_sns_envelope_signature_verifies_with_one_certificate_per_subscription(
    aws_client: Any,
) -> None:
    """An SQS subscriber (no raw delivery) gets SNS's JSON envelope; its Signature verifies
    against the SigningCertURL's certificate over AWS's string to sign (Message, MessageId,
    Subject, Timestamp, TopicArn, Type), and every message of the subscription names the same
    certificate (moto made one per message)."""
    import base64

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sns.models import sns_backends

    sns, sqs = aws_client("sns"), aws_client("sqs")
    topic = sns.create_topic(Name=f"signed-{uuid.uuid4().hex[:8]}")["TopicArn"]
    url = sqs.create_queue(QueueName=f"signed-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sub = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)["SubscriptionArn"]
    sns.publish(TopicArn=topic, Message="first", Subject="with subject")
    sns.publish(TopicArn=topic, Message="second")
    assert emulator.deliveries.settle(timeout=30)
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
    envelopes = sorted((json.loads(m["Body"]) for m in got["Messages"]), key=lambda e: e["Message"])
    assert [e["Message"] for e in envelopes] == ["first", "second"]
    assert len({e["SigningCertURL"] for e in envelopes}) == 1
    pems = sns_backends[DEFAULT_ACCOUNT_ID][emulator.REGION]._message_public_keys
    cert = x509.load_pem_x509_certificate(pems[envelopes[0]["SigningCertURL"].rsplit("/", 1)[1]])
    for e in envelopes:
        assert e["Type"] == "Notification" and e["TopicArn"] == topic
        assert e["SignatureVersion"] == "2" and sub in e["UnsubscribeURL"]
        fields = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
        text = "".join(f"{k}\n{e[k]}\n" for k in fields if k in e)
        cert.public_key().verify(  # type: ignore[call-arg]
            base64.b64decode(e["Signature"]), text.encode(), padding.PKCS1v15(), hashes.SHA256()
        )
    assert envelopes[0]["Subject"] == "with subject" and "Subject" not in envelopes[1]


def test_sqs_receive_still_drops_messages_past_the_queue_retention_period(
    aws_client: Any,
) -> None:
    """The retention check reads the queue's period directly (moto computed every attribute
    of the queue per message): a message older than MessageRetentionPeriod is not received."""
    import time

    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sqs.models import sqs_backends

    sqs = aws_client("sqs")
    name = f"retention-{uuid.uuid4().hex[:8]}"
    url = sqs.create_queue(QueueName=name, Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="new")
    sqs.send_message(QueueUrl=url, MessageBody="old")  # moto's receive stops at an expired one
    queue = sqs_backends[DEFAULT_ACCOUNT_ID][emulator.REGION].get_queue(name)
    for m in queue._messages:
        if m.body == "old":  # sent 61 s ago, as far as the queue knows
            m.sent_timestamp = int((time.time() - 61) * 1000)
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
    assert [m["Body"] for m in got["Messages"]] == ["new"]


def test_published_messages_are_not_kept_in_the_topic(aws_client: Any) -> None:
    """moto kept every published message in its topic; nothing reads it and SNS keeps nothing:
    after 30 messages the topic holds none, and they are still delivered."""
    import time

    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sns.models import sns_backends

    sns, sqs = aws_client("sns"), aws_client("sqs")
    arn = sns.create_topic(Name=f"kept-{uuid.uuid4().hex[:8]}")["TopicArn"]
    url = sqs.create_queue(QueueName=f"kept-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    qarn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn["QueueArn"])
    for i in range(3):
        entries = [{"Id": f"m{j}", "Message": f"{i}-{j}"} for j in range(10)]
        sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=entries)
    topic = sns_backends[DEFAULT_ACCOUNT_ID][emulator.REGION].topics[arn]
    assert len(topic.sent_notifications) == 0
    got: set[str] = set()
    deadline = time.monotonic() + 20
    while len(got) < 30 and time.monotonic() < deadline:
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            got.add(json.loads(m["Body"])["Message"])
    assert len(got) == 30


def test_sqs_receive_still_hides_in_flight_and_delayed_messages(aws_client: Any) -> None:
    """The visible messages are chosen with one clock reading per ReceiveMessage (moto read it
    twice per message): a received message stays hidden for its visibility timeout, a delayed
    one until its delay ends; then each is received."""
    import time

    sqs = aws_client("sqs")
    url = sqs.create_queue(QueueName=f"visible-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="now")
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=2)

    def bodies(**kw: Any) -> list[str]:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, **kw)
        return sorted(m["Body"] for m in got.get("Messages", []))

    assert bodies(VisibilityTimeout=2) == ["now"]
    assert bodies() == []  # "now" in flight, "later" delayed
    time.sleep(2.3)
    assert bodies() == ["later", "now"]


def test_sqs_send_message_still_deduplicates_by_content_on_fifo_queues_only(
    aws_client: Any,
) -> None:
    """SendMessage reads ContentBasedDeduplication without computing every queue attribute:
    a FIFO queue with it drops a repeated body, one without it refuses a message without a
    deduplication id (and drops a repeated id), a standard queue keeps both."""
    sqs = aws_client("sqs")
    tag = uuid.uuid4().hex[:8]

    def count(name: str, attributes: dict[str, str], **send: str) -> int:
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        for _ in range(2):
            sqs.send_message(QueueUrl=url, MessageBody="same", **send)
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"])

    fifo = {"FifoQueue": "true"}
    assert (
        count(
            f"dedup-{tag}.fifo", {**fifo, "ContentBasedDeduplication": "true"}, MessageGroupId="g"
        )
        == 1
    )
    assert count(f"nodedup-{tag}.fifo", fifo, MessageGroupId="g", MessageDeduplicationId="d1") == 1
    assert count(f"standard-{tag}", {}) == 2
    url = sqs.create_queue(QueueName=f"refuse-{tag}.fifo", Attributes=fifo)["QueueUrl"]
    with pytest.raises(ClientError):
        sqs.send_message(QueueUrl=url, MessageBody="same", MessageGroupId="g")


def test_connections_are_kept_alive_and_refused_once_stopped() -> None:
    # Several requests share one connection (no TCP connect and server thread per request);
    # a body the application reads in full or not at all never spills into the next request;
    # once the emulator stops, a kept-alive connection is refused, and stop does not wait.
    import http.client

    emu = emulator.start()
    try:
        conn = http.client.HTTPConnection(emu.host, emu.port, timeout=10)
        form = "Action=GetCallerIdentity&Version=2011-06-15"
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Authorization": "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20240101/"
            "us-east-1/sts/aws4_request, SignedHeaders=host, Signature=x",
        }
        conn.request("POST", "/", body=form, headers=headers)
        first = conn.getresponse()
        assert first.status == 200 and b"GetCallerIdentityResponse" in first.read()
        assert first.getheader("Connection") != "close"
        sock = conn.sock
        conn.request("GET", "/moto-api/", body=b"x" * 70_000)  # a body nobody reads
        assert conn.getresponse().read() is not None
        conn.request("POST", "/", body=form, headers=headers)
        third = conn.getresponse()
        assert third.status == 200 and b"GetCallerIdentityResponse" in third.read()
        assert conn.sock is sock  # the same connection all along
        t0 = time.monotonic()
        emu.stop()
        assert time.monotonic() - t0 < 5
        try:
            conn.request("POST", "/", body=form, headers=headers)
            status = conn.getresponse().status
        except (ConnectionError, http.client.HTTPException):
            status = None  # closed: refused as well
        assert status in (503, None)
    finally:
        emu.stop()


def _send_later(sqs: Any, url: str, body: str, after: float) -> Any:
    import threading

    t = threading.Timer(after, lambda: sqs.send_message(QueueUrl=url, MessageBody=body))
    t.start()
    return t


def _timed_receive(sqs: Any, **kw: Any) -> tuple[list[str], float]:
    start = time.monotonic()
    got = sqs.receive_message(**kw)
    return sorted(m["Body"] for m in got.get("Messages", [])), time.monotonic() - start


def test_sqs_long_poll_returns_as_soon_as_a_message_arrives_and_empty_when_the_wait_ends(
    aws_client: Any,
) -> None:
    """AWS (ReceiveMessage, WaitTimeSeconds): "If a message is available, the call returns
    sooner than WaitTimeSeconds. If no messages are available and the wait time expires, the
    call does not return a message list"; without WaitTimeSeconds "the queue attribute by the
    same name is used". The emulator serves a long poll as short receives with waits between
    them outside its gate (journal.LongPoll): the same answers. Bounds are generous."""
    sqs = aws_client("sqs")
    url = sqs.create_queue(QueueName=f"long-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    sender = _send_later(sqs, url, "one", 1.0)
    bodies, took = _timed_receive(sqs, QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=5)
    sender.join()
    assert bodies == ["one"] and 0.8 <= took < 4
    bodies, took = _timed_receive(sqs, QueueUrl=url, WaitTimeSeconds=1)
    assert bodies == [] and 0.9 <= took < 5  # "one" in flight: nothing to give

    waiting = sqs.create_queue(
        QueueName=f"long-{uuid.uuid4().hex[:8]}", Attributes={"ReceiveMessageWaitTimeSeconds": "1"}
    )["QueueUrl"]
    bodies, took = _timed_receive(sqs, QueueUrl=waiting)  # the queue's wait
    assert bodies == [] and 0.9 <= took < 5
    sender = _send_later(sqs, waiting, "two", 0.3)
    bodies, took = _timed_receive(sqs, QueueUrl=waiting)
    sender.join()
    assert bodies == ["two"]  # came within the queue's 1 s wait


def test_sqs_long_poll_keeps_max_number_of_messages_and_the_visibility_timeout(
    aws_client: Any,
) -> None:
    """A long poll gives at most MaxNumberOfMessages, at once when they are there; a message it
    gave is hidden for its VisibilityTimeout and then given again, by a receive already waiting
    (nothing is sent: the waiting receive looks again on its own)."""
    sqs = aws_client("sqs")
    url = sqs.create_queue(QueueName=f"long-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(5)]
    )
    first, took = _timed_receive(sqs, QueueUrl=url, MaxNumberOfMessages=2, WaitTimeSeconds=5)
    assert len(first) == 2 and took < 1.5
    rest, _ = _timed_receive(
        sqs, QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=5, VisibilityTimeout=60
    )
    assert sorted(first + rest) == [f"m{i}" for i in range(5)]

    hidden = sqs.create_queue(QueueName=f"long-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    sqs.send_message(QueueUrl=hidden, MessageBody="a")
    got, _ = _timed_receive(sqs, QueueUrl=hidden, WaitTimeSeconds=5, VisibilityTimeout=2)
    assert got == ["a"]
    again, took = _timed_receive(sqs, QueueUrl=hidden, WaitTimeSeconds=10)
    assert again == ["a"] and 1.2 <= took < 6, "hidden for 2 s, then received again"


def test_sqs_long_poll_over_the_query_protocol(aws_client: Any, moto_endpoint: str) -> None:
    """Older clients (AWS CLI v1 before SQS's JSON protocol) send ReceiveMessage as a form:
    ``Action=ReceiveMessage&WaitTimeSeconds=N``; served the same way, with the same answers."""
    import re
    import urllib.parse
    import urllib.request

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    from ddbstream.local import clients

    sqs = aws_client("sqs")
    url = sqs.create_queue(QueueName=f"long-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    creds = clients.session().get_credentials()

    def receive(wait: int) -> tuple[list[str], float]:
        form = urllib.parse.urlencode(
            {
                "Action": "ReceiveMessage",
                "Version": "2012-11-05",
                "QueueUrl": url,
                "MaxNumberOfMessages": "10",
                "WaitTimeSeconds": str(wait),
            }
        ).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
        req = AWSRequest("POST", moto_endpoint + "/", data=form, headers=headers)
        SigV4Auth(creds, "sqs", clients.REGION).add_auth(req)
        start = time.monotonic()
        with urllib.request.urlopen(
            urllib.request.Request(moto_endpoint + "/", data=form, headers=dict(req.headers)),
            timeout=30,
        ) as resp:
            text = resp.read().decode()
        took = time.monotonic() - start
        return re.findall(r"<Body>([^<]*)</Body>", text), took

    sender = _send_later(sqs, url, "query", 1.0)
    bodies, took = receive(5)
    sender.join()
    assert bodies == ["query"] and 0.8 <= took < 4
    bodies, took = receive(1)
    assert bodies == [] and 0.9 <= took < 5


def test_which_receives_are_served_as_long_polls(aws_client: Any) -> None:
    """A ReceiveMessage that may wait (WaitTimeSeconds 1-20, given or the queue's), in SQS's
    JSON protocol or the query protocol (form body or query string), becomes a LongPoll whose
    request says WaitTimeSeconds 0; one that does not wait, one moto refuses (over 20) and one
    naming no queue moto has are left to moto."""
    from urllib.parse import parse_qs

    from ddbstream.local import journal

    sqs = aws_client("sqs")
    url = sqs.create_queue(QueueName=f"which-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    waits = sqs.create_queue(
        QueueName=f"which-{uuid.uuid4().hex[:8]}", Attributes={"ReceiveMessageWaitTimeSeconds": "7"}
    )["QueueUrl"]
    auth = "AWS4-HMAC-SHA256 Credential=k/20260101/us-east-1/sqs/aws4_request, Signed=x"
    as_json = {"HTTP_X_AMZ_TARGET": "AmazonSQS.ReceiveMessage", "HTTP_AUTHORIZATION": auth}
    as_form = {"CONTENT_TYPE": "application/x-www-form-urlencoded", "HTTP_AUTHORIZATION": auth}

    def poll(environ: dict[str, Any], body: bytes = b"") -> Any:
        return journal.LongPoll.of({"REQUEST_METHOD": "POST", **environ}, body)

    got = poll(as_json, json.dumps({"QueueUrl": url, "WaitTimeSeconds": 5}).encode())
    assert got.wait == 5 and json.loads(got.body) == {"QueueUrl": url, "WaitTimeSeconds": 0}
    got = poll(as_json, json.dumps({"QueueUrl": waits}).encode())
    assert got.wait == 7 and json.loads(got.body)["WaitTimeSeconds"] == 0
    form = f"Action=ReceiveMessage&QueueUrl={url}&WaitTimeSeconds=20"
    got = poll(as_form, form.encode())
    assert got.wait == 20 and parse_qs(got.body.decode())["WaitTimeSeconds"] == ["0"]
    got = poll({"QUERY_STRING": form, "HTTP_AUTHORIZATION": auth})
    assert got.wait == 20 and parse_qs(got.environ["QUERY_STRING"])["WaitTimeSeconds"] == ["0"]
    for body in (
        {"QueueUrl": url, "WaitTimeSeconds": 0},
        {"QueueUrl": url},  # the queue's wait: 0
        {"QueueUrl": url, "WaitTimeSeconds": 21},
        {"QueueUrl": url + "-gone", "WaitTimeSeconds": 5},
    ):
        assert poll(as_json, json.dumps(body).encode()) is None, body
    sent = {"HTTP_X_AMZ_TARGET": "AmazonSQS.SendMessage", "HTTP_AUTHORIZATION": auth}
    assert poll(sent, json.dumps({"QueueUrl": url, "WaitTimeSeconds": 5}).encode()) is None


def test_sqs_delete_message_batch_answers_as_moto_did_in_one_walk(aws_client: Any) -> None:
    """DeleteMessage(Batch) walks the queue once per call (moto walked it twice per handle):
    the answers are moto's. A handle a message had before it was received again still deletes
    it, a handle of a message already deleted (by another handle earlier in the same batch, or
    before) succeeds, an
    unknown one fails that entry alone with ReceiptHandleIsInvalid; the others stay."""
    sqs = aws_client("sqs")
    url = sqs.create_queue(QueueName=f"delete-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    for body in "abcd":
        sqs.send_message(QueueUrl=url, MessageBody=body)

    def handles(visibility: int) -> dict[str, str]:
        got = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=visibility
        )
        return {m["Body"]: m["ReceiptHandle"] for m in got.get("Messages", [])}

    old = handles(0)  # visible again at once: the next receive gives new handles
    new = handles(30)
    assert sorted(old) == sorted(new) == list("abcd")
    assert not set(old.values()) & set(new.values())
    resp = sqs.delete_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "old-a", "ReceiptHandle": old["a"]},
            {"Id": "new-a", "ReceiptHandle": new["a"]},
            {"Id": "b", "ReceiptHandle": new["b"]},
            {"Id": "bogus", "ReceiptHandle": "not-a-handle"},
        ],
    )
    assert sorted(s["Id"] for s in resp["Successful"]) == ["b", "new-a", "old-a"]
    [failed] = resp["Failed"]
    assert failed["Id"] == "bogus" and failed["Code"] == "ReceiptHandleIsInvalid"
    assert failed["SenderFault"] is True
    assert failed["Message"] == (
        'The input receipt handle "not-a-handle" is not a valid receipt handle.'
    )
    again = sqs.delete_message_batch(
        QueueUrl=url, Entries=[{"Id": "b-again", "ReceiptHandle": new["b"]}]
    )
    assert [s["Id"] for s in again["Successful"]] == ["b-again"] and not again.get("Failed")
    sqs.delete_message(QueueUrl=url, ReceiptHandle=new["c"])
    sqs.delete_message(QueueUrl=url, ReceiptHandle=new["c"])  # again: no error
    with pytest.raises(ClientError) as err:
        sqs.delete_message(QueueUrl=url, ReceiptHandle="not-a-handle")
    assert err.value.response["Error"]["Code"] == "ReceiptHandleIsInvalid"
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=new["d"], VisibilityTimeout=0)
    assert list(handles(30)) == ["d"]


def test_receipts_report_the_handles_a_receive_gave_out_from_a_deep_queue() -> None:
    """The receipt handles journaled after a ReceiveMessage (:func:`emulator.receipts`) are the
    ones the receive gave out, found without walking the whole queue: the messages received
    are the oldest visible, near its front."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sqs.models import sqs_backends

    emulator.patch_moto()
    backend = sqs_backends[DEFAULT_ACCOUNT_ID][emulator.REGION]
    name = f"receipts-{uuid.uuid4().hex[:8]}"
    backend.create_queue(name)
    for i in range(50):
        backend.send_message(name, f"m{i}")
    backend.receive_message(name, 3, 0, 0)  # visible again at once: older handles exist
    with emulator.receipts() as given:
        got = backend.receive_message(name, 10, 0, 30)
    assert [m.body for m in got] == [f"m{i}" for i in range(10)]
    assert [g[3] for g in given] == [m.id for m in got]
    assert [g[4] for g in given] == [m.receipt_handle for m in got]
    assert all(g[:3] == [DEFAULT_ACCOUNT_ID, emulator.REGION, name] for g in given)


def test_query_protocol_parsing_by_sorted_names_gives_what_walking_every_name_gave(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """moto's query-protocol parser asks, per structure, whether any parameter name starts
    with its prefix; answered by bisecting the sorted names instead of walking them all, a
    PublishBatch of 10 entries (``.1`` a prefix of ``.10``), some with attributes, some
    without, one with a binary attribute, parses exactly as before."""
    import base64

    from moto.core.parse import QueryParser
    from moto.core.utils import get_service_model
    from werkzeug.datastructures import CombinedMultiDict, MultiDict

    emulator.patch_moto()
    op = get_service_model("sns").operation_model("PublishBatch")  # moto's, as it parses
    entries = []
    for i in range(10):
        e: dict[str, Any] = {"Id": f"m{i}", "Message": f"body {i}", "Subject": f"s{i}"}
        if i % 3:
            e["MessageAttributes"] = {
                "eventName": {"DataType": "String", "StringValue": "MODIFY"},
                "n": {"DataType": "Number", "StringValue": str(i)},
            }
        if i == 7:
            e["MessageAttributes"]["b"] = {"DataType": "Binary", "BinaryValue": b"\x00\x01"}
        entries.append(e)
    from botocore.serialize import create_serializer

    req = create_serializer("query").serialize_to_request(
        {"TopicArn": "arn:aws:sns:us-east-1:123456789012:t", "PublishBatchRequestEntries": entries},
        op,
    )
    values = CombinedMultiDict([MultiDict(), MultiDict(list(req["body"].items()))])
    request = {"method": "POST", "values": values, "headers": {}, "body": b"", "url_path": "/"}
    now = QueryParser(op).parse(request)  # type: ignore[arg-type]

    def walk_every_name(self: Any, query_params: Any, prefix: str) -> bool:
        return prefix != "" and not any(k.startswith(prefix) for k in query_params)

    monkeypatch.setattr(QueryParser, "_gonna_recurse", walk_every_name)
    before = QueryParser(op).parse(request)  # type: ignore[arg-type]
    assert now == before
    got = now["PublishBatchRequestEntries"]
    assert [e["Id"] for e in got] == [f"m{i}" for i in range(10)]
    assert got[7]["MessageAttributes"]["b"]["BinaryValue"] == base64.b64decode(
        base64.b64encode(b"\x00\x01")
    )
    assert (
        "MessageAttributes" not in got[0] and got[1]["MessageAttributes"]["n"]["StringValue"] == "1"
    )


def test_sqs_receipt_handles_keep_moto_form_and_follow_the_request_seed() -> None:
    """A receipt handle is 185 lowercase letters, as moto made them, each receive a new one;
    drawn inside :func:`emulator.reproducible` it is the same for the same seed (a replayed
    request draws what it drew)."""
    import string

    from moto.sqs import models as sqs_models

    emulator.patch_moto()
    handles = {sqs_models.generate_receipt_handle() for _ in range(50)}
    assert len(handles) == 50
    assert all(len(h) == 185 and set(h) <= set(string.ascii_lowercase) for h in handles)
    seeded = []
    for _ in range(2):
        with emulator.reproducible("salt/7", 1_700_000_000.0):
            seeded.append(sqs_models.generate_receipt_handle())
    assert seeded[0] == seeded[1] and seeded[0] not in handles
