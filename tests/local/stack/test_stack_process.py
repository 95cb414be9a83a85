"""Ending the processes a start left running (``local/stack/process.py``)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

# A process that, like `up` interrupted during `terraform apply`, has a child ignoring SIGTERM
# past the grace (terraform finishing its operations) which has children of its own (terraform's
# provider plugin), one of them started only once SIGTERM arrived (terraform starting its plugin
# late). end_children must leave none of them running.
SCRIPT = textwrap.dedent(
    """
    import signal, subprocess, sys, time
    from ddbstream.local.stack.process import end_children

    child = subprocess.Popen([sys.executable, "-c", '''
    import signal, subprocess, sys, time
    def late(signum, frame):
        print(subprocess.Popen(["sleep", "120"], stdout=subprocess.DEVNULL).pid, flush=True)
    signal.signal(signal.SIGTERM, late)
    print(subprocess.Popen(["sleep", "120"], stdout=subprocess.DEVNULL).pid, flush=True)
    while True:
        time.sleep(0.05)
    '''], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    early = child.stdout.readline().strip()
    end_children(grace=1.0)
    child.wait(10)
    print(early, child.stdout.read().strip(), flush=True)
    """
)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_end_children_also_ends_their_children() -> None:
    """Found: `ddbstream down` while `up` was applying left terraform's provider plugin running
    (terraform was killed after the grace, its plugin reparented to init, one per abandoned
    start), including a plugin started after the first look at the process tree."""
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    pids = [int(p) for p in out.split()]
    assert len(pids) == 2, out
    try:
        deadline = time.monotonic() + 5
        while any(_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [p for p in pids if _alive(p)], "a grandchild outlived end_children"
    finally:
        for p in pids:
            if _alive(p):
                os.kill(p, 9)
