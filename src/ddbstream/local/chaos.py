"""The reliability suite (``make chaos``): changes written while one fault at a time hits the
local stack, then a reconciliation of what the audit log, the quarantine, the DLQ and the
notifications hold against what was written.

Faults (``--faults``, default all):

* ``s3``      the audit bucket refuses writes (503) for ``--window`` seconds (the emulator's
              fault endpoint, :data:`ddbstream.local.journal.FAULT_PATH`);
* ``sns``     publishing fails (503) for ``--window`` seconds;
* ``worker``  a worker process of the function is killed (SIGKILL) while it runs an
              invocation, three times; the function's log group must then show Lambda's
              ``Runtime.ExitError`` lines for as many invocations;
* ``restart`` ``ddbstream down`` then ``up`` mid-stream;
* ``kill9``   ``kill -9`` of the ``up`` process mid-stream, then ``up``;
* ``throttle`` the function's reserved concurrency set to 0 for ``--window`` seconds
              (``PutFunctionConcurrency``, then ``DeleteFunctionConcurrency``): every invocation
              is throttled, and the event source mapping retries it without using a retry until
              the records exceed the maximum record age (one hour by default);
* ``poison``  the stream records of one of the run's items in seven come out of ``GetRecords``
              corrupted (the emulator's fault endpoint; DynamoDB itself refuses undecodable
              values): a malformed number or an unknown type in an image (partially decodable:
              audited without it, the raw record quarantined beside it), a malformed key or
              an unknown event name (wholly undecodable: quarantined with the reason);
* ``all``     every fault at once: S3 and SNS down and poison for the whole window, a worker
              killed mid-invocation, the function throttled over the middle third, then
              ``down``/``up``, ``kill -9``/``up``, another worker killed. The stack keeps its
              fault windows in its state directory: they go on across the restarts.

Each run writes ``--changes`` changes (inserts, updates, deletes of items marked with the run's
id) over a few seconds; a write the stack does not acknowledge (it is down) is retried until it
is, so every counted change was acknowledged. After the fault, what reached the DLQ is replayed
(``ddbstream dlq replay``) and the run's quarantined records are replayed
(``ddbstream quarantine replay``; those that still do not decode are kept, as the command keeps
them without ``--skip``), then the tally per fault:

  written       changes acknowledged by the table (each one a stream record)
  audited       distinct changes in the audit log (deduplicated by event id)
  partial       of those, audited without their undecodable attributes (named in the line)
  quarantined   the run's changes still in the quarantine after its replay, with a reason
  replayed      changes the DLQ replay and the quarantine replay delivered
  lost          written changes neither audited nor quarantined (must be 0)
  view dups     changes present under two event ids in the deduplicated view (must be 0)
  raw dups      audit lines beyond one per change (at least once: bounded, see README)
  notes missing audited changes that the deployed notification rules (the function's
                ``NOTIFICATION_RULES``) match, without a notification in the stack's inbox

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
from typing import TYPE_CHECKING, Any

from ddbstream.core.rules import RuleSet
from ddbstream.local import journal, stack
from ddbstream.ops import target

if TYPE_CHECKING:
    from ddbstream.core.decode import ChangeEvent

ALL_FAULTS = ("s3", "sns", "worker", "restart", "kill9", "throttle", "poison", "all")

#: The poisoned items of a run: those of one user in seven (the writer's ``-u3``).
POISON_USER = "-u3"
#: How long a run's poison stays armed: its writes, the retries and the recovery.
POISON_SECONDS = 900.0


@dataclass
class Tally:
    fault: str
    written: int = 0
    audited: int = 0
    partial: int = 0
    quarantined: int = 0
    replayed: int = 0
    lost: int = 0
    view_dups: int = 0
    raw_dups: int = 0
    notes_expected: int = 0
    notes_missing: int = 0
    seconds: float = 0.0
    #: workers killed mid-invocation, and invocations the log group shows ended that way
    kills: int = 0
    kills_logged: int = 0
    throttles: float | None = None
    #: quarantine reason -> changes kept with it
    reasons: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"{self.fault:<8} written {self.written:4}  audited {self.audited:4}  partial "
            f"{self.partial:3}  quarantined {self.quarantined:3}  replayed {self.replayed:3}  "
            f"lost {self.lost:3}  view dups {self.view_dups:3}  raw dups {self.raw_dups:4}  "
            f"notes missing {self.notes_missing:3}  ({self.seconds:.0f}s)"
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
    _post_fault(d, {"service": service, "seconds": seconds})


def _poison(d: target.Deployment, marker: str, seconds: float = POISON_SECONDS) -> None:
    """Corrupt the stream records of the items whose keys hold ``marker`` as they are read."""
    _post_fault(d, {"poison": marker, "seconds": seconds})


def _post_fault(d: target.Deployment, doc: dict[str, Any]) -> None:
    req = urllib.request.Request(
        f"{d.endpoint}{journal.FAULT_PATH}", data=json.dumps(doc).encode(), method="POST"
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        resp.read()


def _worker_pids(sd: Path) -> list[int]:
    """The function's worker processes (children of the ``up`` process running _bootstrap)."""
    state = stack.read_state(sd) or {}
    found = []
    for pid in _children_of(int(state.get("pid", 0) or 0)):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"_bootstrap" in cmdline:
            found.append(pid)
    return found


