"""Ending the processes a start left running (``local/stack/process.py``)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

# A process that, like `up` interrupted during `terraform apply`, has a child ignoring SIGTERM
# past the grace (terraform finishing its operations) which has a child of its own (terraform's
# provider plugin). end_children must leave neither running.
SCRIPT = textwrap.dedent(
    """
    import signal, subprocess, sys, time
    from ddbstream.local.stack.process import end_children

    child = subprocess.Popen([sys.executable, "-c", '''
    import signal, subprocess, sys, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    grandchild = subprocess.Popen(["sleep", "120"])
    print(grandchild.pid, flush=True)
    time.sleep(120)
    '''], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    grandchild = int(child.stdout.readline())
    end_children(grace=0.5)
    child.wait(10)
    print(grandchild, flush=True)
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
    start)."""
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    grandchild = int(out.split()[-1])
    try:
        deadline = time.monotonic() + 5
        while _alive(grandchild) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(grandchild), "a grandchild outlived end_children"
    finally:
        if _alive(grandchild):
            os.kill(grandchild, 9)
