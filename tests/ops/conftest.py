"""The ops tests' fixture: ``mini``, a small deployment in the session's emulator."""

from __future__ import annotations

import uuid

import pytest
from ops_helpers import ROLE_POLICY, MiniStack, function_zip

from ddbstream.local import clients
from ddbstream.ops.target import Deployment


@pytest.fixture
def mini(moto_endpoint: str) -> MiniStack:
    sfx = uuid.uuid4().hex[:8]
    d = Deployment(
        outputs={}, source="test", is_local=True, endpoint=moto_endpoint, region=clients.REGION
    )
    ddb = d.client("dynamodb")
    table = f"t-{sfx}"
    desc = ddb.create_table(
        TableName=table,
        KeySchema=[
            {"AttributeName": "UserId", "KeyType": "HASH"},
            {"AttributeName": "ActivityId", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "UserId", "AttributeType": "S"},
            {"AttributeName": "ActivityId", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]
    stream_arn = desc["LatestStreamArn"]
    shard = d.client("dynamodbstreams").describe_stream(StreamArn=stream_arn)["StreamDescription"][
        "Shards"
    ][0]
    bucket = f"audit-{sfx}"
    d.client("s3").create_bucket(Bucket=bucket)
    topic = d.client("sns").create_topic(Name=f"n-{sfx}")["TopicArn"]
    sqs = d.client("sqs")
    dlq_url = sqs.create_queue(QueueName=f"dlq-{sfx}")["QueueUrl"]
    notify_url = sqs.create_queue(QueueName=f"sub-{sfx}")["QueueUrl"]
    notify_arn = sqs.get_queue_attributes(QueueUrl=notify_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    d.client("sns").subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=notify_arn,
        Attributes={"RawMessageDelivery": "false"},
    )
    role = d.client("iam").create_role(RoleName=f"r-{sfx}", AssumeRolePolicyDocument=ROLE_POLICY)[
        "Role"
    ]["Arn"]
    fn = f"fn-{sfx}"
    fn_arn = d.client("lambda").create_function(
        FunctionName=fn,
        Runtime="python3.12",
        Role=role,
        Handler="h.handler",
        Code={"ZipFile": function_zip()},
        Environment={"Variables": {"SNS_TOPIC_ARN": "invalid-arn", "S3_BUCKET_NAME": bucket}},
    )["FunctionArn"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    d.client("lambda").create_event_source_mapping(
        EventSourceArn=stream_arn,
        FunctionName=fn,
        StartingPosition="TRIM_HORIZON",
        DestinationConfig={"OnFailure": {"Destination": dlq_arn}},
    )
    d.outputs.update(
        {
            "dlq_url": dlq_url,
            "lambda_function_name": fn,
            "s3_bucket_name": bucket,
            "sns_topic_arn": topic,
        }
    )
    return MiniStack(
        d, table, stream_arn, shard["ShardId"], bucket, topic, dlq_url, fn, fn_arn, notify_url
    )