def _children_of(parent: int) -> list[int]:
    found = []
    if parent <= 0:
        return found
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
                found.append(int(entry.name))
    return found


def _busy(pid: int) -> bool:
    """True while the worker runs an invocation (or the init of its first one).

    A warm worker waits for its next request blocked reading its stdin pipe (the kernel's
    wait channel names ``pipe_read``); anything else (running, waiting on a socket to S3 or
    SNS) is an invocation in flight. Linux only, as the local runtime is."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        wchan = Path(f"/proc/{pid}/wchan").read_text()
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X") and "pipe_read" not in wchan


def _kill_in_flight(sd: Path, timeout: float) -> int:
    """SIGKILL one worker while it runs an invocation's handler, within ``timeout`` seconds;
    returns 1, or 0 when no worker was busy meanwhile. Only a worker seen waiting for a request
    first is a candidate (so the kill lands in a handler, not in the init of a worker that
    replaced a killed one), and it must be seen busy twice, 5 ms apart. Whether the kill really
    interrupted an invocation is then read from the log group (Runtime.ExitError)."""
    deadline = time.monotonic() + timeout
    pids: list[int] = []
    waited: set[int] = set()  # seen blocked on its request pipe: initialised, between requests
    listed = 0.0
    while time.monotonic() < deadline:
        if time.monotonic() - listed > 0.5:
            pids, listed = _worker_pids(sd), time.monotonic()
        for pid in pids:
            if not _busy(pid):
                waited.add(pid)
            elif pid in waited:
                time.sleep(0.005)
                if _busy(pid):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        continue
                    return 1
        time.sleep(0.005)
    return 0


def _exit_errors(d: target.Deployment, since: float) -> int:
    """Invocations since ``since`` (epoch s) that the function's log group says ended with a
    killed runtime: Lambda's ``RequestId: … Error: Runtime exited with error: signal: killed``
    followed by ``Runtime.ExitError``."""
    conf = d.client("lambda").get_function_configuration(FunctionName=d.function_name)
    group = (conf.get("LoggingConfig") or {}).get("LogGroup") or f"/aws/lambda/{d.function_name}"
    ids = set()
    pages = d.client("logs").get_paginator("filter_log_events")
    for page in pages.paginate(logGroupName=group, startTime=int(since * 1000)):
        for ev in page.get("events", []):
            msg = str(ev.get("message", ""))
            if "Runtime exited with error: signal: killed" in msg and "Runtime.ExitError" in msg:
                ids.add(msg.split()[1])
    return len(ids)


def _throttle(d: target.Deployment, seconds: float, say: Any) -> float | None:
    """Reserved concurrency 0 for ``seconds``: Lambda throttles every invocation meanwhile.
    Returns the runtime's Throttles metric over the window (None if unread)."""
    lam = d.client("lambda")
    start = datetime.now(UTC)
    lam.put_function_concurrency(FunctionName=d.function_name, ReservedConcurrentExecutions=0)
    say("    reserved concurrency 0")
    try:
        time.sleep(seconds)
    finally:
        lam.delete_function_concurrency(FunctionName=d.function_name)
    throttles = None
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
        throttles = float(sum(p["Sum"] for p in points))
        said = f"{throttles:.0f} throttled invocation(s)"
    except Exception as exc:
        said = f"Throttles metric unread: {exc}"
    say(f"    reserved concurrency removed ({said})")
    return throttles


