"""Where the local stack's time goes: a py-spy sampling profile of the ``ddbstream up`` process
(and its function workers) while the end-to-end bench runs, grouped by part of the stack.

py-spy (the dev extra) reads the stacks of a running process from outside, every thread and the
child processes too, without changing what it profiles (sampling at ``rate`` per second). Each
sample of a thread that is not idle is put in one group by its frames:

* ``journal`` -- the write-ahead journal writing or fsyncing (ddbstream/local/journal.py);
* ``emulator: moto <service>`` -- moto's service code answering a request (a ``moto/<service>``
  frame), ``emulator: SNS deliveries`` the deliveries made after Publish answered,
  ``emulator: HTTP`` the server around it (werkzeug, the journal's gate, request parsing);
* ``runtime`` -- the local Lambda runtime in ``up`` (ddbstream/local/runtime: polling, batching,
  botocore calls to the emulator), ``monitoring`` the local CloudWatch and the inbox;
* ``handler`` -- the function's worker processes (the handler, botocore in it).

A group's figure is its samples / (rate x seconds): how many threads were in it on average
(1.0 = one core's worth, were the GIL not shared). Threads blocked on a lock, a socket or a
condition are counted apart (``waiting: ...``): py-spy does not always see them as idle. The
process CPU seconds (from /proc) say how much of the two cores each process actually had.
"""

from __future__ import annotations

import collections
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

#: Leaf functions of a thread that waits (py-spy's idle detection does not catch them all).
WAITS = frozenset(
    {
        "wait",
        "select",
        "readinto",
        "accept",
        "sleep",
        "recv_into",
        "readline",
        "poll",
        "join",
        "_wait_for_tstate_lock",
        "acquire",
    }
)

#: Python functions whose own time is a blocking call (a worker's pipe; an idle pool thread).
BLOCKING_READS = frozenset({"Worker._read_stdout", "Worker._read_messages", "_worker"})

FRAME = re.compile(r"^(?P<fn>.*) \((?P<file>[^():]*)(?::(?P<line>\d+))?\)$")
PROCESS = re.compile(r"^process (?P<pid>\d+):")


def available() -> str | None:
    """The py-spy executable next to this Python, or on PATH."""
    here = Path(sys.executable).with_name("py-spy")
    return str(here) if here.exists() else shutil.which("py-spy")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far, and of its children that were waited for."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return (utime + stime + cutime + cstime) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """The child processes of every thread of ``pid`` (a worker is the child of the thread
    that started it)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(x) for x in (task / "children").read_text().split()]
    return found


