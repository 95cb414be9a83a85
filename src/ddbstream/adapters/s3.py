"""S3 writers for audit objects and quarantine objects."""

from __future__ import annotations

from typing import Any

from ddbstream.core.audit import AuditObject
from ddbstream.core.pipeline import QuarantineObject


def _sse(kms_key_id: str | None) -> dict[str, str]:
    if kms_key_id:
        return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_id}
    return {"ServerSideEncryption": "AES256"}


class S3AuditWriter:
    """PUTs one audit object: gzip NDJSON, server-side encryption requested explicitly."""

    def __init__(self, client: Any, bucket: str, kms_key_id: str | None = None) -> None:
        self.client = client
        self.bucket = bucket
        self.sse = _sse(kms_key_id)
        self.puts = 0

    def write(self, obj: AuditObject) -> None:
        self.puts += 1
        self.client.put_object(
            Bucket=self.bucket,
            Key=obj.key,
            Body=obj.body,
            ContentType=obj.content_type,
            ContentEncoding=obj.content_encoding,
            Metadata={"records": str(obj.line_count), "sha256": obj.content_sha256},
            **self.sse,
        )


class S3QuarantineWriter:
    """PUTs a poison record (raw record + error) as JSON under the quarantine prefix."""

    def __init__(self, client: Any, bucket: str, kms_key_id: str | None = None) -> None:
        self.client = client
        self.bucket = bucket
        self.sse = _sse(kms_key_id)
        self.puts = 0

    def write(self, obj: QuarantineObject) -> None:
        self.puts += 1
        self.client.put_object(
            Bucket=self.bucket,
            Key=obj.key,
            Body=obj.body,
            ContentType=obj.content_type,
            **self.sse,
        )