def _all_at_once(
    sd: Path, window: float, marker: str, tally: Tally, say: Any, restarts: bool = True
) -> None:
    """S3 and SNS down and the marked items poisoned for ``window``; a worker killed
    mid-invocation; throttled over the middle third; ``down``/``up``; ``kill -9``/``up``;
    another worker killed. The stack keeps the fault windows in its state directory, so they go
    on across the restarts."""
    end = time.monotonic() + window
    d = target.from_local_stack(sd)
    _fault_endpoint(d, "s3", window)
    _fault_endpoint(d, "sns", window)
    _poison(d, marker + POISON_USER)
    third = window / 3
    tally.kills += _kill_in_flight(sd, third * 0.9)
    time.sleep(max(0.0, end - 2 * third - time.monotonic()))
    tally.throttles = _throttle(d, third, say)
    if restarts:
        _restart(sd, kill=False, say=say)
        _restart(sd, kill=True, say=say)
    # after the restarts: a worker killed just before kill -9 of `up` would never be logged
    tally.kills += _kill_in_flight(sd, max(third, end - time.monotonic()))
    say(f"    killed {tally.kills} worker(s) mid-invocation")
    time.sleep(max(0.0, end - time.monotonic()))


def _restart(sd: Path, kill: bool, say: Any) -> None:
    t0 = time.monotonic()
    state = stack.read_state(sd) or {}
    if kill:
        os.kill(int(state["pid"]), signal.SIGKILL)
        while stack.lock_held(sd):
            time.sleep(0.1)
    else:
        stack.stop_stack(sd)
    stack.start_detached(sd, port=state.get("port"), say=lambda line: None)
    took = time.monotonic() - t0
    say(f"    stack back up ({'kill -9' if kill else 'down'} + up, {took:.0f}s)")


class AuditLog:
    """The audit log's lines (numbers exact, as the function wrote them), each object read once."""

    def __init__(self, d: target.Deployment) -> None:
        self.s3, self.bucket, self.prefix = d.client("s3"), d.bucket, d.audit_prefix
        self.seen: dict[str, list[dict[str, Any]]] = {}

    def lines(self, marker: str) -> list[dict[str, Any]]:
        from ddbstream.core.audit import read_audit_body

        for page in self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix
        ):
            for obj in page.get("Contents", []):
                if obj["Key"] not in self.seen:
                    body = self.s3.get_object(Bucket=self.bucket, Key=obj["Key"])["Body"].read()
                    self.seen[obj["Key"]] = read_audit_body(body)
        return [
            ln
            for lines in self.seen.values()
            for ln in lines
            if marker in json.dumps(ln.get("keys"), default=str)
        ]


def event_of(line: dict[str, Any]) -> ChangeEvent:
    """The change an audit line describes, as the function's rules see it (for accounting)."""
    from ddbstream.core.decode import ChangeEvent

    def names(key: str) -> tuple[str, ...] | None:
        value = line.get(key)
        return None if value is None else tuple(value)

    return ChangeEvent(
        event_id=str(line.get("event_id")),
        event_name=str(line.get("event_name")),
        table_name=str(line.get("table_name")),
        keys=line.get("keys") or {},
        new_image=line.get("new_image"),
        old_image=line.get("old_image"),
        sequence_number=str(line.get("sequence_number")),
        event_time=datetime.now(UTC),
        approximate_creation_time=line.get("approximate_creation_time"),
        size_bytes=line.get("size_bytes"),
        stream_view_type=line.get("stream_view_type"),
        ttl_expiry=bool(line.get("ttl_expiry")),
        added=names("added_attributes"),
        removed=names("removed_attributes"),
        changed=names("changed_attributes"),
    )


