"""SNS PublishBatch for notifications (at most 10 entries per call)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ddbstream.core.notify import MAX_BATCH_ENTRIES, Notification


class SnsPublisher:
    """Publishes a chunk with one PublishBatch call and reports the entries that failed.

    An entry counts as delivered only if SNS lists it under ``Successful``; anything under
    ``Failed`` (or missing from both) is a failure. A call that raises (after botocore's own
    retries) fails the whole chunk; the pipeline catches it.
    """

    def __init__(self, client: Any, topic_arn: str) -> None:
        self.client = client
        self.topic_arn = topic_arn
        self.calls = 0
        self.last_errors: list[dict[str, Any]] = []

    def publish(self, batch: Sequence[Notification]) -> list[int]:
        if not batch:
            return []
        if len(batch) > MAX_BATCH_ENTRIES:
            raise ValueError(f"PublishBatch takes at most {MAX_BATCH_ENTRIES} entries")
        entries = []
        by_id: dict[str, int] = {}
        for pos, n in enumerate(batch):
            entry_id = f"m{pos}"
            by_id[entry_id] = n.index
            e: dict[str, Any] = {
                "Id": entry_id,
                "Message": n.message,
                "Subject": n.subject,
                "MessageAttributes": n.attributes,
            }
            if n.group_id is not None:
                e["MessageGroupId"] = n.group_id
            if n.dedup_id is not None:
                e["MessageDeduplicationId"] = n.dedup_id
            entries.append(e)
        self.calls += 1
        resp = self.client.publish_batch(
            TopicArn=self.topic_arn, PublishBatchRequestEntries=entries
        )
        ok = {s.get("Id") for s in resp.get("Successful", [])}
        self.last_errors = list(resp.get("Failed", []))
        return [index for entry_id, index in by_id.items() if entry_id not in ok]
