"""Tumbling windows (``TumblingWindowInSeconds``) of a DynamoDB stream mapping, in plain Python.

As AWS documents them (Lambda DG, "Using AWS Lambda with Amazon DynamoDB", "Time windows"):

- each record belongs to the window ``[start, start + TumblingWindowInSeconds)`` that holds its
  ``ApproximateCreationDateTime``; a batch never mixes windows;
- every invocation gets the window's ``state`` (``{}`` at first) with the records, plus
  ``window`` (``start`` / ``end``), ``shardId``, ``eventSourceARN``, ``isFinalInvokeForWindow``
  and ``isWindowTerminatedEarly``; the response must hold a ``state`` (a missing one makes the
  invocation a failure, retried as any other) and may hold ``batchItemFailures``;
- the state a response returns is carried to the next invocation of the window (after a
  partial batch response too: the records before the reported one were aggregated; after a
  failure the state before the failed batch is kept and the batch is retried with it);
- when the window is over, a final invocation (``isFinalInvokeForWindow: true``) gets the
  window's state; Lambda retries it until it succeeds ("suspends further processing until a
  successful invocation"), then drops the state: the next window starts from ``{}``;
- a state over 1 MB terminates the window early: a final invocation with
  ``isWindowTerminatedEarly: true``, then the same window goes on with a fresh state.

Not documented, assumed here: the final invocation carries no records (``"Records": []``:
every record of the window went to its earlier invocations); the window is over when a
record of a later window is next or the clock has passed its end with nothing left to process
in it; the final invocation's own response needs no ``state``. The runtime persists a
window's state with the checkpoints, so a restart goes on with it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from .events import iso_s

#: "Your state can be a maximum of 1 MB per shard."
STATE_LIMIT_BYTES = 1024 * 1024


def window_start(created: float, length: int) -> float:
    """Start (epoch seconds) of the window of ``length`` seconds that holds ``created``."""
    return float(math.floor(created / length) * length)


def has_state(payload: Any) -> bool:
    """A response fit for a tumbling window: an object with a ``state``."""
    return isinstance(payload, dict) and "state" in payload


def state_size(state: Any) -> int:
    return len(json.dumps(state, separators=(",", ":")).encode("utf-8"))


@dataclass
class TumblingWindow:
    start: float
    length: int
    state: Any = field(default_factory=dict)

    @property
    def end(self) -> float:
        return self.start + self.length

    def event_fields(
        self, shard_id: str, stream_arn: str, *, final: bool = False, early: bool = False
    ) -> dict[str, Any]:
        """What Lambda adds to the event, after ``Records`` (in the documented order)."""
        return {
            "window": {"start": iso_s(self.start), "end": iso_s(self.end)},
            "state": self.state,
            "shardId": shard_id,
            "eventSourceARN": stream_arn,
            "isFinalInvokeForWindow": final,
            "isWindowTerminatedEarly": early,
        }

    def to_json(self) -> dict[str, Any]:
        return {"start": self.start, "length": self.length, "state": self.state}

    @classmethod
    def from_json(cls, data: Any) -> TumblingWindow | None:
        if not isinstance(data, dict) or "start" not in data or "length" not in data:
            return None
        return cls(float(data["start"]), int(data["length"]), data.get("state") or {})