class Recording:
    """``py-spy record`` of ``pid`` and its children from now until :meth:`finish` (at most
    ``seconds``; py-spy writes what it has when interrupted)."""

    def __init__(self, pid: int, seconds: float, out: Path, rate: int = 100) -> None:
        exe = available()
        if exe is None:
            raise RuntimeError("py-spy is not installed (pip install -e '.[dev]')")
        self.pid, self.seconds, self.out, self.rate = pid, seconds, out, rate
        self.cpu0 = self._cpu()
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(
            [
                exe,
                "record",
                "--pid",
                str(pid),
                "--duration",
                str(max(1, round(seconds))),
                "--rate",
                str(rate),
                "--format",
                "raw",
                "--subprocesses",
                # without it py-spy stops the process for every sample: at 100 samples/s the
                # stack answered half as many puts (42/s against 85/s, same machine, load 1)
                "--nonblocking",
                "-o",
                str(out),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

    def _cpu(self) -> dict[str, float]:
        """CPU seconds so far: the ``up`` process, and its function workers (alive now)."""
        workers = 0.0
        for child in children(self.pid):
            with contextlib.suppress(OSError):  # ended meanwhile
                workers += cpu_seconds(child)
        return {"up": cpu_seconds(self.pid), "workers": workers}

    def finish(self) -> dict[str, object]:
        cpu1 = self._cpu()
        wall = time.monotonic() - self.t0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        _, err = self.proc.communicate(timeout=120)
        if self.proc.returncode != 0 or not self.out.exists():
            raise RuntimeError(f"py-spy failed: {err.strip()[-300:]}")
        groups, leaves, total = summarize(self.out.read_text(), self.pid)
        return {
            "wall": wall,
            "cpu_up": cpu1["up"] - self.cpu0["up"],
            "cpu_workers": cpu1["workers"] - self.cpu0["workers"],
            "groups": groups,
            "leaves": leaves,
            "samples": total,
            "scale": self.rate * min(wall, self.seconds),
        }


def _frames(stack: str) -> tuple[int | None, list[tuple[str, str]]]:
    parts = stack.split(";")
    m = PROCESS.match(parts[0])
    pid = int(m.group("pid")) if m else None
    frames = []
    for p in parts[1:]:
        f = FRAME.match(p)
        frames.append((f.group("fn"), f.group("file")) if f else (p, ""))
    return pid, frames


def classify(pid: int | None, up_pid: int, frames: list[tuple[str, str]]) -> str:
    files = [f for _, f in frames]
    if pid is not None and pid != up_pid:
        if frames and frames[-1][0].split(".")[-1] in WAITS:
            return "handler: waiting (for a reply, a message)"
        return "handler (function worker processes)"
    if not frames:  # a thread py-spy caught without a Python frame
        return "waiting: sockets, sleeps, conditions (not CPU)"
    leaf = frames[-1][0]
    if leaf == "DurableApp.__call__":  # blocked on the lock: mutations apply one at a time
        return "waiting: for the mutation turn (journal order)"
    if leaf.split(".")[-1] in WAITS or leaf in BLOCKING_READS:
        return "waiting: sockets, sleeps, conditions (not CPU)"
    if any(f.endswith("local/journal.py") for f in files[-3:]) and any(
        fn.startswith("Journal.") for fn, _ in frames[-3:]
    ):
        return "journal (write + fsync)"
    if any(fn.startswith("Deliveries.") for fn, _ in frames):
        return "emulator: SNS deliveries (after Publish)"
    for f in reversed(files):
        m = re.search(r"(?:^|/)moto/([a-z0-9_]+)/", f)
        if m and m.group(1) not in ("core", "moto_server", "utilities"):
            return f"emulator: moto {m.group(1)}"
    if any("local/runtime/" in f for f in files):
        return "runtime (polling, batching, invoking)"
    if any("local/monitoring/" in f for f in files):
        return "monitoring (inbox, alarms)"
    if any(("werkzeug/" in f or "socketserver" in f or "moto/" in f) for f in files):
        return "emulator: HTTP, request parsing, moto core"
    return "other"


def summarize(raw: str, up_pid: int) -> tuple[dict[str, int], dict[str, int], int]:
    """Samples per group, per leaf function (``fn (file)``), and in all."""
    groups: collections.Counter[str] = collections.Counter()
    leaves: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        pid, frames = _frames(stack)
        groups[classify(pid, up_pid, frames)] += n
        if frames:
            fn, file = frames[-1]
            leaves[f"{fn} ({file})"] += n
        total += n
    return dict(groups), dict(leaves), total


def report(result: dict[str, object], top: int = 12) -> list[str]:
    groups: dict[str, int] = result["groups"]  # type: ignore[assignment]
    leaves: dict[str, int] = result["leaves"]  # type: ignore[assignment]
    scale = float(result["scale"])  # type: ignore[arg-type]
    total = int(result["samples"])  # type: ignore[call-overload]
    wall = float(result["wall"])  # type: ignore[arg-type]
    lines = [
        f"    CPU over {wall:.0f} s: `up` {result['cpu_up']:.1f} s "  # type: ignore[str-format]
        f"({float(result['cpu_up']) / wall:.2f} cores), function workers "  # type: ignore[arg-type]
        f"{float(result['cpu_workers']) / wall:.2f} cores; busy threads by part "  # type: ignore[arg-type]
        f"(py-spy, {total:,} samples):"
    ]
    for name, n in sorted(groups.items(), key=lambda kv: -kv[1]):
        lines.append(f"      {n / scale:5.2f}  {n / total * 100:4.0f}%  {name}")
    busy = {k: n for k, n in groups.items() if not k.startswith("waiting")}
    if busy:
        total_busy = sum(busy.values())
        shares = sorted(busy.items(), key=lambda kv: -kv[1])[:6]
        lines.append(
            "    of the samples not waiting: "
            + ", ".join(f"{name} {n / total_busy * 100:.0f}%" for name, n in shares)
        )
    lines.append("    top functions (where the samples were, leaf frame):")
    for name, n in sorted(leaves.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"      {n / total * 100:4.1f}%  {name}")
    return lines
