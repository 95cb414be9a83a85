"""The batch state machine of a stream event source mapping, in plain Python.

No threads, no boto3: given a batch and the outcome of invoking the function with it,
:func:`decide` says which records are done, which are given up on (and with which condition),
and which must be invoked again. :class:`ShardProgress` turns "records done" (in any order,
when lanes run in parallel) into the shard's checkpoint. Both follow Lambda's documented rules:

- success (no error; with ``ReportBatchItemFailures``: a null/empty response or an empty/null
  ``batchItemFailures`` list) checkpoints the whole batch;
- with ``ReportBatchItemFailures``, the lowest reported ``itemIdentifier`` becomes the
  checkpoint: the records before it are done and Lambda retries from it; an empty or null
  ``itemIdentifier``, a wrong key name, or one that is not a sequence number of the batch makes
  the whole batch a failure;
- a failed batch is retried until ``MaximumRetryAttempts`` retries are used (-1: until the
  records expire), then discarded with condition ``RetryAttemptsExhausted``; the attempts are
  spaced by :class:`Backoff`;
- ``BisectBatchOnFunctionError`` splits a failed batch in two and invokes the halves in order;
  a split does not use a retry. With a partial response, the batch is split at the reported
  record and only the remaining records are retried (again without using a retry);
- records older than ``MaximumRecordAgeInSeconds`` (-1: no limit) are discarded before an
  invocation with condition ``RecordAgeExceeded``.
"""

from __future__ import annotations

import bisect as _bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .events import (
    PAYLOAD_LIMIT_BYTES,
    RECORD_AGE_EXCEEDED,
    RETRY_ATTEMPTS_EXHAUSTED,
    Discard,
    ResponseContext,
    StreamRecord,
)
from .windows import has_state

REPORT_BATCH_ITEM_FAILURES = "ReportBatchItemFailures"


@dataclass(frozen=True)
class MappingSettings:
    """The parts of an event source mapping's configuration that shape batches.

    Not the processor's :class:`ddbstream.settings.Settings` (the function's environment).
    """

    batch_size: int = 100
    batching_window: float = 0.0
    max_retries: int = -1
    max_record_age: int = -1
    bisect_on_error: bool = False
    report_batch_item_failures: bool = False
    parallelization_factor: int = 1
    payload_limit: int = PAYLOAD_LIMIT_BYTES
    #: TumblingWindowInSeconds (0: no tumbling window; see .windows)
    tumbling_window: int = 0

    @classmethod
    def from_mapping(cls, m: Mapping[str, Any]) -> MappingSettings:
        def num(key: str, default: int) -> int:
            v = m.get(key)
            return default if v is None else int(v)

        return cls(
            batch_size=max(1, min(num("BatchSize", 100), 10_000)),
            batching_window=float(num("MaximumBatchingWindowInSeconds", 0)),
            max_retries=num("MaximumRetryAttempts", -1),
            max_record_age=num("MaximumRecordAgeInSeconds", -1),
            bisect_on_error=bool(m.get("BisectBatchOnFunctionError") or False),
            report_batch_item_failures=REPORT_BATCH_ITEM_FAILURES
            in (m.get("FunctionResponseTypes") or []),
            parallelization_factor=max(1, min(num("ParallelizationFactor", 1), 10)),
            tumbling_window=max(0, min(num("TumblingWindowInSeconds", 0), 900)),
        )


@dataclass(frozen=True)
class Backoff:
    """The spacing of a lane's attempts after one that made no progress.

    AWS documents that a stream event source mapping retries a failed batch (a function error,
    a whole-batch ``batchItemFailures`` response, or an invocation that did not happen: a
    throttle, a missing function) until it succeeds, the records expire or exceed
    ``MaximumRecordAgeInSeconds``, or ``MaximumRetryAttempts`` are used; it does not document
    the spacing. Assumed here: exponential backoff, the scheme AWS applies to retries elsewhere
    (its SDKs, its log and telemetry delivery), from ``base`` seconds, doubling after each
    further attempt without progress, capped at ``cap``.
    With the defaults the waits before the 1st, 2nd, ... retry are 1, 2, 4, 8, 16, 32, 60, 60,
    ... seconds (about 63 s until the 6th retry). Any progress (records checkpointed or
    discarded) resets the count, so the rest of a partially failed batch follows at once.
    """

    base: float = 1.0
    cap: float = 60.0

    def delay(self, failures: int) -> float:
        """Seconds to wait after ``failures`` consecutive attempts without progress."""
        if failures <= 0 or self.base <= 0:
            return 0.0
        return float(min(self.cap, self.base * 2.0 ** min(failures - 1, 64)))


