"""Serving a stack and finding it from another process: the serving loop (signals, the state
file), ``up --detach`` (a background ``up`` waited for until ready) and stopping one."""

from __future__ import annotations

import contextlib
import gc
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ddbstream.local import emulator

from .lifecycle import LocalStack
from .process import end_children, find_running, lock_held, pid_alive
from .state import LOG_FILE, PORT_FILE, STATE_FILE, Say, StackError, read_state, write_json

DETACHED_ENV = "DDBSTREAM_UP_DETACHED"


def wait_for_ready(
    state_dir: Path,
    timeout: float,
    child: subprocess.Popen[bytes] | None = None,
    log: Path | None = None,
    say: Say | None = None,
) -> dict[str, Any]:
    """Wait until the stack in ``state_dir`` is ready, echoing its log as it grows."""
    deadline = time.monotonic() + timeout
    pos = 0
    while True:
        if log is not None and say is not None and log.exists():
            with open(log, errors="replace") as f:
                f.seek(pos)
                chunk = f.read()
                pos = f.tell()
            for line in chunk.splitlines():
                say(line)
        state = find_running(state_dir)
        if state is not None and (child is None or state.get("pid") == child.pid):
            return state
        if child is not None and child.poll() is not None:
            raise StackError(
                f"`ddbstream up` stopped with exit code {child.returncode} before the stack was "
                f"ready; its log: {log}"
            )
        if child is None and not lock_held(state_dir):
            raise StackError(
                f"the `ddbstream up` starting in {state_dir} stopped before it was ready"
            )
        if time.monotonic() > deadline:
            raise StackError(f"the local stack was not ready after {timeout:.0f}s; see {log}")
        time.sleep(0.2)


def start_detached(
    state_dir: Path, port: int | None = None, say: Say = print, timeout: float = 600.0
) -> tuple[dict[str, Any], bool]:
    """Make sure a stack serves from ``state_dir``: reuse one, or start ``ddbstream up`` in the
    background and wait until it is ready. Returns (state, started)."""
    state = find_running(state_dir)
    if state is not None:
        return state, False
    emulator.check_moto_version()  # here, in one line, not in the child's log
    state_dir.mkdir(parents=True, exist_ok=True)
    if lock_held(state_dir):  # another `up` is starting: wait for it
        say(f"a local stack is starting in {state_dir}: waiting for it")
        return wait_for_ready(state_dir, timeout), False
    log = state_dir / LOG_FILE
    cmd = [sys.executable, "-m", "ddbstream.cli", "up", "--state-dir", str(state_dir)]
    if port is not None:
        cmd += ["--port", str(port)]
    with open(log, "wb") as logf:
        child = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=logf,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", DETACHED_ENV: "1"},
        )
    state = wait_for_ready(state_dir, timeout, child=child, log=log, say=say)
    return state, True


def settle_heap() -> None:
    """Keep the garbage collector's full passes short and rare once the stack is ready.

    ``up`` is one Python process: the emulator, the Lambda runtime, the local CloudWatch. A
    full (generation 2) collection walks every tracked object while every thread waits. During
    ``make bench-e2e`` (100 changes/s) they took 120-290 ms every 10-20 s, each holding up the
    batch being gathered or invoked then. What the start left (moto, botocore's service
    models, the applied resources) is frozen out of them, and a full pass is considered after
    100 younger ones instead of 10 (the young generations still collect short-lived cycles).
    Frozen objects are still freed when their last reference goes; only a reference cycle
    among them would stay (none is expected of state kept since the start).
    """
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, 100)


def serve(
    stack: LocalStack,
    state_dir: Path,
    say: Say,
    on_ready: Callable[[dict[str, Any]], None] | None = None,
) -> int:
    """Start ``stack``, record it in the state file, serve until a signal, stop and save.

    ``on_ready(state)`` is called once the stack is ready (not in a ``up --detach`` child,
    whose parent tells the user). Ctrl-C/SIGTERM while starting abandons the start, nothing
    saved (exit 130); a second one while stopping leaves without the final snapshot (exit 130;
    the journal has every acknowledged write)."""
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()
        # Abandon the start (nothing is saved), or, a second signal while stopping, leave
        # without the final snapshot: every acknowledged write is in the fsynced journal,
        # which the next `up` replays (as after kill -9).
        if state["status"] in ("starting", "stopping"):
            raise KeyboardInterrupt

    state: dict[str, Any] = {
        "pid": os.getpid(),
        "status": "starting",
        "started_at": time.time(),
        "state_dir": str(state_dir),
    }
    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    write_json(state_dir / STATE_FILE, state)
    t0 = time.monotonic()
    try:
        try:
            stack.start()
        except BaseException as exc:
            end_children()  # a terraform apply that was under way
            stack.stop(save=False)
            if isinstance(exc, KeyboardInterrupt):
                say(
                    "interrupted while starting: stopped; the next `up` carries on from the "
                    "last saved state"
                    if stack.restored
                    else "interrupted while starting: stopped, nothing saved (the next `up` "
                    "starts afresh)"
                )
                return 130
            raise
        (state_dir / PORT_FILE).write_text(json.dumps(stack.port))
        settle_heap()
        state.update(
            status="ready",
            endpoint=stack.endpoint,
            port=stack.port,
            region=emulator.REGION,
            timings={**stack.timings, "total": time.monotonic() - t0},
            slowest_resources=stack.slowest,
            restored=stack.restored,
            variables=stack.variables,
        )
        write_json(state_dir / STATE_FILE, state)
        say(f"ready in {time.monotonic() - t0:.1f}s (pid {os.getpid()})")
        if on_ready is not None and not os.environ.get(DETACHED_ENV):
            on_ready(state)
        while not stop.wait(1.0):
            pass
        say("stopping the local stack ...")
        state["status"] = "stopping"
        write_json(state_dir / STATE_FILE, state)
        try:
            stack.stop(save=True)
        except KeyboardInterrupt:
            end_children()  # function workers
            say(
                "interrupted while stopping: left without saving a snapshot; the next `up` "
                "replays the journal (nothing acknowledged is lost)"
            )
            return 130
        say("stopped")
        return 0
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        with contextlib.suppress(FileNotFoundError):
            (state_dir / STATE_FILE).unlink()


def stop_stack(state_dir: Path, timeout: float = 150.0, say: Say = print) -> bool:
    """Signal the stack serving from ``state_dir`` and wait for it to exit. False: none ran."""
    state = read_state(state_dir)
    # The serving process holds the state directory's lock: a pid that is alive without it is
    # another process that reused the number, never to be signalled.
    if not state or not pid_alive(state["pid"]) or not lock_held(state_dir):
        with contextlib.suppress(OSError):  # a stale file (in a read-only directory, maybe)
            (state_dir / STATE_FILE).unlink()
        return False
    pid = int(state["pid"])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pid_alive(pid) or lock_held(state_dir):
        if time.monotonic() > deadline:
            raise StackError(f"the local stack (pid {pid}) did not stop within {timeout:.0f}s")
        time.sleep(0.1)
    return True
