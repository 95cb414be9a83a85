"""The reliability suite (``make chaos``): changes written while one fault at a time hits the
local stack, then a reconciliation of what the audit log, the quarantine, the DLQ and the
notifications hold against what was written.

Faults (``--faults``, default all):

* ``s3``      the audit bucket refuses writes (503) for ``--window`` seconds (the emulator's
              fault endpoint, :data:`ddbstream.local.journal.FAULT_PATH`);
* ``sns``     publishing fails (503) for ``--window`` seconds;
* ``worker``  the function's worker processes are killed (SIGKILL) mid-stream;
* ``restart`` ``ddbstream down`` then ``up`` mid-stream;
* ``kill9``   ``kill -9`` of the ``up`` process mid-stream, then ``up``;
* ``throttle`` the function's reserved concurrency set to 0 for ``--window`` seconds
              (``PutFunctionConcurrency``, then ``DeleteFunctionConcurrency``): every invocation
              is throttled, and the event source mapping retries it without using a retry until
              the records exceed the maximum record age (one hour by default);
* ``all``     every window fault at once: S3 and SNS down for ``--window`` seconds, the
              function throttled over its middle third, and the workers killed before and
              after the throttle.

Each run writes ``--changes`` changes (inserts, updates, deletes of items marked with the run's
id) over a few seconds; a write the stack does not acknowledge (it is down) is retried until it
is, so every counted change was acknowledged. After the fault, what reached the DLQ is replayed
(``ddbstream dlq replay``) and the run's quarantined records are replayed
(``ddbstream quarantine replay``; those that still do not decode stay), then the tally per fault:

  written       changes acknowledged by the table (each one a stream record)
  audited       distinct changes in the audit log (deduplicated by event id)
  quarantined   the run's changes still in the quarantine after its replay
  replayed      changes the DLQ replay and the quarantine replay delivered
  lost          written changes neither audited nor quarantined (must be 0)
  view dups     changes present under two event ids in the deduplicated view (must be 0)
  raw dups      audit lines beyond one per change (at least once: bounded, see README)
  notes missing changes without a notification in the stack's inbox (default rules notify all)

Exit status 1 when anything was lost or duplicated in the view.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ddbstream.local import journal, stack
from ddbstream.ops import target

ALL_FAULTS = ("s3", "sns", "worker", "restart", "kill9", "throttle", "all")


@dataclass
class Tally:
    fault: str
    written: int = 0
    audited: int = 0
    quarantined: int = 0
    replayed: int = 0
    lost: int = 0
    view_dups: int = 0
    raw_dups: int = 0
    notes_missing: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"{self.fault:<8} written {self.written:4}  audited {self.audited:4}  quarantined "
            f"{self.quarantined:3}  replayed {self.replayed:3}  lost {self.lost:3}  view dups "
            f"{self.view_dups:3}  raw dups {self.raw_dups:4}  notes missing {self.notes_missing:3}"
            f"  ({self.seconds:.0f}s)"
        )


class Writer:
    """Writes ``n`` changes on items marked ``marker`` (in a thread), each retried until the
    stack acknowledges it; ``sequence`` keeps the keys touched, in order."""

    def __init__(self, sd: Path, marker: str, n: int, seconds: float) -> None:
        self.sd, self.marker, self.n, self.seconds = sd, marker, n, seconds
        self.written = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _client(self) -> Any:
        while True:
            try:
                return target.from_local_stack(self.sd).client("dynamodb")
            except Exception:  # the stack is restarting
                time.sleep(0.5)

    def _run(self) -> None:
        d = target.from_local_stack(self.sd)
        table = d.table_name
        ddb = self._client()
        live: list[str] = []
        for i in range(self.n):
            key = {"UserId": {"S": f"{self.marker}-u{i % 7}"}}
            if i % 5 == 3 and live:
                act = live[i % len(live)]
                call = ("update_item", {"Key": {**key, "ActivityId": {"S": act}}})
                call[1]["Key"]["UserId"] = {"S": act.rsplit("-a", 1)[0]}
                call[1].update(
                    UpdateExpression="SET ActivityType = :t, N = :n",
                    ExpressionAttributeValues={":t": {"S": "UPDATED"}, ":n": {"N": str(i)}},
                )
            elif i % 5 == 4 and live:
                act = live.pop(0)
                user = act.rsplit("-a", 1)[0]
                call = ("delete_item", {"Key": {"UserId": {"S": user}, "ActivityId": {"S": act}}})
            else:
                act = f"{key['UserId']['S']}-a{i:05d}"
                call = (
                    "put_item",
                    {"Item": {**key, "ActivityId": {"S": act}, "ActivityType": {"S": "LOGIN"}}},
                )
                live.append(act)
            while True:
                try:
                    getattr(ddb, call[0])(TableName=table, **call[1])
                    break
                except Exception:  # not acknowledged: the stack is down; again once it is up
                    time.sleep(0.5)
                    ddb = self._client()
            self.written += 1
            time.sleep(self.seconds / max(self.n, 1))


def _fault_endpoint(d: target.Deployment, service: str, seconds: float) -> None:
    req = urllib.request.Request(
        f"{d.endpoint}{journal.FAULT_PATH}",
        data=json.dumps({"service": service, "seconds": seconds}).encode(),
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        resp.read()


def _kill_workers(sd: Path) -> int:
    """SIGKILL the function's worker processes (children of the ``up`` process)."""
    state = stack.read_state(sd) or {}
    killed = 0
    for pid in _children_of(int(state.get("pid", 0))):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if b"_bootstrap" in cmdline:
            os.kill(pid, signal.SIGKILL)
            killed += 1
    return killed


