"""Threads that execute one event source mapping: a reader per shard and its lanes.

- The **reader** polls its shard (``GetRecords``) four times a second when idle (a poll starts
  every ``poll_interval``, however long the one before took) and at once while records remain,
  converts records to Lambda's format, applies the filter criteria (a record that matches no
  filter is done at once), and deals each remaining record to a lane by a hash of its
  partition key.
- Each **lane** (``ParallelizationFactor`` of them per shard) forms batches in order
  (``BatchSize``, ``MaximumBatchingWindowInSeconds`` counted from when the batch's first record
  was read, 6 MB), invokes the function, and applies
  :func:`.batching.decide`. Lanes run concurrently; a key always lands in the same lane, so its
  changes are processed in order.
- :class:`.batching.ShardProgress` turns finished records into the shard's checkpoint, persisted
  by :class:`.checkpoints.CheckpointStore` after every change.
"""

from __future__ import annotations

import collections
import itertools
import json
import logging
import threading
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from . import aws
from .batching import (
    Backoff,
    InvokeOutcome,
    MappingSettings,
    Segment,
    ShardProgress,
    decide,
    expired,
)
from .checkpoints import CheckpointStore, ShardCheckpoint
from .events import (
    Discard,
    StreamRecord,
    event_payload,
    failure_object_key,
    failure_record,
    stream_record,
    take_batch,
    with_payload,
)
from .filtering import FilterPatternError, matches_any, parse_patterns
from .windows import STATE_LIMIT_BYTES, TumblingWindow, state_size, window_start
from .worker import WorkerPool

log = logging.getLogger("ddbstream.local.runtime")

_ABORTED = object()


class Concurrency:
    """Invocations in flight per function, limited by its reserved concurrency.

    Lambda runs at most ``ReservedConcurrentExecutions`` instances of a function at once (0:
    none at all); an event source mapping whose invocation is throttled retries it until the
    records expire or exceed the maximum record age, without using a retry (Lambda DG, "Using
    AWS Lambda with Amazon DynamoDB", error handling; "Lambda function scaling", reserved
    concurrency). The account's unreserved concurrency (1,000 by default) is not modelled:
    one machine never comes near it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inflight: collections.Counter[str] = collections.Counter()

    def enter(self, function: str, reserved: int | None) -> bool:
        """Take a slot for ``function``; False: throttled (no slot taken)."""
        with self._lock:
            if reserved is not None and self._inflight[function] >= reserved:
                return False
            self._inflight[function] += 1
            return True

    def leave(self, function: str) -> None:
        with self._lock:
            self._inflight[function] -= 1


@dataclass
class Services:
    """What every runner shares."""

    clients: aws.Clients
    functions: aws.FunctionSource
    telemetry: aws.Telemetry
    pool: WorkerPool
    store: CheckpointStore
    clock: Callable[[], float] = time.time
    poll_interval: float = 0.25
    #: spacing of the attempts after one that made no progress (see Backoff)
    backoff: Backoff = field(default_factory=Backoff)
    #: invocations in flight per function, against its reserved concurrency
    concurrency: Concurrency = field(default_factory=Concurrency)
    on_event: Callable[[dict[str, Any]], None] | None = None
    stats: dict[str, collections.Counter[str]] = field(default_factory=dict)
    stats_lock: threading.Lock = field(default_factory=threading.Lock)

    def emit(self, event: dict[str, Any]) -> None:
        uuid_ = event.get("mapping")
        kind = event.get("type", "")
        if uuid_:
            with self.stats_lock:
                c = self.stats.setdefault(uuid_, collections.Counter())
                c[kind] += 1
                if kind == "invoke":
                    c["records_invoked"] += int(event.get("batch_size", 0))
                    if event.get("error"):
                        c["errors"] += 1
                if kind == "discard":
                    c["records_discarded"] += int(event.get("batch_size", 0))
                if kind == "filtered":
                    c["records_filtered"] += int(event.get("count", 0))
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception:
                log.exception("on_event callback failed")


@dataclass(frozen=True)
class MappingConfig:
    uuid: str
    function_arn: str
    stream_arn: str
    starting_position: str
    settings: MappingSettings
    filter_criteria: str  # JSON text, for change detection
    destination: str | None

    @classmethod
    def from_api(cls, m: dict[str, Any]) -> MappingConfig:
        dest = ((m.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        return cls(
            uuid=m["UUID"],
            function_arn=m["FunctionArn"],
            stream_arn=m["EventSourceArn"],
            starting_position=m.get("StartingPosition") or "TRIM_HORIZON",
            settings=MappingSettings.from_mapping(m),
            filter_criteria=json.dumps(m.get("FilterCriteria") or {}, sort_keys=True),
            destination=dest or None,
        )

    @property
    def restart_key(self) -> tuple[Any, ...]:
        """Changes to these restart the mapping's threads (checkpoints are kept)."""
        return (
            self.function_arn,
            self.stream_arn,
            self.starting_position,
            self.settings.parallelization_factor,
        )

    @property
    def function_name(self) -> str:
        return aws.split_arn(self.function_arn)[3].split(":")[1]


