"""``once``: a patch of moto applied at most once per process, whoever asks and from any thread."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable


def once(patch: Callable[[], None]) -> Callable[[], None]:
    """``patch`` made idempotent and thread-safe: the first call runs it, later calls (from any
    thread) return at once; a call arriving while it runs waits for it. A patch that raises is
    not marked done, so the next call tries it again."""
    lock = threading.Lock()
    done = False

    @functools.wraps(patch)
    def apply() -> None:
        nonlocal done
        with lock:
            if done:
                return
            patch()
            done = True

    return apply