def _children_of(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
                found.append(int(entry.name))
    return found


def _throttle(d: target.Deployment, seconds: float, say: Any) -> None:
    """Reserved concurrency 0 for ``seconds``: Lambda throttles every invocation meanwhile."""
    lam = d.client("lambda")
    start = datetime.now(UTC)
    lam.put_function_concurrency(FunctionName=d.function_name, ReservedConcurrentExecutions=0)
    say("    reserved concurrency 0")
    try:
        time.sleep(seconds)
    finally:
        lam.delete_function_concurrency(FunctionName=d.function_name)
    try:  # the runtime's Throttles metric: evidence the window did throttle
        points = d.client("cloudwatch").get_metric_statistics(
            Namespace="AWS/Lambda",
            MetricName="Throttles",
            Dimensions=[{"Name": "FunctionName", "Value": d.function_name}],
            StartTime=start - timedelta(seconds=60),
            EndTime=datetime.now(UTC) + timedelta(seconds=60),
            Period=60,
            Statistics=["Sum"],
        )["Datapoints"]
        throttles = f"{sum(p['Sum'] for p in points):.0f} throttled invocation(s)"
    except Exception as exc:
        throttles = f"Throttles metric unread: {exc}"
    say(f"    reserved concurrency removed ({throttles})")


def _all_at_once(sd: Path, d: target.Deployment, window: float, say: Any) -> None:
    """S3 and SNS down for ``window``; throttled over its middle third; workers killed in the
    first and last thirds (a killed worker during the throttle would have nothing to do)."""
    _fault_endpoint(d, "s3", window)
    _fault_endpoint(d, "sns", window)
    third = window / 3
    time.sleep(third / 2)
    say(f"    killed {_kill_workers(sd)} worker(s)")
    time.sleep(third / 2)
    _throttle(d, third, say)
    time.sleep(third / 2)
    say(f"    killed {_kill_workers(sd)} worker(s)")


def _restart(sd: Path, kill: bool, say: Any) -> None:
    state = stack.read_state(sd) or {}
    if kill:
        os.kill(int(state["pid"]), signal.SIGKILL)
        while stack.lock_held(sd):
            time.sleep(0.1)
    else:
        stack.stop_stack(sd)
    stack.start_detached(sd, port=state.get("port"), say=lambda line: None)
    say("    stack back up")


def _audit(d: target.Deployment, marker: str) -> list[dict[str, Any]]:
    from ddbstream.local.demo import AuditReader

    reader = AuditReader(d.client("s3"), d.bucket, d.audit_prefix)
    reader.refresh()
    return [ln for lines in reader.seen.values() for ln in lines if marker in json.dumps(ln)]


def _replay_quarantine(d: target.Deployment, marker: str, tally: Tally) -> int:
    """Replay the run's quarantined records (``ddbstream quarantine replay`` on their keys);
    those still failing stay and are counted in ``tally.quarantined``. Changes replayed."""
    from ddbstream.ops import quarantine

    try:
        _, found = quarantine.list_quarantined(d)
        keys = [q.key for q in found if marker in json.dumps(q.record)]
        if not keys:
            return 0
        report = quarantine.replay(d, keys=keys)
        tally.quarantined = sum(1 for r in report.results if r.kept)
        return report.changes
    except Exception as exc:
        tally.problems.append(f"quarantine replay: {exc}")
        return 0


def run_fault(sd: Path, fault: str, n: int, window: float, say: Any) -> Tally:
    t0 = time.monotonic()
    tally = Tally(fault)
    marker = f"chaos-{fault}-{int(time.time())}"
    writer = Writer(sd, marker, n, seconds=max(5.0, window / 2))
    writer.thread.start()
    time.sleep(1.0)
    d = target.from_local_stack(sd)
    say(f"  {fault}: injecting")
    if fault in ("s3", "sns"):
        _fault_endpoint(d, fault, window)
    elif fault == "throttle":
        _throttle(d, window, say)
    elif fault == "all":
        _all_at_once(sd, d, window, say)
    elif fault == "worker":
        for _ in range(3):
            say(f"    killed {_kill_workers(sd)} worker(s)")
            time.sleep(window / 3)
    else:
        _restart(sd, kill=fault == "kill9", say=say)
    writer.thread.join()
    tally.written = writer.written
    d = target.from_local_stack(sd)
    deadline = time.monotonic() + window + 120
    lines: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        lines = _audit(d, marker)
        if len({ln.get("sequence_number") for ln in lines}) >= tally.written:
            break
        time.sleep(2)
    from ddbstream.ops import dlq

    try:
        report = dlq.replay(d)
        tally.replayed = sum(r.changes for r in report.results if r.status == "replayed")
    except Exception as exc:  # nothing to replay is fine; a failure is reported
        tally.problems.append(f"dlq replay: {exc}")
    tally.replayed += _replay_quarantine(d, marker, tally)
    lines = _audit(d, marker)
    seqs = {ln.get("sequence_number") for ln in lines}
    ids = {ln.get("event_id") for ln in lines}
    tally.audited = len(seqs)
    tally.view_dups = len(ids) - len(seqs)
    tally.raw_dups = len(lines) - len(ids)
    tally.lost = max(0, tally.written - tally.audited - tally.quarantined)
    try:
        from ddbstream.local.monitoring import inbox

        # the inbox (an SQS queue subscribed to the topic, drained by the stack) lags a little
        notified: set[str] = set()
        wait_until = time.monotonic() + 60
        while True:
            notes = [m for m in inbox.read(sd / inbox.INBOX_FILE) if marker in json.dumps(m)]
            notified = {
                found.group(1)
                for m in notes
                if (found := re.search(r'event_id\\*"\s*:\s*\\*"([^"\\]+)', json.dumps(m)))
            }
            if len(notified) >= len(ids) or time.monotonic() > wait_until:
                break
            time.sleep(2)
        tally.notes_missing = len(ids - notified)
    except Exception as exc:
        tally.problems.append(f"inbox: {exc}")
    tally.seconds = time.monotonic() - t0
    return tally


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ddbstream.local.chaos", description=__doc__)
    p.add_argument("--changes", type=int, default=300, help="changes per fault")
    p.add_argument("--window", type=float, default=60.0, help="outage length for s3/sns (s)")
    p.add_argument("--faults", default=",".join(ALL_FAULTS), help="comma-separated faults")
    p.add_argument("--state-dir", default=None, help="local stack state dir (started if needed)")
    args = p.parse_args(argv)
    sd = stack.state_dir_of(args.state_dir)

    def say(text: str) -> None:
        print(text, flush=True)

    state, started = stack.start_detached(sd, say=lambda line: None)
    say(f"local stack at {state['endpoint']} ({'started' if started else 'reused'})")
    tallies = []
    for fault in [f for f in args.faults.split(",") if f]:
        if fault not in ALL_FAULTS:
            say(f"unknown fault {fault!r}; known: {', '.join(ALL_FAULTS)}")
            return 2
        tally = run_fault(sd, fault, args.changes, args.window, say)
        say("  " + tally.line())
        for problem in tally.problems:
            say(f"    ({problem})")
        tallies.append(tally)
    say("\nfault    tally")
    for t in tallies:
        say(t.line())
    bad = [t.fault for t in tallies if t.lost or t.view_dups]
    say(f"\n{'FAILED: ' + ', '.join(bad) if bad else 'nothing lost, no duplicate in the view'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