def expected_notifications(lines: list[dict[str, Any]], rules: RuleSet) -> set[str]:
    """Event ids of the audited changes that ``rules`` match (each notified once)."""
    return {str(ln.get("event_id")) for ln in lines if rules.match(event_of(ln))}


def _deployed_rules(d: target.Deployment) -> RuleSet:
    """The notification rules of the deployed function (its ``NOTIFICATION_RULES``)."""
    from ddbstream.ops.dlq import load_pipeline

    return load_pipeline(d, d.function_name, notify=False).config.rules


def _quarantined_seqs(d: target.Deployment, marker: str) -> set[str]:
    from ddbstream.ops import quarantine

    try:
        _, found = quarantine.list_quarantined(d)
    except Exception:
        return set()
    return {str(q.sequence_number) for q in found if marker in json.dumps(q.record, default=str)}


def _replay_quarantine(d: target.Deployment, marker: str, tally: Tally) -> tuple[int, set[str]]:
    """``ddbstream quarantine replay`` of the run's quarantined records (without ``--skip``:
    those that still do not decode are kept). Returns the changes replayed and the sequence
    numbers still quarantined; ``tally.reasons`` counts the kept ones by reason."""
    from ddbstream.ops import quarantine

    try:
        _, found = quarantine.list_quarantined(d)
        mine = {q.key: q for q in found if marker in json.dumps(q.record, default=str)}
        if not mine:
            return 0, set()
        report = quarantine.replay(d, keys=sorted(mine))
        kept = {r.key for r in report.results if r.kept}
        seqs = {str(mine[k].sequence_number) for k in kept}
        for k in kept:
            reason = str(mine[k].error)
            tally.reasons[reason] = tally.reasons.get(reason, 0) + 1
        return report.changes, seqs
    except Exception as exc:
        tally.problems.append(f"quarantine replay: {exc}")
        return 0, set()


def run_fault(
    sd: Path, fault: str, n: int, window: float, say: Any, restarts: bool = True
) -> Tally:
    """One fault while ``n`` changes are written, then recovery and the tally. ``restarts``:
    whether ``all`` includes ``down``/``up`` and ``kill -9``/``up``."""
    t0 = time.monotonic()
    since = time.time()
    tally = Tally(fault)
    marker = f"chaos-{fault}-{int(time.time())}"
    spread = window if fault == "all" else max(5.0, window / 2)
    writer = Writer(sd, marker, n, seconds=spread)
    d = target.from_local_stack(sd)
    if fault == "poison":  # before the first write: every read of those records is poisoned
        _poison(d, marker + POISON_USER)
    writer.thread.start()
    time.sleep(1.0)
    say(f"  {fault}: injecting")
    if fault in ("s3", "sns"):
        _fault_endpoint(d, fault, window)
    elif fault == "throttle":
        tally.throttles = _throttle(d, window, say)
    elif fault == "all":
        _all_at_once(sd, window, marker, tally, say, restarts=restarts)
    elif fault == "worker":
        for _ in range(3):
            tally.kills += _kill_in_flight(sd, window / 3)
        say(f"    killed {tally.kills} worker(s) mid-invocation")
    elif fault in ("restart", "kill9"):
        _restart(sd, kill=fault == "kill9", say=say)
    writer.thread.join()
    tally.written = writer.written
    d = target.from_local_stack(sd)
    audit = AuditLog(d)
    deadline = time.monotonic() + window + 120
    lines: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        lines = audit.lines(marker)
        landed = {str(ln.get("sequence_number")) for ln in lines}
        if len(landed) < tally.written and fault in ("poison", "all"):
            landed |= _quarantined_seqs(d, marker)  # whole poison is never audited
        if len(landed) >= tally.written:
            break
        time.sleep(2)
    from ddbstream.ops import dlq

    try:
        report = dlq.replay(d)
        tally.replayed = sum(r.changes for r in report.results if r.status == "replayed")
    except Exception as exc:  # nothing to replay is fine; a failure is reported
        tally.problems.append(f"dlq replay: {exc}")
    replayed, kept = _replay_quarantine(d, marker, tally)
    tally.replayed += replayed
    lines = audit.lines(marker)
    seqs = {str(ln.get("sequence_number")) for ln in lines}
    ids = {str(ln.get("event_id")) for ln in lines}
    tally.audited = len(seqs)
    tally.partial = len(
        {str(ln.get("sequence_number")) for ln in lines if ln.get("undecodable_attributes")}
    )
    tally.quarantined = len(kept)
    tally.view_dups = len(ids) - len(seqs)
    tally.raw_dups = len(lines) - len(ids)
    tally.lost = max(0, tally.written - len(seqs | kept))
    if tally.kills:
        time.sleep(2)  # the runtime writes an invocation's log lines once it ended
        try:
            tally.kills_logged = _exit_errors(d, since)
        except Exception as exc:
            tally.problems.append(f"log group: {exc}")
    try:
        from ddbstream.local.monitoring import inbox

        # one per audited change the deployed rules match; the inbox (an SQS queue
        # subscribed to the topic, drained by the stack) lags a little
        by_id = {str(ln.get("event_id")): ln for ln in lines}
        expected = expected_notifications(list(by_id.values()), _deployed_rules(d))
        tally.notes_expected = len(expected)
        notified: set[str] = set()
        wait_until = time.monotonic() + 60
        while True:
            notes = [m for m in inbox.read(sd / inbox.INBOX_FILE) if marker in json.dumps(m)]
            notified = {
                found.group(1)
                for m in notes
                if (found := re.search(r'event_id\\*"\s*:\s*\\*"([^"\\]+)', json.dumps(m)))
            }
            if expected <= notified or time.monotonic() > wait_until:
                break
            time.sleep(2)
        tally.notes_missing = len(expected - notified)
        unexpected = notified - expected
        if unexpected:
            tally.problems.append(f"{len(unexpected)} notification(s) the rules do not match")
    except Exception as exc:
        tally.problems.append(f"inbox: {exc}")
    tally.seconds = time.monotonic() - t0
    return tally


