"""In-memory sinks for the pipeline: they keep what they receive and count calls.

Used by the tests (with failure injection), the benchmark and anything that wants to run the
pipeline without AWS.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ddbstream.core.audit import AuditObject
from ddbstream.core.notify import MAX_BATCH_ENTRIES, Notification
from ddbstream.core.pipeline import QuarantineObject


class SinkError(RuntimeError):
    """An injected failure."""


@dataclass
class MemoryAudit:
    objects: dict[str, AuditObject] = field(default_factory=dict)
    calls: int = 0
    fail: Callable[[AuditObject], bool] = lambda obj: False

    def write(self, obj: AuditObject) -> None:
        self.calls += 1
        if self.fail(obj):
            raise SinkError(f"injected audit failure for {obj.key}")
        self.objects[obj.key] = obj


@dataclass
class MemoryQuarantine:
    objects: dict[str, QuarantineObject] = field(default_factory=dict)
    calls: int = 0
    fail: Callable[[QuarantineObject], bool] = lambda obj: False

    def write(self, obj: QuarantineObject) -> None:
        self.calls += 1
        if self.fail(obj):
            raise SinkError(f"injected quarantine failure for {obj.key}")
        self.objects[obj.key] = obj


@dataclass
class MemoryNotifier:
    """``fail_entry(n)``: that entry is reported under ``Failed``; ``fail_call(batch)``: the
    whole call raises."""

    sent: list[Notification] = field(default_factory=list)
    calls: int = 0
    fail_entry: Callable[[Notification], bool] = lambda n: False
    fail_call: Callable[[Sequence[Notification]], bool] = lambda batch: False

    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def publish(self, batch: Sequence[Notification]) -> list[int]:
        if len(batch) > MAX_BATCH_ENTRIES:
            raise ValueError("more than 10 entries in one PublishBatch")
        with self._lock:  # the pipeline may publish from several threads
            self.calls += 1
            if self.fail_call(batch):
                raise SinkError("injected publish failure")
            failed = []
            for n in batch:
                if self.fail_entry(n):
                    failed.append(n.index)
                else:
                    self.sent.append(n)
            return failed