@dataclass
class Segment:
    """A batch to invoke (again): its records, the retries used, the invocations so far."""

    records: list[StreamRecord]
    retries: int = 0
    invokes: int = 0
    last_response: ResponseContext | None = None
    #: a tumbling window's final invocation (no records); ``early``: terminated early
    final: bool = False
    early: bool = False


@dataclass
class InvokeOutcome:
    """The result of one invocation of the function, as the mapping sees it.

    Not the processor's :class:`ddbstream.core.pipeline.Outcome` (what a batch produced).

    ``error`` is set for a function error (an exception, a timeout, a crash of the runtime);
    ``payload`` is the function's return value otherwise.
    """

    payload: Any = None
    error: dict[str, Any] | None = None
    request_id: str | None = None
    #: the version that ran (a mapping on an alias runs the alias's version)
    executed_version: str = "$LATEST"

    @property
    def failed(self) -> bool:
        return self.error is not None

    def response_context(self) -> ResponseContext:
        return ResponseContext(
            function_error="Unhandled" if self.error is not None else None,
            request_id=self.request_id,
            executed_version=self.executed_version,
        )


@dataclass
class Decision:
    succeeded: list[StreamRecord] = field(default_factory=list)
    discarded: list[Discard] = field(default_factory=list)
    #: segments to invoke next, in this order, before any new batch
    retry: list[Segment] = field(default_factory=list)


def expired(
    segment: Segment, settings: MappingSettings, now: float
) -> tuple[Discard | None, Segment]:
    """Split off the records older than MaximumRecordAgeInSeconds (they come first)."""
    if settings.max_record_age < 0:
        return None, segment
    limit = now - settings.max_record_age
    n = 0
    for r in segment.records:
        if r.created < limit:
            n += 1
        else:
            break
    if n == 0:
        return None, segment
    gone = Discard(
        records=segment.records[:n],
        condition=RECORD_AGE_EXCEEDED,
        invoke_count=segment.invokes,
        response=segment.last_response,
    )
    rest = Segment(segment.records[n:], segment.retries, segment.invokes, segment.last_response)
    return gone, rest


def partial_failure_index(payload: Any, records: list[StreamRecord]) -> int | None:
    """Where a ReportBatchItemFailures response puts the checkpoint.

    Returns ``None`` for complete success, the index of the lowest reported record for a
    partial failure, and ``0`` for a response that makes the whole batch a failure.
    """
    if payload is None:
        return None
    if not isinstance(payload, dict):
        return None  # not an EventResponse: nothing reported (treated as success)
    failures = payload.get("batchItemFailures")
    if failures is None:
        return None
    if not isinstance(failures, list):
        return 0
    if not failures:
        return None
    positions = {r.seq: i for i, r in enumerate(records)}
    lowest: int | None = None
    for item in failures:
        if not isinstance(item, dict) or "itemIdentifier" not in item:
            return 0
        ident = item["itemIdentifier"]
        if not isinstance(ident, str) or not ident or ident not in positions:
            return 0
        idx = positions[ident]
        lowest = idx if lowest is None else min(lowest, idx)
    return lowest