def report_lines(t: Tally) -> list[str]:
    """What a run showed besides its tally line: kills, throttles, quarantine reasons."""
    out = []
    if t.kills:
        out.append(
            f"{t.kills} worker(s) killed mid-invocation; the log group shows "
            f"{t.kills_logged} invocation(s) ended by Runtime.ExitError (signal: killed)"
        )
    if t.throttles is not None:
        out.append(f"Throttles metric over the throttle window: {t.throttles:.0f}")
    if t.notes_expected or t.notes_missing:
        out.append(f"notifications expected by the deployed rules: {t.notes_expected}")
    for reason, count in sorted(t.reasons.items(), key=lambda kv: -kv[1]):
        out.append(f"kept in quarantine ({count}): {reason[:150]}")
    return out + t.problems


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m ddbstream.local.chaos",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--changes", type=int, default=300, help="changes per fault")
    p.add_argument("--window", type=float, default=60.0, help="fault window (s)")
    p.add_argument("--faults", default=",".join(ALL_FAULTS), help="comma-separated faults")
    p.add_argument("--state-dir", default=None, help="local stack state dir (started if needed)")
    args = p.parse_args(argv)
    faults = [f for f in args.faults.split(",") if f]
    unknown = [f for f in faults if f not in ALL_FAULTS]
    if unknown:
        p.error(f"unknown fault(s) {', '.join(unknown)}; known: {', '.join(ALL_FAULTS)}")
    sd = stack.state_dir_of(args.state_dir)

    def say(text: str) -> None:
        print(text, flush=True)

    state, started = stack.start_detached(sd, say=lambda line: None)
    say(f"local stack at {state['endpoint']} ({'started' if started else 'reused'})")
    tallies = []
    for fault in faults:
        tally = run_fault(sd, fault, args.changes, args.window, say)
        say("  " + tally.line())
        for extra in report_lines(tally):
            say(f"    ({extra})")
        tallies.append(tally)
    say("\nfault    tally")
    for t in tallies:
        say(t.line())
    bad = [t.fault for t in tallies if t.lost or t.view_dups]
    say(f"\n{'FAILED: ' + ', '.join(bad) if bad else 'nothing lost, no duplicate in the view'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
