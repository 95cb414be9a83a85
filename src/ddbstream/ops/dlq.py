"""``ddbstream dlq list`` / ``dlq replay``: the way back for batches that exhausted their retries.

Where on-failure records are (:func:`destinations`): the stack's SQS DLQ (output ``dlq_url``),
the on-failure bucket when the stack has one (output ``failed_batches_bucket_name``), and
whatever the function's event source mappings name as their on-failure destination now (an SQS
queue or S3 bucket; an SNS topic cannot be read back and is only named).

Replay, for each on-failure record (:func:`replay`):

1. the batch's records: from the S3 object's ``payload`` when there is one, else from the stream
   (``GetShardIterator`` ``AT_SEQUENCE_NUMBER`` the start sequence number, ``GetRecords`` up to
   the end one), turned into the records Lambda sends (:func:`ddbstream.local.runtime.events.
   lambda_record`) and filtered by the mapping's ``FilterCriteria`` as Lambda filtered them;
2. the function's own configuration, read from the deployed function
   (``GetFunctionConfiguration``: bucket, topic, prefixes, rules, attributes, KMS key) and
   validated exactly as at a cold start (:meth:`ddbstream.settings.Settings.from_env`);
3. :func:`ddbstream.core.pipeline.process_batch`, the function's pipeline, with the S3 and SNS
   adapters the function uses. Each notification carries one more message attribute,
   ``replayed`` = ``"true"`` (String), for subscribers' filter policies;
4. the message (or S3 object) is deleted only when every record's effects landed (no record
   failed). Otherwise it is kept and the reason reported.

Delivery is at least once, as for the function itself: a replay interrupted after step 3 and
before the delete runs the batch again next time. Audit objects are keyed by their first change
(the same batch rewrites the same object) and readers deduplicate by ``event_id``; notifications of
that one batch may be sent twice. A message being replayed is invisible to other readers for
:data:`VISIBILITY_TIMEOUT` seconds, extended while it is worked on, so an interrupted replay's
message is back within that time; :func:`replay` waits for such messages before it starts.

The range of sequence numbers may hold records of other batches too: with
``ParallelizationFactor`` > 1 concurrent batches of one shard interleave. They are replayed as
well (their effects are duplicates, deduplicated by ``event_id`` like any retry).
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from ddbstream.core.notify import MAX_ATTRIBUTES, Notification
from ddbstream.errors import UserError
from ddbstream.ops.onfailure import (
    S3_KEY_PREFIX,
    STREAM_RETENTION_SECONDS,
    BatchInfo,
    FailureRecord,
    NotAFailureRecord,
    parse_failure_record,
    readable_until,
)

#: Seconds a received DLQ message stays invisible to other readers (extended while in use).
VISIBILITY_TIMEOUT = 30
#: Exit status of ``dlq replay`` when something was kept in the DLQ (see :class:`ReplayReport`).
EXIT_KEPT = 3
#: The message attribute every replayed notification carries.
REPLAY_ATTRIBUTE = "replayed"
#: Terraform output naming the S3 on-failure bucket (null when the stack uses SQS).
BUCKET_OUTPUT = "failed_batches_bucket_name"

Progress = Callable[[int, int], None]


class Deployment(Protocol):
    """What this module needs of :class:`ddbstream.ops.target.Deployment`."""

    outputs: dict[str, Any]

    def client(self, service: str) -> Any: ...


# ---------------------------------------------------------------------------------------------
# Where the on-failure records are
# ---------------------------------------------------------------------------------------------


@dataclass
class Destinations:
    queues: list[str] = field(default_factory=list)  # SQS queue URLs
    buckets: list[str] = field(default_factory=list)  # S3 bucket names
    topics: list[str] = field(default_factory=list)  # SNS topic ARNs (cannot be read back)

    def describe(self) -> str:
        parts = [f"sqs {u}" for u in self.queues] + [f"s3://{b}/" for b in self.buckets]
        return ", ".join(parts) or "none"


def _mappings(deployment: Deployment, function: str | None = None) -> list[dict[str, Any]]:
    """The event source mappings of ``function`` (default: the stack's function).

    Filtered here by the function's name rather than with ``FunctionName=``: moto matches that
    filter against the exact string the mapping was created with (name or ARN)."""
    name = function or deployment.outputs.get("lambda_function_name")
    if not name:
        return []
    name = str(name).split(":function:")[-1].split(":")[0]
    lam = deployment.client("lambda")
    out: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {}
    while True:
        page = lam.list_event_source_mappings(**kwargs)
        for m in page.get("EventSourceMappings", []):
            if str(m.get("FunctionArn", "")).split(":function:")[-1].split(":")[0] == name:
                out.append(m)
        if not page.get("NextMarker"):
            return out
        kwargs["Marker"] = page["NextMarker"]


def destinations(deployment: Deployment) -> Destinations:
    """The stack's DLQ and on-failure bucket, plus what its mappings name now."""
    d = Destinations()
    url = deployment.outputs.get("dlq_url")
    if url:
        d.queues.append(str(url))
    bucket = deployment.outputs.get(BUCKET_OUTPUT)
    if bucket:
        d.buckets.append(str(bucket))
    for m in _mappings(deployment):
        arn = ((m.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        if not arn:
            continue
        parts = arn.split(":")
        service = parts[2] if len(parts) > 5 else ""
        if service == "sqs":
            q = deployment.client("sqs").get_queue_url(
                QueueName=parts[5], QueueOwnerAWSAccountId=parts[4]
            )["QueueUrl"]
            if q not in d.queues and not _same_queue(q, d.queues):
                d.queues.append(q)
        elif service == "s3":
            if parts[5] not in d.buckets:
                d.buckets.append(parts[5])
        elif service == "sns" and arn not in d.topics:
            d.topics.append(arn)
    return d


def _same_queue(url: str, urls: Sequence[str]) -> bool:
    """Queue URLs of one queue may differ in host (sqs.REGION.amazonaws.com vs queue.amazonaws
    .com, or the emulator's); compare account and name."""
    tail = "/".join(url.rstrip("/").split("/")[-2:])
    return any("/".join(u.rstrip("/").split("/")[-2:]) == tail for u in urls)


# ---------------------------------------------------------------------------------------------
# Items: one SQS message or one S3 object
# ---------------------------------------------------------------------------------------------


@dataclass
class Item:
    source: str  # "sqs" | "s3"
    location: str  # queue URL or bucket
    id: str  # SQS MessageId or S3 key
    body: str
    arrived: float | None  # SentTimestamp / LastModified, epoch seconds
    handle: str | None = None  # SQS receipt handle
    record: FailureRecord | None = None
    problem: str | None = None  # why it is not an on-failure record

    @classmethod
    def parse(cls, **kw: Any) -> Item:
        item = cls(**kw)
        try:
            item.record = parse_failure_record(item.body)
        except NotAFailureRecord as exc:
            item.problem = str(exc)
        return item


class SqsQueue:
    """Reads a queue without losing anything: messages received are held (invisible) and then
    deleted or released, never left to chance."""

    def __init__(
        self, sqs: Any, url: str, visibility: int = VISIBILITY_TIMEOUT, wait: int = 1
    ) -> None:
        """``wait``: seconds of long polling per receive. SQS answers a short poll (0) from a
        sample of its servers, so an empty answer does not mean an empty queue; 1 s asks them
        all. The emulator has no sample: the local stack reads with 0."""
        self.sqs, self.url, self.visibility, self.wait = sqs, url, visibility, wait
        # the latest receipt handle of each message: a message received again (its visibility
        # ran out) answers only to its newest handle
        self._handles: dict[str, str] = {}

    def _handle(self, item: Item) -> str:
        return self._handles.get(item.id) or str(item.handle)

    def counts(self) -> tuple[int, int]:
        """(visible, in flight) messages, as SQS approximates them."""
        a = self.sqs.get_queue_attributes(
            QueueUrl=self.url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(a.get("ApproximateNumberOfMessages", 0)), int(
            a.get("ApproximateNumberOfMessagesNotVisible", 0)
        )

    def receive(self, max_messages: int = 10) -> list[Item]:
        resp = self.sqs.receive_message(
            QueueUrl=self.url,
            MaxNumberOfMessages=max_messages,
            WaitTimeSeconds=self.wait,
            VisibilityTimeout=self.visibility,
            AttributeNames=["SentTimestamp"],
        )
        items = []
        for m in resp.get("Messages", []):
            self._handles[m["MessageId"]] = m["ReceiptHandle"]
            sent = m.get("Attributes", {}).get("SentTimestamp")
            items.append(
                Item.parse(
                    source="sqs",
                    location=self.url,
                    id=m["MessageId"],
                    body=m.get("Body", ""),
                    arrived=int(sent) / 1000 if sent else None,
                    handle=m["ReceiptHandle"],
                )
            )
        return items

    def hold(self, item: Item) -> None:
        """Keep ``item`` invisible for another :attr:`visibility` seconds."""
        self.sqs.change_message_visibility(
            QueueUrl=self.url, ReceiptHandle=self._handle(item), VisibilityTimeout=self.visibility
        )

    def delete(self, item: Item) -> None:
        self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=self._handle(item))

    def release(self, items: Sequence[Item]) -> None:
        """Make messages visible again at once (best effort: an expired handle is harmless)."""
        for i in range(0, len(items), 10):
            chunk = items[i : i + 10]
            with contextlib.suppress(ClientError, BotoCoreError):
                self.sqs.change_message_visibility_batch(
                    QueueUrl=self.url,
                    Entries=[
                        {"Id": str(n), "ReceiptHandle": self._handle(it), "VisibilityTimeout": 0}
                        for n, it in enumerate(chunk)
                    ],
                )

    def iterate(self) -> Iterator[Item]:
        """Every message once, each held while the caller works on it. A message seen before
        that comes back (its visibility ran out during a long run) is hidden again, for the
        caller to release at the end; the iteration stops when the queue has nothing more, or
        twice in a row only messages already seen."""
        seen: set[str] = set()
        only_stale = 0
        while True:
            page = self.receive()
            fresh = [m for m in page if m.id not in seen]
            for m in page:
                if m.id in seen:
                    with contextlib.suppress(ClientError, BotoCoreError):
                        self.hold(m)
            if not page:
                return
            if not fresh:
                only_stale += 1
                if only_stale >= 2:
                    return
                continue
            only_stale = 0
            pending = list(fresh)
            try:
                while pending:
                    it = pending.pop(0)
                    seen.add(it.id)
                    yield it
            finally:  # closed early (an error, a limit): the rest of the page back at once
                if pending:
                    self.release(pending)

    def peek(self) -> list[Item]:
        """Every message, then all made visible again (for listing)."""
        items: list[Item] = []
        try:
            with contextlib.closing(self.iterate()) as messages:
                items.extend(messages)
        finally:
            self.release(items)
        return items


class S3Bucket:
    """On-failure objects under ``aws/lambda/`` of a bucket."""

    def __init__(self, s3: Any, bucket: str, prefix: str = S3_KEY_PREFIX) -> None:
        self.s3, self.bucket, self.prefix = s3, bucket, prefix

    def objects(self) -> list[tuple[str, float]]:
        out: list[tuple[str, float]] = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix
        ):
            for o in page.get("Contents", []):
                out.append((o["Key"], o["LastModified"].timestamp()))
        return out

    def get(self, key: str, arrived: float | None = None) -> Item:
        body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        text = body.decode("utf-8", errors="replace")
        return Item.parse(source="s3", location=self.bucket, id=key, body=text, arrived=arrived)

    def iterate(self) -> Iterator[Item]:
        for key, modified in self.objects():
            yield self.get(key, modified)

    def delete(self, item: Item) -> None:
        self.s3.delete_object(Bucket=self.bucket, Key=item.id)


# ---------------------------------------------------------------------------------------------
# Reading a batch's records back
# ---------------------------------------------------------------------------------------------


class RecordsUnavailable(Exception):
    """The batch's records cannot be read any more (the reason)."""


#: Errors of DynamoDB Streams meaning "these records are gone" rather than "try again".
_GONE = {
    "TrimmedDataAccessException": "trimmed from the stream (older than its 24-hour retention)",
    "ResourceNotFoundException": "the stream or shard no longer exists",
    "ValidationException": "the stream refused the sequence number",
}


def _stream_error(exc: ClientError) -> RecordsUnavailable:
    code = exc.response.get("Error", {}).get("Code", "")
    msg = exc.response.get("Error", {}).get("Message", "")
    why = _GONE.get(code) or f"the stream answered {code or 'an error'}"
    return RecordsUnavailable(f"{why}: {msg}" if msg else why)


def _refused(exc: ParamValidationError, b: BatchInfo) -> RecordsUnavailable:
    """botocore refused the request before sending it: the record names a shard or sequence
    number outside the API's constraints (lengths), which no stream can hold."""
    why = " ".join(str(exc).replace("Parameter validation failed:", "").split())
    return RecordsUnavailable(
        f"the stream API refuses shard {b.shard_id!r} / sequence number "
        f"{b.start_sequence_number!r}: {why}"
    )


def probe(streams: Any, record: FailureRecord) -> str | None:
    """None if the batch's first record can still be read from the stream, else why not."""
    b = record.batch
    try:
        streams.get_shard_iterator(
            StreamArn=b.stream_arn,
            ShardId=b.shard_id,
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            SequenceNumber=b.start_sequence_number,
        )
    except ClientError as exc:
        return str(_stream_error(exc))
    except ParamValidationError as exc:
        return str(_refused(exc, b))
    return None


def read_range(streams: Any, record: FailureRecord, max_empty_pages: int = 5) -> list[dict]:
    """The stream's records from the batch's start to its end sequence number, as Lambda sends
    them. Raises :class:`RecordsUnavailable` if the range cannot be read whole."""
    from ddbstream.local.runtime.events import lambda_record

    b = record.batch
    start, end = int(b.start_sequence_number), int(b.end_sequence_number)
    try:
        it = streams.get_shard_iterator(
            StreamArn=b.stream_arn,
            ShardId=b.shard_id,
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            SequenceNumber=b.start_sequence_number,
        ).get("ShardIterator")
        out: list[dict] = []
        empty = 0
        while it:
            page = streams.get_records(ShardIterator=it, Limit=1000)
            raws = page.get("Records", [])
            for raw in raws:
                seq = int(raw["dynamodb"]["SequenceNumber"])
                if seq > end:
                    return out
                if seq >= start:
                    out.append(lambda_record(raw, b.stream_arn, b.region))
                if seq == end:
                    return out
            empty = 0 if raws else empty + 1
            if empty >= max_empty_pages:
                break
            it = page.get("NextShardIterator")
    except ClientError as exc:
        raise _stream_error(exc) from exc
    except ParamValidationError as exc:
        raise _refused(exc, b) from exc
    if not out:
        raise RecordsUnavailable(
            f"no record at or after sequence number {b.start_sequence_number} in {b.shard_id}"
        )
    raise RecordsUnavailable(
        f"the stream ends before sequence number {b.end_sequence_number} (read {len(out)} "
        f"records of the range)"
    )


# ---------------------------------------------------------------------------------------------
# The function's pipeline, with its own configuration
# ---------------------------------------------------------------------------------------------


class ReplayNotifier:
    """The function's SNS publisher, each message marked ``replayed`` = ``"true"``.

    SNS delivers at most 10 message attributes to SQS; when a notification already has 10, the
    last item attribute makes room (the body has the whole change)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def publish(self, batch: Sequence[Notification]) -> Sequence[int]:
        marked = []
        for n in batch:
            attrs = dict(n.attributes)
            while len(attrs) >= MAX_ATTRIBUTES:
                attrs.pop(next(reversed(attrs)))
            attrs[REPLAY_ATTRIBUTE] = {"DataType": "String", "StringValue": "true"}
            marked.append(dataclasses.replace(n, attributes=attrs))
        result: Sequence[int] = self.inner.publish(marked)
        return result


class NoNotifications:
    """``--no-notify``: every notification counts as delivered, none is sent."""

    def __init__(self) -> None:
        self.skipped = 0

    def publish(self, batch: Sequence[Notification]) -> Sequence[int]:
        self.skipped += len(batch)
        return []


@dataclass
class FunctionPipeline:
    """The deployed function's configuration and the sinks it drives."""

    name: str
    config: Any  # PipelineConfig
    audit: Any
    notifier: Any
    quarantine: Any
    patterns: dict[str, list[dict[str, Any]]]  # stream ARN -> the mapping's filter patterns

    def filtered(self, stream_arn: str, records: list[dict]) -> list[dict]:
        from ddbstream.local.runtime.filtering import matches_any

        patterns = self.patterns.get(stream_arn) or []
        if not patterns:
            return records
        return [r for r in records if matches_any(patterns, r)]


def load_pipeline(
    deployment: Deployment, function: str, *, notify: bool = True
) -> FunctionPipeline:
    """Build the pipeline of ``function`` (name or ARN) from its deployed configuration.

    Raises :class:`UserError` if the function is missing or its configuration is invalid (the
    replay must produce what the function would: it never runs with another configuration)."""
    from ddbstream.adapters.s3 import S3AuditWriter, S3QuarantineWriter
    from ddbstream.adapters.sns import SnsPublisher
    from ddbstream.core.pipeline import PipelineConfig
    from ddbstream.local.runtime.filtering import FilterPatternError, parse_patterns
    from ddbstream.settings import Settings, SettingsError

    lam = deployment.client("lambda")
    try:
        conf = lam.get_function_configuration(FunctionName=function)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code == "ResourceNotFoundException":
            raise UserError(f"function {function} not found: is the stack deployed?") from exc
        raise
    name = conf.get("FunctionName", function)
    env = dict((conf.get("Environment") or {}).get("Variables") or {})
    env["AWS_LAMBDA_FUNCTION_NAME"] = name
    try:
        s = Settings.from_env(env)
    except SettingsError as exc:
        problems = "; ".join(f"{v}: {m}" for v, m in exc.problems)
        raise UserError(
            f"function {name} has an invalid configuration ({problems}): fix it first; a replay "
            "runs the records with the function's own configuration"
        ) from exc
    config = PipelineConfig(
        audit_prefix=s.audit_prefix,
        quarantine_prefix=s.quarantine_prefix,
        rules=s.rules,
        notification_attributes=s.notification_attributes,
        fifo_topic=s.fifo_topic,
        publish_concurrency=s.publish_concurrency,
    )
    s3 = deployment.client("s3")
    patterns: dict[str, list[dict[str, Any]]] = {}
    for m in _mappings(deployment, name):
        try:
            patterns[m["EventSourceArn"]] = parse_patterns(m.get("FilterCriteria"))
        except FilterPatternError as exc:
            raise UserError(f"mapping {m.get('UUID')}: invalid FilterCriteria: {exc}") from exc
    notifier: Any = (
        ReplayNotifier(SnsPublisher(deployment.client("sns"), s.sns_topic_arn))
        if notify
        else NoNotifications()
    )
    return FunctionPipeline(
        name=name,
        config=config,
        audit=S3AuditWriter(s3, s.s3_bucket_name, s.audit_kms_key_id),
        notifier=notifier,
        quarantine=S3QuarantineWriter(s3, s.s3_bucket_name, s.audit_kms_key_id),
        patterns=patterns,
    )


# ---------------------------------------------------------------------------------------------
# list
# ---------------------------------------------------------------------------------------------


@dataclass
class Listed:
    """One entry of ``dlq list``."""

    item: Item
    readable: bool | None  # None: not an on-failure record
    where: str  # "s3 payload" | "stream" | reason it cannot be read

    def to_json(self, now: float) -> dict[str, Any]:
        it = self.item
        out: dict[str, Any] = {
            "source": it.source,
            "location": it.location,
            "id": it.id,
            "arrived": _iso(it.arrived),
            "age_seconds": None if it.arrived is None else round(now - it.arrived),
            "on_failure_record": it.record is not None,
        }
        if it.record is None:
            out["problem"] = it.problem
            out["body_preview"] = it.body[:200]
            return out
        out.update(it.record.to_json())
        until = readable_until(it.record)
        out["readable"] = self.readable
        out["records_from"] = self.where
        out["stream_retention_ends"] = _iso(until) if self.item.record.records is None else None
        return out


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def list_records(deployment: Deployment, progress: Progress | None = None) -> list[Listed]:
    """Every on-failure record (and anything else) in the destinations, nothing removed."""
    dest = destinations(deployment)
    streams = deployment.client("dynamodbstreams")
    items: list[Item] = []
    for url in dest.queues:
        items.extend(SqsQueue(deployment.client("sqs"), url, wait=_poll(deployment)).peek())
    for bucket in dest.buckets:
        items.extend(S3Bucket(deployment.client("s3"), bucket).iterate())
    listed: list[Listed] = []
    for n, it in enumerate(items, 1):
        if it.record is None:
            listed.append(Listed(it, None, it.problem or "not an on-failure record"))
        elif it.record.records is not None:
            listed.append(Listed(it, True, "s3 payload"))
        else:
            why = probe(streams, it.record)
            listed.append(Listed(it, why is None, "stream" if why is None else why))
        if progress:
            progress(n, len(items))
    return listed


# ---------------------------------------------------------------------------------------------
# replay
# ---------------------------------------------------------------------------------------------

#: statuses of an item after a replay; the ones marked True stay in the DLQ
STATUSES = {
    "replayed": False,
    "would-replay": True,  # --dry-run
    "discarded": False,  # unreadable and --discard-expired
    "unreadable": True,
    "failed": True,
    "foreign": True,
}


@dataclass
class ItemResult:
    source: str
    id: str
    status: str
    detail: str = ""
    table: str | None = None
    shard_id: str | None = None
    start_sequence_number: str | None = None
    end_sequence_number: str | None = None
    batch_size: int | None = None
    records: int = 0
    changes: int = 0
    audit_objects: int = 0
    notifications: int = 0
    quarantined: int = 0

    @property
    def kept(self) -> bool:
        return STATUSES[self.status]

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"kept": self.kept}


@dataclass
class ReplayReport:
    """What a replay did. ``exit_code``: 0 when nothing that needs attention is left in the
    destinations by this run, :data:`EXIT_KEPT` when something was kept (unreadable records,
    failed deliveries, foreign messages) or it was a dry run with work to do."""

    results: list[ItemResult] = field(default_factory=list)
    dry_run: bool = False
    destinations: str = ""
    waited_for_in_flight: float = 0.0

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def kept(self) -> list[ItemResult]:
        return [r for r in self.results if r.kept]

    @property
    def exit_code(self) -> int:
        return EXIT_KEPT if self.kept else 0

    def totals(self) -> dict[str, int]:
        return {
            "records": sum(r.records for r in self.results),
            "changes": sum(r.changes for r in self.results),
            "audit_objects": sum(r.audit_objects for r in self.results),
            "notifications": sum(r.notifications for r in self.results),
            "quarantined": sum(r.quarantined for r in self.results),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "destinations": self.destinations,
            "counts": {s: self.count(s) for s in STATUSES},
            "totals": self.totals(),
            "results": [r.to_json() for r in self.results],
            "exit_code": self.exit_code,
        }


@dataclass
class _Options:
    dry_run: bool
    notify: bool
    discard_expired: bool


class _Replayer:
    def __init__(self, deployment: Deployment, opts: _Options) -> None:
        self.deployment = deployment
        self.opts = opts
        self.streams = deployment.client("dynamodbstreams")
        self._pipelines: dict[str, FunctionPipeline] = {}

    def pipeline(self, record: FailureRecord) -> FunctionPipeline:
        fn = record.function_name or str(self.deployment.outputs.get("lambda_function_name") or "")
        if not fn:
            raise UserError("the on-failure record names no function and the stack has none")
        return self.pipeline_of(fn)

    def pipeline_of(self, function: str) -> FunctionPipeline:
        if function not in self._pipelines:
            self._pipelines[function] = load_pipeline(
                self.deployment, function, notify=self.opts.notify
            )
        return self._pipelines[function]

    def one(self, item: Item, delete: Callable[[], None], hold: Callable[[], None]) -> ItemResult:
        rec = item.record
        if rec is None:
            return ItemResult(item.source, item.id, "foreign", f"kept: {item.problem}")
        b = rec.batch
        res = ItemResult(
            item.source,
            item.id,
            "failed",
            table=b.table_name,
            shard_id=b.shard_id,
            start_sequence_number=b.start_sequence_number,
            end_sequence_number=b.end_sequence_number,
            batch_size=b.batch_size,
        )
        try:
            pipe = self.pipeline(rec)
        except UserError as exc:
            if rec.function_name == self.deployment.outputs.get("lambda_function_name"):
                raise  # the stack's own function: the whole replay stops, in one line
            res.detail = f"kept: {exc}"  # another function's record: this one only
            return res
        if rec.records is not None:
            records = rec.records
        else:
            try:
                records = pipe.filtered(b.stream_arn, read_range(self.streams, rec))
            except RecordsUnavailable as exc:
                if self.opts.discard_expired and not self.opts.dry_run:
                    delete()
                    res.status, res.detail = "discarded", f"records lost: {exc}"
                else:
                    res.status = "unreadable"
                    res.detail = f"kept: {exc} (--discard-expired removes it)"
                return res
        res.records = len(records)
        notes = []
        if len(records) > b.batch_size:
            notes.append(
                f"the range held {len(records)} records for a batch of {b.batch_size} "
                "(concurrent batches interleave): all replayed"
            )
        if self.opts.dry_run:
            from ddbstream.core.decode import DecodeError, decode_record

            changes = 0
            for r in records:
                try:
                    decode_record(r)
                    changes += 1
                except DecodeError:
                    pass
            res.changes = changes
            res.status = "would-replay"
            res.detail = "; ".join([f"dry run: {changes} changes would be replayed", *notes])
            return res
        hold()
        from ddbstream.core.pipeline import process_batch

        result = process_batch(
            records,
            config=pipe.config,
            audit=pipe.audit,
            notifier=pipe.notifier,
            quarantine=pipe.quarantine,
        )
        res.changes = result.changes
        res.audit_objects = result.audit_objects_written
        res.notifications = result.notifications_sent
        res.quarantined = result.records_quarantined
        if result.first_failure is None:
            delete()
            res.status = "replayed"
            res.detail = "; ".join(notes)
        else:
            failed = result.outcomes[result.first_failure]
            res.detail = "; ".join(
                [
                    f"kept: record {failed.index} ({failed.sequence_number}): {failed.reason}",
                    *result.errors[:3],
                    *notes,
                ]
            )
        return res


def _poll(deployment: Deployment) -> int:
    """Long-polling seconds for ``deployment``'s queues (see :class:`SqsQueue`)."""
    return 0 if getattr(deployment, "is_local", False) else 1


def _anything_waiting(deployment: Deployment, dest: Destinations) -> bool:
    sqs = deployment.client("sqs")
    if any(sum(SqsQueue(sqs, url).counts()) for url in dest.queues):
        return True
    s3 = deployment.client("s3")
    return any(
        s3.list_objects_v2(Bucket=b, Prefix=S3_KEY_PREFIX, MaxKeys=1).get("KeyCount", 0)
        for b in dest.buckets
    )


def wait_for_in_flight(queue: SqsQueue, timeout: float, say: Callable[[str], None]) -> float:
    """Wait (up to ``timeout``) until no message of ``queue`` is in flight; the seconds waited.

    A message in flight was received by another reader: an interrupted replay or ``dlq list``
    leaves it invisible for at most :data:`VISIBILITY_TIMEOUT` seconds."""
    t0 = time.monotonic()
    _, in_flight = queue.counts()
    if not in_flight:
        return 0.0
    say(
        f"{in_flight} message(s) of {queue.url} are in flight (another reader, or an interrupted "
        f"replay): waiting up to {timeout:.0f}s for them"
    )
    while in_flight and time.monotonic() - t0 < timeout:
        time.sleep(1.0)
        _, in_flight = queue.counts()
    return time.monotonic() - t0


def replay(
    deployment: Deployment,
    *,
    dry_run: bool = False,
    message_ids: Sequence[str] = (),
    limit: int | None = None,
    notify: bool = True,
    discard_expired: bool = False,
    wait_in_flight: float | None = None,
    visibility_timeout: int = VISIBILITY_TIMEOUT,
    progress: Progress | None = None,
    say: Callable[[str], None] = lambda _s: None,
    on_result: Callable[[ItemResult], None] | None = None,
) -> ReplayReport:
    """Replay every on-failure record of the deployment's destinations (see module docstring).

    ``message_ids``: only these SQS message ids / S3 keys (a UserError if one is not found).
    ``limit``: at most this many on-failure records. ``visibility_timeout``: seconds a message
    taken by this replay stays hidden from other readers (extended while it is worked on).
    ``wait_in_flight``: seconds to wait, first, for messages another reader holds (default:
    the visibility timeout and 5 s more). ``on_result`` is called as each item is done. Never
    raises for one bad item: its result says why it was kept."""
    if wait_in_flight is None:
        wait_in_flight = visibility_timeout + 5
    dest = destinations(deployment)
    if not dest.queues and not dest.buckets:
        raise UserError(
            "the deployment has no readable on-failure destination (no dlq_url output, no "
            "on-failure bucket, no SQS/S3 destination on its mappings)"
        )
    report = ReplayReport(dry_run=dry_run, destinations=dest.describe())
    for topic in dest.topics:
        say(f"note: on-failure records sent to SNS topic {topic} cannot be read back from here")
    rp = _Replayer(deployment, _Options(dry_run, notify, discard_expired))
    wanted = set(message_ids)
    found: set[str] = set()
    done_records = 0

    def selected(item: Item) -> bool:
        return not wanted or item.id in wanted

    def budget_left() -> bool:
        return limit is None or done_records < limit

    sqs = deployment.client("sqs")
    fn = deployment.outputs.get("lambda_function_name")
    if fn and _anything_waiting(deployment, dest):
        # an invalid configuration stops the replay here, before it takes any message
        rp.pipeline_of(str(fn))
    for url in dest.queues:
        queue = SqsQueue(sqs, url, visibility_timeout, wait=_poll(deployment))
        if wait_in_flight > 0:
            report.waited_for_in_flight += wait_for_in_flight(queue, wait_in_flight, say)
        total = sum(queue.counts())
        skipped: list[Item] = []
        n = 0
        try:
            with contextlib.closing(queue.iterate()) as messages:
                for item in messages:
                    if not budget_left() or not selected(item):
                        skipped.append(item)
                        continue
                    found.add(item.id)
                    try:
                        res = rp.one(
                            item,
                            delete=lambda it=item, q=queue: q.delete(it),  # type: ignore[misc]
                            hold=lambda it=item, q=queue: q.hold(it),  # type: ignore[misc]
                        )
                    except BaseException:
                        skipped.append(item)  # visible again at once for the next run
                        raise
                    report.results.append(res)
                    if on_result:
                        on_result(res)
                    if res.status != "replayed" and res.status != "discarded":
                        skipped.append(item)
                    if item.record is not None:
                        done_records += 1
                    n += 1
                    if progress:
                        progress(n, max(total, n))
        finally:
            queue.release(skipped)
    s3 = deployment.client("s3")
    for bucket in dest.buckets:
        store = S3Bucket(s3, bucket)
        keys = [(k, t) for k, t in store.objects() if not wanted or k in wanted]
        for n, (key, modified) in enumerate(keys, 1):
            if not budget_left():
                break
            item = store.get(key, modified)
            found.add(item.id)
            res = rp.one(item, delete=lambda it=item, st=store: st.delete(it), hold=lambda: None)  # type: ignore[misc]
            report.results.append(res)
            if on_result:
                on_result(res)
            if item.record is not None:
                done_records += 1
            if progress:
                progress(n, len(keys))
    missing = wanted - found
    if missing:
        raise UserError(
            f"no message {', '.join(sorted(missing))} in {dest.describe()} "
            "(see `ddbstream dlq list`)"
        )
    return report


def summary(report: ReplayReport) -> str:
    """One paragraph for people: counts and totals."""
    t = report.totals()
    counts = ", ".join(f"{report.count(s)} {s}" for s in STATUSES if report.count(s))
    return (
        f"{len(report.results)} message(s): {counts or 'nothing to do'}; {t['records']} records, "
        f"{t['changes']} changes, {t['audit_objects']} audit objects written, "
        f"{t['notifications']} notifications sent, {t['quarantined']} quarantined"
    )


__all__ = [
    "EXIT_KEPT",
    "REPLAY_ATTRIBUTE",
    "STREAM_RETENTION_SECONDS",
    "Destinations",
    "ItemResult",
    "Listed",
    "RecordsUnavailable",
    "ReplayReport",
    "destinations",
    "list_records",
    "load_pipeline",
    "read_range",
    "replay",
    "summary",
]
