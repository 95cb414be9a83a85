"""Checkpoints of the local runtime, persisted to ``<state_dir>/checkpoints.json``.

One entry per (event source mapping UUID, stream ARN, shard id): the checkpoint (the last
sequence number such that it and everything before it is done) and the records done beyond it
(parallel lanes finish out of order). Written atomically (temporary file, fsync, rename) on
every change, so a new runtime over the same emulator state resumes exactly where the last one
stopped: nothing processed twice, nothing skipped.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FILE_NAME = "checkpoints.json"


@dataclass
class ShardCheckpoint:
    #: last sequence number done (with everything before it); None: nothing done yet
    checkpoint: str | None = None
    #: records done beyond the checkpoint
    done_after: list[str] = field(default_factory=list)
    #: True once the starting position (LATEST / TRIM_HORIZON) has been resolved
    initialized: bool = False
    #: open tumbling windows by lane index: {"start", "length", "state"} (see .windows)
    windows: dict[str, Any] = field(default_factory=dict)


class CheckpointStore:
    def __init__(self, state_dir: str | os.PathLike[str]) -> None:
        self.dir = Path(state_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path = self.dir / FILE_NAME
        self._lock = threading.Lock()
        self._data: dict[str, Any] = self._load()

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {"version": 1, "mappings": {}}
        if not isinstance(data, dict) or data.get("version") != 1:
            raise ValueError(f"{self.path}: not a ddbstream checkpoint file (version 1)")
        data.setdefault("mappings", {})
        return data

    @staticmethod
    def _key(stream_arn: str, shard_id: str) -> str:
        return f"{stream_arn}|{shard_id}"

    def get(self, uuid: str, stream_arn: str, shard_id: str) -> ShardCheckpoint:
        with self._lock:
            entry = self._data["mappings"].get(uuid, {}).get(self._key(stream_arn, shard_id))
        if not entry:
            return ShardCheckpoint()
        return ShardCheckpoint(
            checkpoint=entry.get("checkpoint"),
            done_after=list(entry.get("done_after", [])),
            initialized=bool(entry.get("initialized", False)),
            windows=dict(entry.get("windows") or {}),
        )

    def put(self, uuid: str, stream_arn: str, shard_id: str, cp: ShardCheckpoint) -> None:
        with self._lock:
            shards = self._data["mappings"].setdefault(uuid, {})
            shards[self._key(stream_arn, shard_id)] = {
                "checkpoint": cp.checkpoint,
                "done_after": list(cp.done_after),
                "initialized": cp.initialized,
                **({"windows": cp.windows} if cp.windows else {}),
            }
            self._write()

    def mapping_ids(self) -> list[str]:
        with self._lock:
            return list(self._data["mappings"])

    def forget(self, uuid: str) -> None:
        with self._lock:
            if self._data["mappings"].pop(uuid, None) is not None:
                self._write()

    def _write(self) -> None:
        text = json.dumps(self._data, indent=1, sort_keys=True)
        fd, tmp = tempfile.mkstemp(prefix=".checkpoints.", dir=self.dir)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