class MappingRunner:
    def __init__(self, cfg: MappingConfig, services: Services) -> None:
        self.cfg = cfg
        self.services = services
        self.stopping = threading.Event()
        self.shards: dict[str, ShardRunner] = {}
        self.hash_key: str | None = None
        self._patterns: list[dict[str, Any]] = []
        self._patterns_src: str | None = None
        self._lock = threading.Lock()
        self._discover_lock = threading.Lock()
        self._last_error: str | None = None
        self.filter_error: str | None = None
        self.update(cfg)

    # -- configuration -------------------------------------------------------------------
    def update(self, cfg: MappingConfig) -> None:
        with self._lock:
            self.cfg = cfg
            if cfg.filter_criteria != self._patterns_src:
                self._patterns_src = cfg.filter_criteria
                try:
                    self._patterns = parse_patterns(json.loads(cfg.filter_criteria))
                    self.filter_error = None
                except FilterPatternError as e:
                    # Lambda refuses such a mapping; here it is paused (nothing read, nothing
                    # checkpointed) until its filter criteria are fixed.
                    self.filter_error = f"invalid FilterCriteria, mapping paused: {e}"
                    self.services.emit(
                        {"type": "error", "mapping": cfg.uuid, "message": self.filter_error}
                    )
        for shard in list(self.shards.values()):
            shard.wake()

    @property
    def settings(self) -> MappingSettings:
        return self.cfg.settings

    def matches(self, record: dict[str, Any]) -> bool:
        with self._lock:
            patterns = self._patterns
        try:
            return matches_any(patterns, record)
        except FilterPatternError as e:
            log.warning("mapping %s: %s", self.cfg.uuid, e)
            return False

    # -- lifecycle -----------------------------------------------------------------------
    def discover_shards(self) -> None:
        """Start a runner for every shard of the stream not running yet."""
        with self._discover_lock:  # refresh() may run in two threads (wait_idle)
            self._discover_shards()

    def _discover_shards(self) -> None:
        if self.stopping.is_set():
            return
        try:
            desc = self.services.clients.streams.describe_stream(StreamArn=self.cfg.stream_arn)
        except (ClientError, BotoCoreError) as e:
            log.warning("mapping %s: cannot describe %s: %s", self.cfg.uuid, self.cfg.stream_arn, e)
            return
        sd = desc["StreamDescription"]
        for k in sd.get("KeySchema") or []:
            if k.get("KeyType") == "HASH":
                self.hash_key = k["AttributeName"]
        for shard in sd.get("Shards") or []:
            sid = shard["ShardId"]
            if sid not in self.shards:
                runner = ShardRunner(self, sid)
                self.shards[sid] = runner
                runner.start()

    def stop(self, grace: float) -> None:
        self.stopping.set()
        for s in list(self.shards.values()):
            s.wake()
        deadline = time.monotonic() + grace
        for s in list(self.shards.values()):
            s.join(max(0.0, deadline - time.monotonic()))

    def idle_since(self, t0: float) -> bool:
        return bool(self.shards) and all(s.idle_since(t0) for s in self.shards.values())

    # -- invocation ----------------------------------------------------------------------
    def invoke(
        self, records: list[StreamRecord], extra: dict[str, Any] | None = None
    ) -> InvokeOutcome | object | None:
        """Invoke the function with ``records`` (and ``extra`` event fields: a tumbling
        window's); None: could not invoke (function missing)."""
        svc = self.services
        cfg = self.cfg
        try:
            spec, env = svc.functions.worker_spec(cfg.function_arn)
        except (aws.FunctionNotAvailable, ClientError, BotoCoreError) as e:
            if str(e) != self._last_error:  # said once, not at every retry
                self._last_error = str(e)
                svc.emit({"type": "error", "mapping": cfg.uuid, "message": str(e)})
            return None
        self._last_error = None
        if not svc.concurrency.enter(spec.function_name, svc.functions.reserved(spec)):
            # throttled: not invoked (no retry used), retried until the records expire
            svc.telemetry.metrics(spec.function_name, [("Throttles", 1, "Count")])
            svc.emit({"type": "throttle", "mapping": cfg.uuid, "function": spec.function_name})
            return None
        try:
            try:
                worker = svc.pool.acquire(spec, env)
            except RuntimeError:
                return _ABORTED
            request_id = str(uuid.uuid4())
            event = event_payload(records)
            if extra:
                event.update(extra)
            result = worker.invoke(event, request_id, cfg.function_arn)
            svc.pool.release(worker)
        finally:
            svc.concurrency.leave(spec.function_name)
        if result.aborted:
            return _ABORTED
        svc.telemetry.invocation(spec, worker.log_stream, result)
        aws.record_processing_result(
            cfg.uuid, cfg.function_arn, aws.PROCESSING_OK if result.ok else aws.PROCESSING_FAILED
        )
        metrics: list[tuple[str, float, str]] = [
            ("Invocations", 1, "Count"),
            ("Errors", 0 if result.ok else 1, "Count"),
            ("Duration", result.duration_ms, "Milliseconds"),
        ]
        if records:  # not for a tumbling window's final invocation, which has none
            age_ms = max(0.0, (svc.clock() - records[-1].created) * 1000)
            metrics.append(("IteratorAge", age_ms, "Milliseconds"))
        svc.telemetry.metrics(spec.function_name, metrics)
        svc.emit(
            {
                "type": "invoke",
                "mapping": cfg.uuid,
                "function": spec.function_name,
                "request_id": request_id,
                "batch_size": len(records),
                "first_sequence_number": records[0].seq if records else None,
                "last_sequence_number": records[-1].seq if records else None,
                "duration_ms": round(result.duration_ms, 2),
                "final_for_window": bool(extra and extra.get("isFinalInvokeForWindow")),
                "error": (result.error or {}).get("errorType") if not result.ok else None,
            }
        )
        return InvokeOutcome(
            payload=result.payload,
            error=None if result.ok else result.error,
            request_id=request_id,
            executed_version=spec.version,
        )

    def send_failure(self, shard_id: str, discard: Discard) -> None:
        svc = self.services
        cfg = self.cfg
        svc.emit(
            {
                "type": "discard",
                "mapping": cfg.uuid,
                "condition": discard.condition,
                "batch_size": len(discard.records),
                "first_sequence_number": discard.records[0].seq,
                "last_sequence_number": discard.records[-1].seq,
                "destination": cfg.destination,
            }
        )
        if not cfg.destination:
            return
        doc = failure_record(
            discard,
            # the last invocation's request id; a new one when the batch was never invoked
            request_id=(discard.response and discard.response.request_id) or str(uuid.uuid4()),
            function_arn=cfg.function_arn,
            stream_arn=cfg.stream_arn,
            shard_id=shard_id,
            now=svc.clock(),
        )
        key = None
        if aws.split_arn(cfg.destination)[0] == "s3":  # S3 keeps the records too
            doc = with_payload(doc, discard.records)
            key = failure_object_key(cfg.uuid, shard_id, svc.clock(), str(uuid.uuid4()))
        try:
            aws.send_to_destination(svc.clients, cfg.destination, doc, s3_key=key)
        except (ClientError, BotoCoreError, ValueError) as e:
            log.warning("mapping %s: on-failure destination %s: %s", cfg.uuid, cfg.destination, e)
            svc.telemetry.metrics(cfg.function_name, [("DestinationDeliveryFailures", 1, "Count")])


