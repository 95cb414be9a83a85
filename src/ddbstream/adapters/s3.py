"""S3 writers for audit objects and quarantine objects."""

from __future__ import annotations

from typing import Any

from ddbstream.core.audit import AuditObject
from ddbstream.core.pipeline import QuarantineObject


class _S3Writer:
    """PUTs objects to one bucket, server-side encryption always requested explicitly."""

    def __init__(self, client: Any, bucket: str, kms_key_id: str | None = None) -> None:
        self.client = client
        self.bucket = bucket
        self.sse = (
            {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_id}
            if kms_key_id
            else {"ServerSideEncryption": "AES256"}
        )
        self.puts = 0

    def _put(self, key: str, body: bytes, content_type: str, **extra: Any) -> None:
        self.puts += 1
        self.client.put_object(
            Bucket=self.bucket, Key=key, Body=body, ContentType=content_type, **extra, **self.sse
        )


class S3AuditWriter(_S3Writer):
    """PUTs one audit object: gzip NDJSON, with its line count and content hash as metadata."""

    def write(self, obj: AuditObject) -> None:
        self._put(
            obj.key,
            obj.body,
            obj.content_type,
            ContentEncoding=obj.content_encoding,
            Metadata={"records": str(obj.line_count), "sha256": obj.content_sha256},
        )


class S3QuarantineWriter(_S3Writer):
    """PUTs a poison record (raw record + error) as JSON under the quarantine prefix."""

    def write(self, obj: QuarantineObject) -> None:
        self._put(obj.key, obj.body, obj.content_type)
