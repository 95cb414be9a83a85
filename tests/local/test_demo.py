"""``ddbstream demo``: on the shared stack, and once from a cold start."""

from __future__ import annotations

import io
import re
import subprocess
import time
from pathlib import Path

import pytest
from stack_helpers import LocalStackHandle, ddbstream_cmd, stop_stack

from ddbstream.local import demo

STEPS = (
    "Local stack",
    "1. Insert test data",
    "2. Verify processing",
    "3. Test error handling",
    "4. Monitoring and alerting",
    "5. Activity burst",
)


def test_summary_marks_failed_steps_and_the_budget() -> None:
    out = demo.Printer(io.StringIO())
    d = demo.Demo(Path("/nonexistent"), burst=10, out=out)
    ok = demo.Step("1. Insert test data", seconds=0.2)
    ok.check(True, "put it")
    bad = demo.Step("2. Verify processing", seconds=3.0)
    bad.check(True, "logs: 2 lines")
    bad.check(False, "audit log: 0 objects")
    up = demo.Step("Local stack", seconds=72.0)
    up.check(True, "started")
    d.steps = [up, ok, bad]
    d.stack_timings = {"emulator": 0.5, "terraform_apply": 70.0}
    d.slowest = [("aws_sqs_queue.dlq", 25.0)]
    text = d.summary(200.0)
    assert "✔ 1. Insert test data" in text
    assert "✘ 2. Verify processing" in text and "✘ audit log: 0 objects" in text
    assert "terraform apply" in text and "70.0s" in text and "aws_sqs_queue.dlq 25s" in text
    assert "OVER the 180s budget" in text
    assert "failed: 2. Verify processing" in text
    assert "within the 180s budget" in d.summary(100.0)


def test_progress_bar_without_a_terminal_prints_quarters() -> None:
    buf = io.StringIO()
    bar = demo.ProgressBar(demo.Printer(buf), 100, "processed")
    for done in (10, 30, 30, 100):
        bar.update(done)
    bar.close()
    lines = buf.getvalue().splitlines()
    assert [ln.split(":")[1].split()[0] for ln in lines] == ["30/100", "100/100"]


def _check_summary(stdout: str) -> None:
    summary = stdout.split("ddbstream demo — summary", 1)[1]
    for title in STEPS:
        assert re.search(rf"^✔ {re.escape(title)}", summary, flags=re.M), title
    assert "✘" not in summary
    assert "every step verified" in summary
    assert "Where the time went:" in summary
    assert re.search(r"audit log: 200/200 changes", summary)
    assert re.search(r"notifications: 200/200", summary)
    assert "DDBStreamBatchInfo" in stdout  # the DLQ record was shown
    # the monitoring step: both alarms back to OK with their notifications, the DLQ replayed
    assert len(re.findall(r"back to OK after \d+\.\ds, its notification after", summary)) == 2
    assert re.search(r"DLQ replayed: [1-9]\d* failed batch", summary)
    assert "DLQ empty (0 messages)" in summary


@pytest.mark.slow
def test_demo_on_the_shared_stack(local_stack: LocalStackHandle) -> None:
    proc = local_stack.ddbstream("demo", "--state-dir", str(local_stack.state_dir), timeout=400)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-3000:]
    _check_summary(proc.stdout)
    assert "reused the stack already running" in proc.stdout
    # nothing left growing: the demo's queue is unsubscribed and gone, the DLQ replayed
    from ddbstream.local import clients

    c = clients.Clients(local_stack.endpoint)
    topic = local_stack.outputs["sns_topic_arn"]
    endpoints = [
        s["Endpoint"] for s in c("sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    ]
    assert not any(e.endswith(":" + demo.observe.NOTIFY_QUEUE) for e in endpoints), endpoints
    assert any(e.endswith(":ddbstream-local-inbox") for e in endpoints)  # the stack's inbox
    queues = c("sqs").list_queues().get("QueueUrls", [])
    assert not any(q.endswith("/" + demo.observe.NOTIFY_QUEUE) for q in queues)


@pytest.mark.slow
def test_demo_from_a_cold_start(tmp_path: Path) -> None:
    """What a newcomer runs first: no state at all, the demo brings the stack up itself.

    Its time is printed (and the demo's summary says within/OVER its budget), not asserted:
    speed lives in figures, and on a loaded 2-core CI machine `terraform apply` alone varies
    from 70 s to 140 s."""
    state_dir = tmp_path / "cold"
    t0 = time.monotonic()
    try:
        proc = subprocess.run(
            ddbstream_cmd("demo", "--state-dir", str(state_dir)),
            capture_output=True,
            text=True,
            timeout=400,
        )
        took = time.monotonic() - t0
    finally:
        stop_stack(state_dir)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-3000:]
    _check_summary(proc.stdout)
    assert "(cold: empty emulator)" in proc.stdout
    assert "terraform apply" in proc.stdout.split("Where the time went:")[1]
    print(f"\ncold demo: {took:.1f}s\n" + proc.stdout.split("Where the time went:")[1])