class ShardRunner:
    def __init__(self, mapping: MappingRunner, shard_id: str) -> None:
        self.mapping = mapping
        self.shard_id = shard_id
        self.lock = threading.RLock()
        self.wakeup = threading.Condition(self.lock)
        cp = self._store.get(mapping.cfg.uuid, mapping.cfg.stream_arn, shard_id)
        self.initialized = cp.initialized
        self.progress = ShardProgress(cp.checkpoint, cp.done_after)
        n = mapping.settings.parallelization_factor
        self.lanes = [Lane(self, i) for i in range(n)]
        if mapping.settings.tumbling_window:
            for lane in self.lanes:  # open windows go on with their state after a restart
                lane.tumbling = TumblingWindow.from_json(cp.windows.get(str(lane.index)))
        self.caught_up_since: float | None = None
        self.closed = False
        self._threads: list[threading.Thread] = []

    @property
    def _store(self) -> CheckpointStore:
        return self.mapping.services.store

    @property
    def stopping(self) -> threading.Event:
        return self.mapping.stopping

    def start(self) -> None:
        t = threading.Thread(target=self._read_loop, daemon=True, name=f"reader-{self.shard_id}")
        self._threads.append(t)
        t.start()
        for lane in self.lanes:
            lt = threading.Thread(target=lane.run, daemon=True, name=f"lane-{lane.index}")
            self._threads.append(lt)
            lt.start()

    def join(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))

    def wake(self) -> None:
        with self.wakeup:
            self.wakeup.notify_all()

    def idle_since(self, t0: float) -> bool:
        with self.lock:
            caught_up = self.closed or (
                self.caught_up_since is not None and self.caught_up_since >= t0
            )
            return caught_up and self.progress.in_progress == 0

    # -- checkpoints ---------------------------------------------------------------------
    def _persist(self) -> None:
        cfg = self.mapping.cfg
        self._store.put(
            cfg.uuid,
            cfg.stream_arn,
            self.shard_id,
            ShardCheckpoint(
                checkpoint=self.progress.checkpoint,
                done_after=self.progress.done_after,
                initialized=self.initialized,
                windows={
                    str(lane.index): lane.tumbling.to_json()
                    for lane in self.lanes
                    if lane.tumbling is not None
                },
            ),
        )

    def persist(self) -> None:
        with self.lock:
            self._persist()

    def done(self, records: list[StreamRecord]) -> None:
        if not records:
            return
        with self.lock:
            self.progress.mark_done(r.seq for r in records)
            self._persist()
            self.wakeup.notify_all()

    def discard(self, discard: Discard) -> None:
        self.mapping.send_failure(self.shard_id, discard)
        self.done(discard.records)

    def pause(self, seconds: float) -> None:
        """Wait ``seconds`` (a retry's backoff), or less if the mapping stops meanwhile."""
        deadline = time.monotonic() + seconds
        with self.wakeup:
            while not self.stopping.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self.wakeup.wait(timeout=left)  # notified for many reasons: wait again

    # -- reading -------------------------------------------------------------------------
    def _sleep(self, seconds: float) -> None:
        with self.wakeup:
            if not self.stopping.is_set():
                self.wakeup.wait(timeout=seconds)

    def _iterator(self, after: str | None) -> str:
        streams = self.mapping.services.clients.streams
        kw: dict[str, Any] = {"StreamArn": self.mapping.cfg.stream_arn, "ShardId": self.shard_id}
        if after is None:
            kw["ShardIteratorType"] = "TRIM_HORIZON"
        else:
            kw["ShardIteratorType"] = "AFTER_SEQUENCE_NUMBER"
            kw["SequenceNumber"] = after
        return str(streams.get_shard_iterator(**kw)["ShardIterator"])

    def _initialize(self) -> None:
        """Resolve the starting position once per mapping and shard, and persist it."""
        if self.initialized:
            return
        if self.mapping.cfg.starting_position == "LATEST":
            streams = self.mapping.services.clients.streams
            it: str | None = self._iterator(None)
            last: str | None = None
            while it:
                resp = streams.get_records(ShardIterator=it, Limit=1000)
                aws.forget_shard_iterator(self.mapping.cfg.stream_arn, it)
                recs = resp.get("Records") or []
                if not recs:
                    if resp.get("NextShardIterator"):
                        aws.forget_shard_iterator(
                            self.mapping.cfg.stream_arn, resp["NextShardIterator"]
                        )
                    break
                last = recs[-1]["dynamodb"]["SequenceNumber"]
                it = resp.get("NextShardIterator")
            with self.lock:
                self.progress = ShardProgress(last, ())
        with self.lock:
            self.initialized = True
            self._persist()

    def _read_loop(self) -> None:
        svc = self.mapping.services
        streams = svc.clients.streams
        iterator: str | None = None
        last_read: str | None = None
        while not self.stopping.is_set():
            try:
                if iterator is None:
                    self._initialize()
                    with self.lock:
                        last_read = last_read or self.progress.checkpoint
                    iterator = self._iterator(last_read)
                if self.mapping.filter_error:
                    self._sleep(svc.poll_interval)
                    continue
                settings = self.mapping.settings
                limit = settings.batch_size * settings.parallelization_factor + 1000
                with self.lock:  # bounds memory and the checkpoint file behind a stuck record
                    room = limit - self.progress.backlog
                if room <= 0:
                    self._sleep(svc.poll_interval)
                    continue
                started = time.monotonic()
                resp = streams.get_records(ShardIterator=iterator, Limit=min(1000, room))
                aws.forget_shard_iterator(self.mapping.cfg.stream_arn, iterator)
            except (ClientError, BotoCoreError, KeyError) as e:
                log.warning("shard %s of %s: %s", self.shard_id, self.mapping.cfg.uuid, e)
                iterator = None
                self._sleep(max(svc.poll_interval, 1.0))
                continue
            records = resp.get("Records") or []
            iterator = resp.get("NextShardIterator")
            if records:
                last_read = records[-1]["dynamodb"]["SequenceNumber"]
                self._dispatch(records)
            if iterator is None:  # the shard is closed and fully read
                with self.lock:
                    self.closed = True
                return
            if not records:
                with self.lock:
                    self.caught_up_since = started  # the latest poll that found nothing new
                # a period, not a pause: the next poll starts poll_interval after this one
                # started (Lambda's four polls a second), however long this one took
                self._sleep(max(0.0, started + svc.poll_interval - time.monotonic()))
            else:
                with self.lock:
                    self.caught_up_since = None

    def _dispatch(self, raws: list[dict[str, Any]]) -> None:
        m = self.mapping
        stream_arn = m.cfg.stream_arn
        region = aws.split_arn(stream_arn)[1]
        # converting and filtering need no lock: the lanes go on finishing batches meanwhile
        records = [stream_record(raw, stream_arn, region, m.hash_key) for raw in raws]
        wanted = [m.matches(rec.record) for rec in records]
        filtered = 0
        done: list[str] = []  # done before a restart, or filtered out: marked once per page
        read_at = time.monotonic()  # the batching window of a record counts from here
        with self.lock:
            for rec, matched in zip(records, wanted, strict=True):
                self.progress.register(rec.seq)
                if self.progress.already_done(rec.seq):
                    done.append(rec.seq)
                elif not matched:
                    done.append(rec.seq)
                    filtered += 1
                else:
                    self.lanes[_lane_of(rec.partition_key, len(self.lanes))].add(rec, read_at)
            if done:
                self.progress.mark_done(done)
                self._persist()
            self.wakeup.notify_all()
        if filtered:
            m.services.emit({"type": "filtered", "mapping": m.cfg.uuid, "count": filtered})


