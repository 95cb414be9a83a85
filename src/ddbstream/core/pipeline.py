"""The batch pipeline: stream records in, per-record outcomes out.

Pure logic. The effects go through three sinks (see the protocols below) that the handler backs
with S3 and SNS and the tests and benchmark back with lists. A sink signals failure by raising
(the pipeline catches any exception) or, for notifications, by returning the indices it could
not deliver.

Order of work and failure policy:

1. Decode every record. A record that does not decode (a *poison* record) is written to the
   quarantine sink with the raw record and the error; once quarantined it counts as handled and
   does not block the shard. If the quarantine write fails, the record is a failure.
   A record whose keys and envelope decode but whose image holds something undecodable is
   *partially* poison: it goes on through the audit log and notifications with what decodes
   (its line names the rest in ``undecodable_attributes``), and its raw form is quarantined
   beside it; a failed quarantine write makes it a failure too.
2. Write the audit log: one object per partition (table, hour) holding every decoded change,
   the PUTs in flight together (in the background: the notification messages are built
   meanwhile). A failed write makes every record in that object a failure.
3. Once every audit write has answered, publish notifications for matching changes *before*
   the first failure so far (changes after it will be delivered again by the retry, so
   publishing them now would only duplicate), in PublishBatch chunks of up to 10, with up to
   ``publish_concurrency`` calls in flight (a window sliding over the oldest unfinished call;
   one at a time for a FIFO topic, whose order matters). After a failed call nothing new is
   sent: at most ``publish_concurrency - 1`` chunks after it were in flight and delivered.
4. ``failures``: the sequence numbers of every record from the first one whose effects were not
   all delivered, in stream order. Lambda checkpoints before the lowest and retries from there.

Before every sink call the pipeline asks ``should_stop()``; once it says yes (the invocation is
running out of time) nothing more is attempted and the undelivered rest is reported as failures.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from ddbstream.core.audit import AuditObject, build_audit_objects, event_to_line
from ddbstream.core.decode import ChangeEvent, DecodeError, decode_record
from ddbstream.core.jsonenc import dumps
from ddbstream.core.notify import Notification, build_notification, chunk_notifications
from ddbstream.core.rules import DEFAULT_RULES, RuleSet


class AuditSink(Protocol):
    def write(self, obj: AuditObject) -> None: ...


class QuarantineSink(Protocol):
    def write(self, obj: QuarantineObject) -> None: ...


class NotificationSink(Protocol):
    def publish(self, batch: Sequence[Notification]) -> Sequence[int]:
        """Publish up to 10 messages; return the ``index`` of each message that failed."""
        ...


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    audit_prefix: str = "audit-logs/"
    quarantine_prefix: str = "quarantine/"
    rules: RuleSet = DEFAULT_RULES
    notification_attributes: tuple[str, ...] = ("ActivityType", "UserId")
    fifo_topic: bool = False
    # PublishBatch calls in flight at once (1: one after the other). Calls go out in waves of
    # this many; a failure stops publishing after its wave.
    publish_concurrency: int = 1


@dataclass(frozen=True, slots=True)
class QuarantineObject:
    key: str
    body: bytes
    index: int
    error: str
    content_type: str = "application/json"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one record of the batch."""

    index: int
    sequence_number: str | None
    status: str  # "delivered" | "quarantined" | "failed"
    reason: str | None = None


@dataclass
class BatchResult:
    outcomes: list[Outcome]
    events: list[ChangeEvent]
    audit_objects: list[AuditObject] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)
    quarantined: list[QuarantineObject] = field(default_factory=list)
    changes_by_event: Counter[str] = field(default_factory=Counter)
    audit_objects_written: int = 0
    audit_keys_written: list[str] = field(default_factory=list)
    notifications_sent: int = 0
    records_quarantined: int = 0
    errors: list[str] = field(default_factory=list)
    stopped_early: bool = False
    first_failure: int | None = None

    @property
    def failures(self) -> list[str]:
        """Sequence numbers to report in ``batchItemFailures`` (stream order)."""
        if self.first_failure is None:
            return []
        return [o.sequence_number for o in self.outcomes[self.first_failure :] if o.sequence_number]

    @property
    def changes(self) -> int:
        return sum(self.changes_by_event.values())


def _raw_sequence_number(record: Any) -> str | None:
    try:
        seq = record["dynamodb"]["SequenceNumber"]
    except (KeyError, TypeError, IndexError):
        return None
    return seq if isinstance(seq, str) and seq else None


