"""One background thread running jobs in the order they were handed over.

The emulator's SNS deliveries and the local runtime's logs and metrics both answer their caller
first and do the work afterwards, in order; both must be able to wait until everything handed
over so far is done (a snapshot, ``wait_idle``, ``down``).
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable


class SerialWorker:
    """Runs submitted jobs one at a time, in submission order, on a thread started on first use.

    A job that raises is logged and counted as done. After :meth:`close` (or with
    ``background=False``) a submitted job runs in the caller, at once.
    """

    def __init__(self, name: str, *, background: bool = True) -> None:
        self.name = name
        self.background = background
        self._cond = threading.Condition()
        self._queue: collections.deque[Callable[[], None]] = collections.deque()
        self._running = False  # a job taken from the queue and not finished
        self._thread: threading.Thread | None = None
        self._closed = False

    @property
    def pending(self) -> int:
        """Jobs submitted and not finished."""
        with self._cond:
            return len(self._queue) + self._running

    def submit(self, job: Callable[[], None]) -> None:
        with self._cond:
            if self.background and not self._closed:
                self._queue.append(job)
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                    self._thread.start()
                self._cond.notify_all()
                return
        self._call(job)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until every job submitted so far is finished; False if ``timeout`` ran out."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._queue and not self._running, timeout)

    def close(self, timeout: float = 10.0) -> int:
        """Wait (up to ``timeout``) and end the thread; returns how many queued jobs were
        dropped because the wait ran out."""
        self.wait(timeout)
        with self._cond:
            self._closed = True
            dropped = len(self._queue)
            self._queue.clear()
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(max(1.0, timeout))
        return dropped

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: bool(self._queue) or self._closed)
                if not self._queue:
                    return
                job = self._queue.popleft()
                self._running = True
            try:
                self._call(job)
            finally:
                with self._cond:
                    self._running = False
                    self._cond.notify_all()

    def _call(self, job: Callable[[], None]) -> None:
        try:
            job()
        except Exception:
            logging.getLogger(__name__).exception("%s: a job failed", self.name)
