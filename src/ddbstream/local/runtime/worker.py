"""Warm worker processes that run the deployed function (the subprocess edge).

A :class:`Worker` is one "execution environment": a Python subprocess (this machine's
``sys.executable``) running :mod:`._bootstrap` in the unzipped package, with the function's
environment. It stays warm between invocations. :class:`WorkerPool` hands out a warm worker
whose :class:`WorkerSpec` (code, handler, environment, timeout, memory) matches the function's
current configuration, and starts a fresh one otherwise, as Lambda does after
``UpdateFunctionCode`` / ``UpdateFunctionConfiguration``. A timeout kills the worker.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BOOTSTRAP = str(Path(__file__).with_name("_bootstrap.py"))
#: Lambda gives a function's init phase 10 seconds.
INIT_TIMEOUT_S = 10.0
#: How often a running invocation's peak memory (VmHWM) is compared with MemorySize; a peak
#: between two checks is caught when the invocation ends.
MEMORY_CHECK_S = 0.05


@dataclass(frozen=True)
class WorkerSpec:
    function_name: str
    function_arn: str
    code_dir: str
    handler: str
    timeout_s: float
    memory_mb: int
    environment: tuple[tuple[str, str], ...]
    code_sha256: str
    last_modified: str
    log_group: str
    #: the version that runs: "$LATEST", or the number of a published version (also for an
    #: alias, the version it points at)
    version: str = "$LATEST"

    @property
    def fingerprint(self) -> tuple[Any, ...]:
        return (
            self.version,
            self.code_sha256,
            self.last_modified,
            self.handler,
            self.timeout_s,
            self.memory_mb,
            self.environment,
            self.code_dir,
        )


@dataclass
class InvokeResult:
    request_id: str
    ok: bool
    payload: Any = None
    error: dict[str, Any] | None = None
    logs: list[tuple[float, str]] = field(default_factory=list)
    started: float = 0.0
    duration_ms: float = 0.0
    init_ms: float | None = None
    #: output of the init phase (module import), on the worker's first invocation only
    init_logs: list[tuple[float, str]] = field(default_factory=list)
    timed_out: bool = False
    #: the worker was killed by the runtime (stop), the outcome must not be applied
    aborted: bool = False
    #: peak memory of the worker so far, if known
    max_memory_mb: int | None = None


def log_stream_name(now: float | None = None, version: str = "$LATEST") -> str:
    """``2026/11/27/[$LATEST]<32 hex>``: the day, the version, the execution environment."""
    day = time.strftime("%Y/%m/%d", time.gmtime(now if now is not None else time.time()))
    return f"{day}/[{version}]{uuid.uuid4().hex}"


class Worker:
    def __init__(self, spec: WorkerSpec, env: dict[str, str]) -> None:
        self.spec = spec
        # one per execution environment, as in Lambda
        self.log_stream = log_stream_name(version=spec.version)
        self._messages: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._killed_by_runtime = False
        self._ready = False
        self.last_used = time.monotonic()
        self.init_ms: float | None = None
        self._init_reported = False
        r, w = os.pipe()
        env = {**env, "AWS_LAMBDA_LOG_STREAM_NAME": self.log_stream, "_DDBSTREAM_MSG_FD": str(w)}
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-u", BOOTSTRAP],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                cwd=spec.code_dir,
                env=env,
                pass_fds=(w,),
                start_new_session=True,
            )
        finally:
            os.close(w)
        self._msg_file = os.fdopen(r, "r", encoding="utf-8")
        threading.Thread(target=self._read_messages, daemon=True, name="worker-msgs").start()
        threading.Thread(target=self._read_stdout, daemon=True, name="worker-stdout").start()

    # -- readers -------------------------------------------------------------------------
    def _read_messages(self) -> None:
        try:
            for line in self._msg_file:
                try:
                    self._messages.put(json.loads(line))
                except json.JSONDecodeError:
                    self._messages.put({"t": "log", "line": line.rstrip("\n")})
        except (OSError, ValueError):
            pass
        finally:
            self._messages.put(None)

    def _read_stdout(self) -> None:
        # Output written straight to the process's fd 1/2 (not through sys.stdout).
        assert self.proc.stdout is not None
        try:
            for raw in self.proc.stdout:
                self._messages.put({"t": "log", "line": raw.decode("utf-8", "replace").rstrip()})
        except (OSError, ValueError):
            pass

    # -- lifecycle -----------------------------------------------------------------------
    def max_memory_mb(self) -> int | None:
        """Peak resident memory of the worker (Linux ``VmHWM``), for the REPORT line."""
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return max(1, int(line.split()[1]) // 1024)
        except (OSError, ValueError, IndexError):
            return None
        return None

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self, by_runtime: bool = False) -> None:
        self._killed_by_runtime = self._killed_by_runtime or by_runtime
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=5)
        for f in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(Exception):
                if f is not None:
                    f.close()

    def _exit_error(self, request_id: str) -> dict[str, Any]:
        """Lambda's error for a runtime process that ended mid-invocation: "exit status N", or
        "signal: killed" (the wording of Lambda's Go-based init for a process a signal ended)."""
        code = self.proc.poll()
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name.removeprefix("SIG").lower()
            except ValueError:
                name = str(-code)
            how = f"signal: {'killed' if name == 'kill' else name}"
        else:
            how = f"exit status {code}"
        return {
            "errorType": "Runtime.ExitError",
            "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: {how}",
        }

    def _wait_ready(self, logs: list[tuple[float, str]], request_id: str) -> dict[str, Any] | None:
        """None when ready, else the init error."""
        if self._ready:
            return None
        deadline = time.monotonic() + INIT_TIMEOUT_S
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                return {
                    "errorType": "Runtime.InitTimeout",
                    "errorMessage": f"RequestId: {request_id} Error: init timed out",
                }
            try:
                msg = self._messages.get(timeout=left)
            except queue.Empty:
                continue
            if msg is None:
                return self._exit_error(request_id)
            if msg["t"] == "log":
                logs.append((time.time(), msg["line"]))
            elif msg["t"] == "ready":
                if msg.get("ok"):
                    self._ready = True
                    self.init_ms = float(msg.get("init_ms") or 0.0)
                    return None
                self.kill()
                return dict(msg.get("error") or {"errorType": "Runtime.Unknown"})

    def invoke(
        self, event: dict[str, Any], request_id: str, invoked_arn: str | None = None
    ) -> InvokeResult:
        """Run one invocation; ``invoked_arn``: the ARN it was invoked by (context)."""
        result = self._invoke(event, request_id, invoked_arn)
        result.max_memory_mb = self.max_memory_mb()
        if result.error is None and self._over_memory():
            # a peak between two checks: Lambda would have ended it there (the result is lost)
            self._out_of_memory(result, request_id, result.duration_ms)
        return result

    def _over_memory(self) -> bool:
        """Peak resident memory above MemorySize: the worker has to end as Lambda ends it."""
        peak = self.max_memory_mb()
        return peak is not None and peak > self.spec.memory_mb

    def _out_of_memory(self, result: InvokeResult, request_id: str, duration_ms: float) -> None:
        """Lambda kills a function that goes past its memory; the invocation fails with
        ``Runtime.OutOfMemory`` and the execution environment is gone."""
        self.kill()
        result.ok = False
        result.payload = None
        result.duration_ms = duration_ms
        result.max_memory_mb = self.spec.memory_mb  # Lambda reports the limit as used
        result.error = {
            "errorType": "Runtime.OutOfMemory",
            "errorMessage": (
                f"RequestId: {request_id} Error: Runtime exited with error: signal: killed"
            ),
        }
        result.aborted = self._killed_by_runtime

    def _invoke(
        self, event: dict[str, Any], request_id: str, invoked_arn: str | None = None
    ) -> InvokeResult:
        started = time.time()
        logs: list[tuple[float, str]] = []
        result = InvokeResult(request_id=request_id, ok=False, started=started, logs=logs)
        first = not self._init_reported
        self._init_reported = True
        init_error = self._wait_ready(logs, request_id)
        if first:
            result.init_logs, logs[:] = list(logs), []
            result.init_ms = self.init_ms
        if init_error is not None:
            result.error = init_error
            result.aborted = self._killed_by_runtime
            return result
        timeout = self.spec.timeout_s
        t0 = time.monotonic()
        deadline_ms = int(time.time() * 1000 + timeout * 1000)
        req = json.dumps(
            {
                "id": request_id,
                "event": event,
                "deadline_ms": deadline_ms,
                "invoked_function_arn": invoked_arn,
            }
        )
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(req.encode("utf-8") + b"\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            result.error = self._exit_error(request_id)
            result.aborted = self._killed_by_runtime
            return result
        end = t0 + timeout
        next_check = 0.0
        while True:
            now = time.monotonic()
            if now >= next_check:  # peak memory, about 20 times a second while it runs
                next_check = now + MEMORY_CHECK_S
                if self._over_memory():
                    self._out_of_memory(result, request_id, (now - t0) * 1000)
                    return result
            left = end - time.monotonic()
            if left <= 0:
                self.kill()
                result.timed_out = True
                result.duration_ms = timeout * 1000
                result.error = {
                    "errorType": "Sandbox.Timedout",
                    "errorMessage": (
                        f"RequestId: {request_id} Error: Task timed out after {timeout:.2f} seconds"
                    ),
                }
                result.aborted = self._killed_by_runtime
                return result
            try:
                msg = self._messages.get(timeout=min(left, MEMORY_CHECK_S))
            except queue.Empty:
                continue
            if msg is None:
                result.duration_ms = (time.monotonic() - t0) * 1000
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(timeout=2)
                result.error = self._exit_error(request_id)
                result.aborted = self._killed_by_runtime
                return result
            if msg["t"] == "log":
                logs.append((time.time(), msg["line"]))
            elif msg["t"] == "result" and msg.get("id") == request_id:
                result.duration_ms = (time.monotonic() - t0) * 1000
                if msg.get("ok"):
                    result.ok = True
                    result.payload = msg.get("payload")
                else:
                    result.error = dict(msg.get("error") or {})
                return result


class WorkerPool:
    """Warm workers per function; a changed configuration or code gets a fresh worker."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: dict[str, list[Worker]] = {}
        self._busy: set[Worker] = set()
        self._closed = False
        self.started = 0  # workers started so far (cold starts)

    def acquire(self, spec: WorkerSpec, env: dict[str, str]) -> Worker:
        stale: list[Worker] = []
        chosen: Worker | None = None
        with self._lock:
            if self._closed:
                raise RuntimeError("worker pool is closed")
            keep = []
            for w in self._idle.get(spec.function_arn, []):
                if not (w.alive and w.spec.fingerprint == spec.fingerprint):
                    stale.append(w)
                elif chosen is None:
                    chosen = w
                else:
                    keep.append(w)
            self._idle[spec.function_arn] = keep
        for w in stale:
            w.kill()
        cold = chosen is None
        if chosen is None:
            chosen = Worker(spec, env)
        with self._lock:
            if cold:
                self.started += 1
            self._busy.add(chosen)
            if self._closed:
                chosen.kill(by_runtime=True)
        return chosen

    def release(self, worker: Worker) -> None:
        worker.last_used = time.monotonic()
        with self._lock:
            self._busy.discard(worker)
            if worker.alive and not self._closed:
                self._idle.setdefault(worker.spec.function_arn, []).append(worker)
                return
        worker.kill()

    def reap(self, max_idle_s: float) -> int:
        """Stop workers idle for longer than ``max_idle_s`` (Lambda, too, retires idle
        execution environments); returns how many were stopped."""
        now = time.monotonic()
        old: list[Worker] = []
        with self._lock:
            for arn, workers in list(self._idle.items()):
                keep = [w for w in workers if now - w.last_used <= max_idle_s]
                old.extend(w for w in workers if now - w.last_used > max_idle_s)
                self._idle[arn] = keep
        for w in old:
            w.kill()
        return len(old)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers = [w for ws in self._idle.values() for w in ws] + list(self._busy)
            self._idle.clear()
        for w in workers:
            w.kill(by_runtime=True)