def _named(undecodable: dict[str, str]) -> str:
    return "; ".join(f"{name} ({why})" for name, why in sorted(undecodable.items()))


def _publish(notifier: NotificationSink, chunk: list[Notification]) -> tuple[set[int], str, str]:
    """One PublishBatch call: (indices that failed, why, error text for the log)."""
    try:
        return set(notifier.publish(chunk)), "notification failed", ""
    except Exception as exc:
        return {m.index for m in chunk}, f"notification failed: {exc}", f"publish: {exc}"


def _write_audit(
    audit: AuditSink, obj: AuditObject, should_stop: Callable[[], bool]
) -> tuple[bool, str | None]:
    """One audit PUT: (attempted, error or None)."""
    if should_stop():
        return False, None
    try:
        audit.write(obj)
    except Exception as exc:
        return True, str(exc)
    return True, None


def _publish_all(
    chunks: list[list[Notification]],
    notifier: NotificationSink,
    width: int,
    pool: ThreadPoolExecutor | None,
    should_stop: Callable[[], bool],
    result: BatchResult,
    fail: Callable[[int, str], None],
) -> None:
    """PublishBatch calls in stream order, up to ``width`` in flight: chunk k is sent once chunk
    k - width has completed (a window sliding over the oldest unfinished call, not waves, so a
    call's CPU overlaps the others' waiting). After a failure nothing new is sent: the calls
    already in flight finish, so at most ``width - 1`` chunks after the failed one are delivered
    (and sent again by the retry)."""
    futures: list[Future[tuple[set[int], str, str]]] = []
    done_upto = 0  # chunks[:done_upto] completed and accounted
    stop = False
    for k, chunk in enumerate(chunks):
        while k - done_upto >= width or (stop and done_upto < len(futures)):
            stop = _account(chunks[done_upto], futures[done_upto].result(), result, fail) or stop
            done_upto += 1
        if stop:
            break
        if should_stop():
            result.stopped_early = True
            for rest in chunks[k:]:
                for m in rest:
                    fail(m.index, "not attempted: invocation running out of time")
            break
        if pool is None or width == 1:
            done: Future[tuple[set[int], str, str]] = Future()
            done.set_result(_publish(notifier, chunk))
            futures.append(done)
        else:
            futures.append(pool.submit(_publish, notifier, chunk))
    while done_upto < len(futures):
        _account(chunks[done_upto], futures[done_upto].result(), result, fail)
        done_upto += 1


def _account(
    chunk: list[Notification],
    outcome: tuple[set[int], str, str],
    result: BatchResult,
    fail: Callable[[int, str], None],
) -> bool:
    """Record one call's outcome; True if any of its messages failed."""
    failed, why, error = outcome
    if error:
        result.errors.append(error)
    result.notifications_sent += sum(1 for m in chunk if m.index not in failed)
    for m in chunk:
        if m.index in failed:
            fail(m.index, why)
    return bool(failed)


def build_quarantine_object(prefix: str, index: int, record: Any, error: str) -> QuarantineObject:
    """Raw record plus error, keyed by the record's content (a retry overwrites, no duplicate)."""
    try:
        raw_text = dumps(record)
        raw: Any = record
    except (TypeError, ValueError):  # not even JSON-serialisable: keep its repr
        raw = repr(record)
        raw_text = dumps(raw)
    digest = hashlib.sha256(raw_text.encode("utf-8")).hexdigest()[:32]
    table = "_unknown"
    if isinstance(record, dict) and isinstance(record.get("eventSourceARN"), str):
        arn = record["eventSourceARN"]
        name = arn.partition(":table/")[2].split("/", 1)[0]
        if name and all(c.isalnum() or c in "_.-" for c in name):
            table = name
    seq = _raw_sequence_number(record)
    body = dumps(
        {
            "error": error,
            "sequence_number": seq,
            "event_source_arn": record.get("eventSourceARN") if isinstance(record, dict) else None,
            "record": raw,
        }
    )
    return QuarantineObject(
        key=f"{prefix}table={table}/{digest}.json",
        body=body.encode("utf-8"),
        index=index,
        error=error,
    )


