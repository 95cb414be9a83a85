"""What ``up`` does once its stack is ready (``local/stack/serve.py``)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

# In a process of its own: freezing is process-wide.
SCRIPT = textwrap.dedent(
    """
    import gc, weakref
    from ddbstream.local.stack.serve import settle_heap

    class Item:
        pass

    started = [Item() for _ in range(50_000)]  # what a start leaves: moto's state, models
    probe = weakref.ref(started[0])
    before = gc.get_freeze_count()
    settle_heap()
    frozen = gc.get_freeze_count() - before
    del started  # frozen, but still freed when its last reference goes
    print(frozen, probe() is None)
    """
)


def test_settled_start_up_objects_stay_out_of_full_collections_and_are_still_freed():
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=True
    ).stdout.split()
    assert int(out[0]) >= 50_000  # a full collection no longer walks them
    assert out[1] == "True"
