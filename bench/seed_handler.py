"""A seed-style stream processor: the design ddbstream is measured against.

What a typical first version of the seed's Lambda does: for every change, one S3 PutObject (an
audit object per change) and one SNS Publish, one after the other; any error fails the whole
batch (no partial batch response), so Lambda retries all of it. Standard library and boto3 only,
so the same file is the latency model's baseline (clients injected) and a deployable handler for
the local stack's end-to-end comparison (``update-function-code`` with a zip of this file;
handler ``seed_handler.lambda_handler``; environment ``S3_BUCKET_NAME``, ``SNS_TOPIC_ARN``).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

_td = TypeDeserializer()
_clients: dict[str, Any] = {}


def _image(img: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if img is None else {k: _td.deserialize(v) for k, v in img.items()}


def process(records: list[dict[str, Any]], s3: Any, sns: Any, bucket: str, topic: str) -> int:
    """One PutObject and one Publish per change, in order; the first error propagates."""
    for r in records:
        ddb = r["dynamodb"]
        doc = {
            "eventID": r.get("eventID"),
            "eventName": r["eventName"],
            "eventSourceARN": r.get("eventSourceARN"),
            "keys": _image(ddb.get("Keys")),
            "newImage": _image(ddb.get("NewImage")),
            "oldImage": _image(ddb.get("OldImage")),
            "sequenceNumber": ddb.get("SequenceNumber"),
            "processedAt": datetime.now(UTC).isoformat(),
        }
        body = json.dumps(doc, default=str)
        day = datetime.now(UTC).strftime("%Y/%m/%d")
        s3.put_object(
            Bucket=bucket,
            Key=f"audit-logs/{day}/{r.get('eventID')}.json",
            Body=body.encode("utf-8"),
            ContentType="application/json",
            ServerSideEncryption="AES256",
        )
        sns.publish(
            TopicArn=topic,
            Subject=f"DynamoDB Activity: {r['eventName']}",
            Message=body,
        )
    return len(records)


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if not _clients:
        import boto3

        _clients["s3"], _clients["sns"] = boto3.client("s3"), boto3.client("sns")
    records = event.get("Records", [])
    n = process(
        records,
        _clients["s3"],
        _clients["sns"],
        os.environ["S3_BUCKET_NAME"],
        os.environ["SNS_TOPIC_ARN"],
    )
    print(json.dumps({"message": "Processing batch", "records": n}))
    return {"statusCode": 200, "processed": n}