def process_batch(
    records: Sequence[Any],
    *,
    config: PipelineConfig,
    audit: AuditSink,
    notifier: NotificationSink,
    quarantine: QuarantineSink,
    should_stop: Callable[[], bool] = lambda: False,
    on_change: Callable[[int, ChangeEvent], None] | None = None,
    received_at: float | None = None,
) -> BatchResult:
    # the event time of a record without ApproximateCreationDateTime (see decode_record)
    received = time.time() if received_at is None else received_at
    n = len(records)
    seqs: list[str | None] = [None] * n
    status: list[str] = ["pending"] * n
    reason: list[str | None] = [None] * n
    events: list[tuple[int, ChangeEvent, str]] = []
    poison: list[tuple[int, str]] = []
    partial: list[tuple[int, str]] = []
    result = BatchResult(outcomes=[], events=[])
    by_event = result.changes_by_event

    # 1. decode
    for i, rec in enumerate(records):
        try:
            ev = decode_record(rec, received)
            line = event_to_line(ev)
        except DecodeError as exc:
            poison.append((i, str(exc)))
            seqs[i] = _raw_sequence_number(rec)
            continue
        except Exception as exc:  # a bug must not lose the record: quarantine it too
            poison.append((i, f"{type(exc).__name__}: {exc}"))
            seqs[i] = _raw_sequence_number(rec)
            continue
        seqs[i] = ev.sequence_number
        if ev.undecodable:  # audited with what decodes; the raw record quarantined beside it
            partial.append((i, "partially decodable, audited without: " + _named(ev.undecodable)))
        events.append((i, ev, line))
        result.events.append(ev)
        by_event[ev.event_name] += 1
        if on_change is not None:
            on_change(i, ev)

    def fail(i: int, why: str) -> None:
        status[i] = "failed"
        reason[i] = why

    # quarantine poison records, and the raw form of partially decodable ones
    whole = {i for i, _ in poison}
    for i, err in sorted(poison + partial):
        if should_stop():
            result.stopped_early = True
            fail(i, "not attempted: invocation running out of time")
            continue
        q = build_quarantine_object(config.quarantine_prefix, i, records[i], err)
        try:
            quarantine.write(q)
        except Exception as exc:
            fail(i, f"quarantine write failed: {exc}")
            result.errors.append(f"quarantine write {q.key}: {exc}")
            continue
        if i in whole:  # nothing else to deliver for it
            status[i] = "quarantined"
            reason[i] = err
        result.quarantined.append(q)
        result.records_quarantined += 1

    # 2. audit log, 3a. notifications built while the audit PUTs are in flight (CPU next to the
    # wait; nothing is published before the audit log's outcome is known)
    objects = build_audit_objects(config.audit_prefix, events)
    result.audit_objects = objects
    width = 1 if config.fifo_topic else max(1, config.publish_concurrency)
    pool = ThreadPoolExecutor(max_workers=width) if width > 1 or objects else None
    try:
        written = (
            [pool.submit(_write_audit, audit, obj, should_stop) for obj in objects] if pool else []
        )
        candidates: list[Notification] = []
        for i, ev, line in events:
            matched = config.rules.match(ev)
            if matched:
                candidates.append(
                    build_notification(
                        i, ev, matched, config.notification_attributes, line, config.fifo_topic
                    )
                )
        for obj, future in zip(objects, written, strict=True):
            attempted, error = future.result()
            if attempted and error is None:
                result.audit_objects_written += 1
                result.audit_keys_written.append(obj.key)
                continue
            if not attempted:
                result.stopped_early = True
                why = "not attempted: invocation running out of time"
            else:
                result.errors.append(f"audit write {obj.key}: {error}")
                why = f"audit write failed: {error}"
            for i in obj.indices:
                fail(i, why)

        # 3b. publish, for changes before the first failure so far
        cut = next((i for i in range(n) if status[i] == "failed"), n)
        pending = [m for m in candidates if m.index < cut]
        result.notifications = pending
        _publish_all(
            list(chunk_notifications(pending)), notifier, width, pool, should_stop, result, fail
        )
    finally:
        if pool is not None:
            pool.shutdown(wait=True)

    # 4. outcomes: everything from the first failure on is retried; the rest is delivered
    first = next((i for i in range(n) if status[i] == "failed"), None)
    for i in range(n):
        if first is not None and i >= first:
            if status[i] != "failed":
                status[i] = "failed"
                reason[i] = "after an earlier failure in the batch: retried with it"
        elif status[i] == "pending":
            status[i] = "delivered"
    result.first_failure = first
    result.outcomes = [Outcome(i, seqs[i], status[i], reason[i]) for i in range(n)]
    return result
