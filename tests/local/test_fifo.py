"""The serial worker behind SNS deliveries and the runtime's telemetry."""

from __future__ import annotations

import threading

from ddbstream.local.fifo import SerialWorker


def test_jobs_run_in_order_off_the_caller_and_wait_covers_the_running_one() -> None:
    gate = threading.Event()
    done: list[int] = []
    w = SerialWorker("t")
    w.submit(lambda: (gate.wait(5), done.append(0)))
    for i in range(1, 5):
        w.submit(lambda i=i: done.append(i))
    assert done == [] and w.pending == 5  # submit did not wait for the blocked job
    assert not w.wait(0.1)
    gate.set()
    assert w.wait(5)
    assert done == [0, 1, 2, 3, 4] and w.pending == 0


def test_a_failing_job_does_not_stop_the_next_and_close_makes_later_jobs_synchronous() -> None:
    done: list[str] = []
    w = SerialWorker("t")
    w.submit(lambda: 1 / 0)
    w.submit(lambda: done.append("after the failure"))
    assert w.close(5) == 0
    assert done == ["after the failure"]
    w.submit(lambda: done.append("after close"))  # runs in the caller
    assert done == ["after the failure", "after close"]


def test_close_drops_what_is_still_queued_when_its_wait_runs_out() -> None:
    gate = threading.Event()
    w = SerialWorker("t")
    w.submit(lambda: gate.wait(5))
    w.submit(lambda: None)
    assert w.close(0.2) == 1  # the blocked job runs on; the queued one is dropped
    gate.set()
