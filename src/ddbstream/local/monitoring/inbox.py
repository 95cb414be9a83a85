"""The local stack's notification inbox: what the SNS topics' subscribers receive, kept in a file.

The local stack subscribes an SQS queue of its own (:data:`QUEUE_NAME`, in the emulator, not in
Terraform) to the stack's topics (change notifications and alarms) and drains it continuously
into ``notifications.jsonl`` in the state directory, one JSON object per notification: the SNS
envelope as a subscriber gets it (``Type``, ``MessageId``, ``TopicArn``, ``Subject``,
``Message``, ``Timestamp``, ``MessageAttributes``) plus ``received`` (when the inbox took it).
``ddbstream notifications`` reads that file, so it can be read again and followed, and the queue
never fills up: a message is deleted from it once its line is written (a crash between the two
writes that line again on the next start: at least once). Past :data:`MAX_BYTES` the file is
rotated to ``notifications.jsonl.1`` (the one before is dropped), so the inbox stays bounded
however long the stack runs.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger("ddbstream.local.monitoring")

QUEUE_NAME = "ddbstream-local-inbox"
INBOX_FILE = "notifications.jsonl"
#: Past this size the file becomes ``notifications.jsonl.1`` (replacing the previous one) and a
#: new one starts: a long-running stack keeps at most about twice this much.
MAX_BYTES = 16 * 1024 * 1024


def rotated(path: Path) -> Path:
    """The previous inbox file, kept after a rotation."""
    return path.with_name(path.name + ".1")


class Inbox:
    """Subscribes :data:`QUEUE_NAME` to ``topic_arns`` and drains it into ``path``."""

    def __init__(
        self, clients: Any, topic_arns: str | Sequence[str], path: Path, wait_seconds: int = 1
    ) -> None:
        self.sqs = clients("sqs")
        self.sns = clients("sns")
        self.topic_arns = [topic_arns] if isinstance(topic_arns, str) else list(topic_arns)
        self.path = path
        self.wait_seconds = wait_seconds
        self.queue_url = ""
        self.received = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def subscribe(self) -> str:
        """Create the queue and subscribe it to each topic (all idempotent); the queue URL."""
        self.queue_url = self.sqs.create_queue(QueueName=QUEUE_NAME)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        for topic in self.topic_arns:
            subs = self.sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
            if not any(s.get("Endpoint") == arn for s in subs):
                self.sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
        return self.queue_url

    def drain_once(self) -> int:
        """Move what the queue holds into the file; returns how many notifications."""
        resp = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=self.wait_seconds
        )
        msgs = resp.get("Messages", [])
        if not msgs:
            return 0
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        lines = []
        for m in msgs:
            try:
                envelope = json.loads(m["Body"])
            except ValueError:
                envelope = {"Message": m["Body"]}
            if not isinstance(envelope, dict):
                envelope = {"Message": m["Body"]}
            lines.append(json.dumps({"received": now, **envelope}, sort_keys=True) + "\n")
        with contextlib.suppress(FileNotFoundError):
            if self.path.stat().st_size > MAX_BYTES:
                os.replace(self.path, rotated(self.path))
        with open(self.path, "a", encoding="utf-8") as f:
            f.write("".join(lines))
            f.flush()
            os.fsync(f.fileno())
        self.sqs.delete_message_batch(
            QueueUrl=self.queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)
            ],
        )
        self.received += len(msgs)
        return len(msgs)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                if not self.drain_once():
                    self._stop.wait(0.5)
            except Exception as exc:  # the emulator stopping, a transient error
                log.debug("inbox: %s", exc)
                self._stop.wait(1.0)

    def start(self) -> None:
        self.subscribe()
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="ddbstream-inbox", daemon=True)
        self._thread.start()

    def stop(self, drain_seconds: float = 5.0) -> None:
        """Stop draining; what arrived meanwhile is drained for up to ``drain_seconds``.

        Bounded: a busy stack keeps publishing (one notification per change) while it stops,
        so draining until the queue is empty could go on for minutes. What is left stays in
        the queue, which is part of the emulator's saved state: the next start drains it."""
        deadline = time.monotonic() + drain_seconds
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=drain_seconds)
            alive = self._thread.is_alive()
            self._thread = None
            if alive:  # still in a request (a slow emulator): leave the rest queued
                return
        with contextlib.suppress(Exception):
            while time.monotonic() < deadline and self.drain_once():
                pass


def wait_for(path: Path, predicate: Any, timeout: float, since: int = 0) -> dict[str, Any] | None:
    """The first notification after line ``since`` of ``path`` for which ``predicate`` holds."""
    deadline = time.monotonic() + timeout
    while True:
        for rec in read(path)[since:]:
            if predicate(rec):
                return rec
        if time.monotonic() > deadline:
            return None
        time.sleep(0.25)


def read(path: Path) -> list[dict[str, Any]]:
    """Every notification kept (the rotated file, then the inbox file), oldest first; an
    unfinished last line is skipped."""
    text = ""
    for part in (rotated(path), path):
        with contextlib.suppress(FileNotFoundError):
            text += part.read_text(encoding="utf-8")
    out = []
    for line in text.splitlines():
        with contextlib.suppress(ValueError):
            out.append(json.loads(line))
    return out