def _same_window(records: collections.deque[StreamRecord], length: int, limit: int) -> int:
    """How many records from the head (at most ``limit``) share the head's tumbling window."""
    start = window_start(records[0].created, length)
    n = 0
    for r in itertools.islice(records, limit):
        if window_start(r.created, length) != start:
            break
        n += 1
    return n


def _lane_of(partition_key: str, n: int) -> int:
    return zlib.crc32(partition_key.encode("utf-8")) % n if n > 1 else 0


class Lane:
    """One of a shard's ParallelizationFactor concurrent batch sequences."""

    def __init__(self, shard: ShardRunner, index: int) -> None:
        self.shard = shard
        self.index = index
        self.pending: collections.deque[StreamRecord] = collections.deque()
        #: when the records of ``pending`` were read: [monotonic time, how many], in order
        self._read_at: collections.deque[list[Any]] = collections.deque()
        self.segments: collections.deque[Segment] = collections.deque()
        #: attempts in a row that made no progress; drives the backoff before the next one
        self.failures = 0
        #: the open tumbling window (TumblingWindowInSeconds), if any
        self.tumbling: TumblingWindow | None = None

    def add(self, record: StreamRecord, read_at: float) -> None:
        """Queue a record read at ``read_at`` (monotonic); called under the shard's lock."""
        self.pending.append(record)
        if self._read_at and self._read_at[-1][0] == read_at:
            self._read_at[-1][1] += 1
        else:
            self._read_at.append([read_at, 1])

    def gathering_since(self) -> float:
        """When the head of ``pending`` was read: the start of the next batch's window.

        AWS documents MaximumBatchingWindowInSeconds only as the longest time Lambda spends
        gathering records before invoking the function (and the batch goes earlier when it is
        full: BatchSize or 6 MB). Assumed here: a batch gathers from the moment its first
        record was read, also while the previous batch of the lane is being invoked; so a
        record that already waited the window during a long invocation goes right after it
        (still one invocation at a time per lane, in order), and one read just now waits up
        to the window for more.
        """
        return float(self._read_at[0][0])

    def _take(self, n: int) -> list[StreamRecord]:
        taken = [self.pending.popleft() for _ in range(n)]
        while n and self._read_at:
            head = self._read_at[0]
            k = min(n, head[1])
            head[1] -= k
            n -= k
            if head[1] == 0:
                self._read_at.popleft()
        return taken

    def _next_segment(self) -> Segment | None:
        shard = self.shard
        with shard.wakeup:
            while not shard.stopping.is_set():
                if self.segments:
                    return self.segments.popleft()
                s = shard.mapping.settings
                length = s.tumbling_window
                wait = 1.0
                if length and self.tumbling is not None:
                    head = self.pending[0] if self.pending else None
                    now_wall = shard.mapping.services.clock()
                    if head is not None:
                        over = window_start(head.created, length) != self.tumbling.start
                    else:
                        over = now_wall >= self.tumbling.end
                        wait = min(wait, max(0.05, self.tumbling.end - now_wall))
                    if over:  # the window is over: its final invocation comes first
                        return Segment([], final=True)
                if self.pending:
                    limit = s.batch_size
                    if length:  # a batch never mixes tumbling windows
                        limit = _same_window(self.pending, length, limit)
                    n = take_batch(self.pending, limit, s.payload_limit)
                    full = n >= s.batch_size or n < len(self.pending)
                    due = self.gathering_since() + s.batching_window
                    now = time.monotonic()
                    if full or s.batching_window <= 0 or now >= due:
                        return Segment(self._take(n))
                    shard.wakeup.wait(timeout=min(wait, due - now))
                else:
                    shard.wakeup.wait(timeout=wait)
        return None

    def run(self) -> None:
        shard = self.shard
        while True:
            seg = self._next_segment()
            if seg is None:
                return
            try:
                keep_going = self._process(seg)
            except Exception:
                log.exception("lane %s of shard %s failed", self.index, shard.shard_id)
                with shard.wakeup:
                    self.segments.appendleft(seg)
                keep_going = True
                shard._sleep(1.0)
            if not keep_going:
                return

    def _process(self, seg: Segment) -> bool:
        shard = self.shard
        mapping = shard.mapping
        svc = mapping.services
        settings = mapping.settings
        if self.failures:
            shard.pause(svc.backoff.delay(self.failures))
            if shard.stopping.is_set():
                return False  # the batch is not checkpointed: the next runtime redoes it
        if seg.final:
            return self._final(seg)
        gone, seg = expired(seg, settings, svc.clock())
        if gone is not None:
            shard.discard(gone)
            self.failures = 0
        if not seg.records:
            return True
        extra = None
        length = settings.tumbling_window
        if length:
            start = window_start(seg.records[0].created, length)
            if self.tumbling is None or self.tumbling.start != start:
                self.tumbling = TumblingWindow(start, length)
            extra = self.tumbling.event_fields(shard.shard_id, mapping.cfg.stream_arn)
        seg.invokes += 1
        outcome = mapping.invoke(seg.records, extra)
        if outcome is _ABORTED:
            return False  # stopping: the batch is not checkpointed
        if outcome is None:  # could not invoke: retried until the records expire
            seg.invokes -= 1
            with shard.wakeup:
                self.segments.appendleft(seg)
            self.failures += 1
            return True
        assert isinstance(outcome, InvokeOutcome)
        decision = decide(seg, outcome, settings)
        if length and decision.succeeded and self.tumbling is not None:
            # the records before a failure were aggregated: their state goes on (persisted
            # with the checkpoint that moves past them, just below)
            self.tumbling.state = outcome.payload["state"]
            if state_size(self.tumbling.state) > STATE_LIMIT_BYTES:
                with shard.wakeup:  # over 1 MB: the window ends early, then goes on afresh
                    self.segments.appendleft(Segment([], final=True, early=True))
        shard.done(decision.succeeded)
        for d in decision.discarded:
            shard.discard(d)
        if decision.succeeded or decision.discarded:
            self.failures = 0  # progress: what is left follows at once
        elif decision.retry:
            self.failures += 1
        if decision.retry:
            with shard.wakeup:
                if self.segments and self.segments[0].final:  # the early end comes first
                    first = self.segments.popleft()
                    self.segments.extendleft(reversed(decision.retry))
                    self.segments.appendleft(first)
                else:
                    self.segments.extendleft(reversed(decision.retry))
        return True

    def _final(self, seg: Segment) -> bool:
        """A tumbling window's final invocation: retried until it succeeds, then the state is
        dropped (or, for a window terminated early, the window goes on with ``{}``)."""
        shard = self.shard
        mapping = shard.mapping
        window = self.tumbling
        if window is None:
            return True
        extra = window.event_fields(
            shard.shard_id, mapping.cfg.stream_arn, final=True, early=seg.early
        )
        outcome = mapping.invoke([], extra)
        if outcome is _ABORTED:
            return False
        if not isinstance(outcome, InvokeOutcome) or outcome.failed:
            with shard.wakeup:  # "suspends further processing until a successful invocation"
                self.segments.appendleft(seg)
            self.failures += 1
            return True
        self.failures = 0
        self.tumbling = TumblingWindow(window.start, window.length) if seg.early else None
        shard.persist()
        return True