def decide(segment: Segment, outcome: InvokeOutcome, settings: MappingSettings) -> Decision:
    """What to do after invoking the function with ``segment`` (already counted in invokes)."""
    records = segment.records
    response = outcome.response_context()
    if outcome.failed:
        return _failed(segment, response, settings)
    if settings.tumbling_window and not has_state(outcome.payload):
        # "If the response does not contain a state property, Lambda considers this a failed
        # invocation" (the function itself did not fail: no functionError)
        return _failed(segment, response, settings)
    if not settings.report_batch_item_failures:
        return Decision(succeeded=list(records))
    idx = partial_failure_index(outcome.payload, records)
    if idx is None:
        return Decision(succeeded=list(records))
    if idx == 0:
        return _failed(segment, response, settings)
    done, rest = records[:idx], records[idx:]
    if settings.bisect_on_error:
        nxt = Segment(rest, segment.retries, 0, response)
        return Decision(succeeded=list(done), retry=[nxt])
    decision = _retry_or_discard(
        Segment(rest, segment.retries, segment.invokes, response), response, settings
    )
    decision.succeeded = list(done)
    return decision


def _failed(segment: Segment, response: ResponseContext, settings: MappingSettings) -> Decision:
    records = segment.records
    if settings.bisect_on_error and len(records) > 1:
        half = (len(records) + 1) // 2
        first = Segment(records[:half], segment.retries, 0, response)
        second = Segment(records[half:], segment.retries, 0, response)
        return Decision(retry=[first, second])
    return _retry_or_discard(segment, response, settings)


def _retry_or_discard(
    segment: Segment, response: ResponseContext, settings: MappingSettings
) -> Decision:
    if settings.max_retries >= 0 and segment.retries >= settings.max_retries:
        return Decision(
            discarded=[
                Discard(
                    records=list(segment.records),
                    condition=RETRY_ATTEMPTS_EXHAUSTED,
                    invoke_count=segment.invokes,
                    response=response,
                )
            ]
        )
    return Decision(
        retry=[Segment(list(segment.records), segment.retries + 1, segment.invokes, response)]
    )


class ShardProgress:
    """The checkpoint of one shard while several lanes finish records out of order.

    Records are registered in shard order as they are read; :meth:`mark_done` may come in any
    order. The checkpoint is the highest sequence number such that it and every record read
    before it are done (processed, filtered out, or discarded). ``done_after`` is the set of
    records done beyond the checkpoint; persisting it too means a restart redoes nothing.
    """

    def __init__(self, checkpoint: str | None = None, done_after: Iterable[str] = ()) -> None:
        self.checkpoint = checkpoint
        self._open: list[int] = []  # read, not done, sorted
        self._done_after: set[int] = {int(s) for s in done_after}
        self._last_read: int | None = int(checkpoint) if checkpoint else None

    @property
    def done_after(self) -> list[str]:
        return [str(s) for s in sorted(self._done_after)]

    @property
    def in_progress(self) -> int:
        return len(self._open)

    @property
    def backlog(self) -> int:
        """Records read beyond the checkpoint: not done, or done out of order."""
        return len(self._open) + len(self._done_after)

    def already_done(self, seq: str) -> bool:
        """True for a record processed before a restart (beyond the persisted checkpoint)."""
        return int(seq) in self._done_after

    def register(self, seq: str) -> None:
        s = int(seq)
        _bisect.insort(self._open, s)
        if self._last_read is None or s > self._last_read:
            self._last_read = s

    def mark_done(self, seqs: Iterable[str]) -> bool:
        """Record ``seqs`` as done; True when the checkpoint moved."""
        for seq in seqs:
            s = int(seq)
            i = _bisect.bisect_left(self._open, s)
            if i < len(self._open) and self._open[i] == s:
                del self._open[i]
            self._done_after.add(s)
        return self._advance()

    def _advance(self) -> bool:
        low_open = self._open[0] if self._open else None
        done = sorted(self._done_after)
        new_cp: int | None = None
        for s in done:
            if low_open is not None and s > low_open:
                break
            if self._last_read is None or s > self._last_read:
                break  # records between the checkpoint and s are not read yet
            new_cp = s
        if new_cp is None:
            return False
        self._done_after = {s for s in self._done_after if s > new_cp}
        old = self.checkpoint
        if old is None or new_cp > int(old):
            self.checkpoint = str(new_cp)
            return True
        return False
