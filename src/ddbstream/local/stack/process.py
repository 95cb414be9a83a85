"""Whether a stack runs: its process, its emulator's health, the state directory's lock, and
the child processes (a terraform run) of the serving process."""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .state import (
    LOCK_FILE,
    StackError,
    read_outputs,
    read_state,
    refresh_endpoint_urls,
    state_dir_flag,
)


def pid_alive(pid: int) -> bool:
    if pid <= 0:  # 0 and negative numbers name process groups, never a stack
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (our own exited child, not yet reaped) is not alive.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][:1] != "Z"
    except (OSError, IndexError):
        return True


def endpoint_healthy(endpoint: str, timeout: float = 2.0) -> bool:
    """True when the emulator answers HTTP at ``endpoint``."""
    try:
        with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=timeout) as resp:
            return 200 <= resp.status < 500
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except (OSError, ValueError):
        return False


def lock_held(state_dir: Path) -> bool:
    """True when a process holds the state directory's ``up`` lock (a stack runs or starts)."""
    path = state_dir / LOCK_FILE
    if not path.exists():
        return False
    with open(path, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(f, fcntl.LOCK_UN)
        return False


def find_running(state_dir: Path) -> dict[str, Any] | None:
    """The state of the stack serving from ``state_dir``, if it is ready and answers."""
    state = read_state(state_dir)
    if not state or state.get("status") != "ready":
        return None
    endpoint = state.get("endpoint")
    if (
        not pid_alive(state["pid"])
        or not isinstance(endpoint, str)
        or not endpoint_healthy(endpoint)
    ):
        return None
    return state


def require_running(state_dir: Path) -> dict[str, Any]:
    state = find_running(state_dir)
    starting = read_state(state_dir) or {}
    if state is None and starting.get("status") == "starting" and lock_held(state_dir):
        raise StackError(
            f"the local stack in {state_dir} is still starting (pid {starting.get('pid')}): "
            "try again once `ddbstream up` says it is ready"
        )
    if state is None:
        raise StackError(
            f"no local stack is running for the state directory {state_dir}: start one with "
            f"`ddbstream up` (or `ddbstream up --detach`){state_dir_flag(state_dir)}"
        )
    return state


@contextlib.contextmanager
def up_lock(state_dir: Path) -> Iterator[bool]:
    """Holds the state directory's lock; yields False when another process holds it."""
    state_dir.mkdir(parents=True, exist_ok=True)
    with open(state_dir / LOCK_FILE, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _parents() -> dict[int, int]:
    """pid -> parent pid of every process (from /proc)."""
    out: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        out[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return out


def child_pids() -> list[int]:
    me = os.getpid()
    return [pid for pid, parent in _parents().items() if parent == me]


def descendant_pids() -> list[int]:
    """This process's children, their children, and so on."""
    parents = _parents()
    found: list[int] = []
    frontier = [os.getpid()]
    while frontier:
        kids = [pid for pid, parent in parents.items() if parent in frontier]
        found.extend(kids)
        frontier = kids
    return found


def end_children(grace: float = 5.0) -> None:
    """Stop this process's child processes (a terraform run), politely then firmly, and
    whatever they started (terraform's provider plugin), which a child killed after the grace
    would otherwise leave to init: the process tree is noted before and again after the grace
    (terraform starts its plugin late, even after SIGTERM), and a child leading its own process
    group has its whole group killed."""
    kids = child_pids()
    family = set(descendant_pids())
    groups = set()
    for pid in kids:
        with contextlib.suppress(ProcessLookupError):
            if os.getpgid(pid) == pid:
                groups.add(pid)
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    alive = list(kids)
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if pid_alive(p)]
        time.sleep(0.1)
    family |= set(descendant_pids())
    for pgid in groups:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
    for pid in family:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def current_outputs(state_dir: Path) -> dict[str, dict[str, Any]]:
    """The outputs of the last apply (``terraform output -json`` form), with loopback URLs
    pointed at the running emulator: an ``up`` that had to take another port serves the same
    resources at a new address."""
    outputs = read_outputs(state_dir)
    running = find_running(state_dir)
    if running is None:
        return outputs
    values = refresh_endpoint_urls(
        {k: v.get("value") for k, v in outputs.items()}, str(running["endpoint"])
    )
    return {k: {**v, "value": values[k]} for k, v in outputs.items()}


def current_values(state_dir: Path) -> dict[str, Any]:
    """:func:`current_outputs` as ``{name: value}``."""
    return {k: v.get("value") for k, v in current_outputs(state_dir).items()}
