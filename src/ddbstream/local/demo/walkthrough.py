"""The demo's steps, in order: each prints the command it stands for (:mod:`.actions`), makes
the call, waits for the effect (:mod:`.observe`) and records what it verified (:mod:`.report`)."""

from __future__ import annotations

import argparse
import json
import os
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ddbstream.local import clients, mapping, stack
from ddbstream.local.monitoring import drill, inbox

from . import actions, report
from .observe import (
    NOTIFY_QUEUE,
    AuditReader,
    Notifications,
    dlq_record_for,
    log_summary,
    processing_lines,
    wait_for,
)
from .report import Printer, ProgressBar, Step, timed

STEP_TIMEOUT = 60.0
DLQ_TIMEOUT = 90.0
ALARM_TIMEOUT = 90.0


class Demo:
    """The walkthrough on the local stack of ``state_dir``; ``steps`` keeps what each verified."""

    def __init__(self, state_dir: Path, burst: int, out: Printer) -> None:
        self.state_dir = state_dir
        self.burst = burst
        self.out = out
        self.run = datetime.now(UTC).strftime("%H%M%S") + "-" + uuid.uuid4().hex[:6]
        self.steps: list[Step] = []
        self.stack_timings: dict[str, float] = {}
        self.slowest: list[tuple[str, float]] = []
        self.started_stack = False

    def _step(self, title: str) -> Step:
        step = Step(title)
        self.steps.append(step)
        return step

    # -- setup ---------------------------------------------------------------------------------

    def bring_up(self) -> Step:
        step = self._step("Local stack")
        with timed(step):
            self.out("== Local stack ==")
            state, started = stack.start_detached(
                self.state_dir, say=lambda line: self.out(f"  | {line}")
            )
            self.started_stack = started
            self.endpoint = state["endpoint"]
            if started:
                self.stack_timings = dict(state.get("timings", {}))
                self.slowest = [tuple(x) for x in state.get("slowest_resources", [])]
                restored = state.get("restored") or []
                step.check(
                    True,
                    f"started at {self.endpoint} "
                    + ("(emulator state restored)" if restored else "(cold: empty emulator)"),
                )
            else:
                step.check(True, f"reused the stack already running at {self.endpoint}")
            variables = state.get("variables") or stack.LOCAL_VARIABLES
            step.facts.append(
                "  terraform variables set by the local stack: "
                + ", ".join(f"{k}={json.dumps(v)}" for k, v in variables.items())
            )
            self.outputs = stack.current_values(self.state_dir)
            made = clients.Clients(self.endpoint, region=state.get("region", clients.REGION))
            self.clients = made
            self.ddb, self.streams, self.s3, self.logs, self.lam, self.sqs, self.sns = (
                made(svc)
                for svc in ("dynamodb", "dynamodbstreams", "s3", "logs", "lambda", "sqs", "sns")
            )
            self.table = self.outputs["dynamodb_table_name"]
            self.bucket = self.outputs["s3_bucket_name"]
            self.function = self.outputs["lambda_function_name"]
            self.audit = AuditReader(self.s3, self.bucket)
            self.notes = Notifications(self.sqs, self.sns, self.outputs["sns_topic_arn"])
            self.out(f"  table {self.table}, function {self.function}, bucket {self.bucket}")
            self.out(f"  notifications read through the SQS queue {NOTIFY_QUEUE} (subscribed)")
            sd = stack.state_dir_flag(self.state_dir)
            self.out(f'  try it yourself: eval "$(ddbstream env{sd})"')
        return step

    # -- 1. insert -------------------------------------------------------------------------------

    def insert(self) -> Step:
        step = self._step("1. Insert test data")
        with timed(step):
            self.out("\n== 1. Insert test data ==")
            self.activity = f"login-001-{self.run}"
            self.since_ms = int(time.time() * 1000) - 1000
            self.out.cmd(actions.CMD_TABLE)
            self.out.cmd(actions.cmd_put_test_item(self.activity))
            actions.put_test_item(self.ddb, self.table, self.activity)
            step.check(True, f"put test-user-001 / {self.activity} into {self.table}")
        return step

    # -- 2. verify -----------------------------------------------------------------------------

    def verify(self) -> Step:
        step = self._step("2. Verify processing")
        with timed(step):
            self.out("\n== 2. Verify processing ==")
            group = self.outputs["lambda_log_group_name"]

            def audited() -> Any:
                self.audit.refresh()
                return self.audit.matching(self.activity)

            objs, waited = wait_for(audited, STEP_TIMEOUT)
            self.out.cmd(actions.CMD_LIST_AUDIT)
            for key in objs:
                self.out(f"    {key}")
            lines = [ln for v in objs.values() for ln in v]
            names = sorted({str(ln.get("event_name")) for ln in lines})
            step.check(
                bool(objs),
                f"audit log: {len(objs)} object(s) under audit-logs/ holding the change "
                f"({', '.join(names) or 'none'}) after {waited:.1f}s",
            )

            self.out.cmd(actions.CMD_FILTER_LOGS)
            logs, _ = wait_for(
                lambda: processing_lines(self.logs, group, self.since_ms), STEP_TIMEOUT / 2
            )
            mine = [m for m in logs if self.activity in m]
            for m in logs[:4]:
                self.out(f"    {log_summary(m)}")
            step.check(
                bool(logs),
                f"logs: {len(logs)} 'Processing' line(s) in {group} since the put"
                + (f", {len(mine)} naming the item" if mine else ""),
            )

            def notified() -> Any:
                self.notes.drain()
                return self.notes.matching(self.activity)

            got, waited = wait_for(notified, STEP_TIMEOUT / 2)
            subjects = sorted({str(m.get("Subject")) for m in got})
            for s in subjects:
                self.out(f"    notification: {s}")
            step.check(
                bool(got),
                f"notifications: {len(got)} received through SQS ({'; '.join(subjects)})",
            )
        return step

    # -- 3. error handling -----------------------------------------------------------------------

    def errors(self) -> Step:
        step = self._step("3. Test error handling")
        with timed(step):
            self.out("\n== 3. Test error handling ==")
            original = actions.function_environment(self.lam, self.function)
            dlq_url = self.outputs["dlq_url"]
            self.inbox_seen = len(inbox.read(self.state_dir / inbox.INBOX_FILE))
            cw = self.clients("cloudwatch")
            self.alarms_at_break = {
                n: drill.alarm_state(cw, n) for n in drill.alarm_names(self.outputs)
            }
            self.broken_at = time.time()  # the monitoring step times the alarms from here
            # The stack's defaults retry a failing batch for minutes (an outage rides through):
            # for this step the mapping gives it up at once, and gets its retries back after.
            uuid_ = self.outputs["event_source_mapping_uuid"]
            self.out.cmd(mapping.CLI_COMMAND.format(n=0) + "   # the DLQ at once, for this step")
            with mapping.retries(self.lam, uuid_, 0) as retries_before:
                self.out.cmd(actions.CMD_BREAK)
                actions.break_function(self.lam, self.function, self.bucket)
                try:
                    t_put = time.time()
                    error_activity = f"error-001-{self.run}"
                    self.out.cmd(actions.CMD_PUT_ERROR)
                    actions.put_error_item(self.ddb, self.table, error_activity, t_put)
                    self.out.cmd(actions.CMD_RECEIVE_DLQ)
                    found, waited = wait_for(
                        lambda: dlq_record_for(
                            self.sqs, self.streams, dlq_url, t_put, error_activity
                        ),
                        DLQ_TIMEOUT,
                        interval=0.5,
                    )
                    if found:
                        body, keys = found
                        self._show_dlq_record(step, body, keys, waited, error_activity)
                    else:
                        step.check(
                            False, f"DLQ: no record for the failed batch within {waited:.0f}s"
                        )
                finally:
                    self.out.cmd(actions.CMD_RESTORE)
                    step.check(
                        actions.restore_function(self.lam, self.function, original),
                        f"configuration restored ({len(original)} environment variables, as "
                        "Terraform set them)",
                    )
            self.out.cmd(mapping.CLI_COMMAND.format(n=retries_before) + "   # put back")
        return step

    def _show_dlq_record(
        self, step: Step, body: dict[str, Any], keys: list[Any], waited: float, marker: str
    ) -> None:
        info = body["DDBStreamBatchInfo"]
        request = body.get("requestContext", {})
        response = body.get("responseContext", {})
        self.out(
            f"    condition: {request.get('condition')}, "
            f"invocations: {request.get('approximateInvokeCount')}, "
            f"function error: {response.get('functionError') or 'none'}"
        )
        self.out("    DDBStreamBatchInfo:")
        for k, v in info.items():
            self.out(f"      {k}: {v}")
        step.check(
            True,
            f"DLQ: the failed batch's record arrived after {waited:.1f}s "
            f"({request.get('condition')} after {request.get('approximateInvokeCount')}"
            f" invocations; batchSize {info.get('batchSize')}, sequence "
            f"{info.get('startSequenceNumber')}..{info.get('endSequenceNumber')})",
        )
        step.check(
            any(marker in json.dumps(k) for k in keys),
            f"read back from the stream by sequence number: {len(keys)} record(s), "
            "including the error-test item",
        )

    # -- 4. monitoring ---------------------------------------------------------------------------

    def monitoring(self) -> Step:
        """The seed's "Monitoring and Alerting": step 3's break fires the Lambda-errors and DLQ
        alarms, their notifications arrive; the DLQ replayed, both return to OK."""
        step = self._step("4. Monitoring and alerting")
        with timed(step):
            self.out("\n== 4. Monitoring and alerting ==")
            cw = self.clients("cloudwatch")
            names = drill.alarm_names(self.outputs)
            path = self.state_dir / inbox.INBOX_FILE
            since = getattr(self, "inbox_seen", 0)
            t0 = getattr(self, "broken_at", time.time())
            period = cw.describe_alarms(AlarmNames=list(names))["MetricAlarms"][0]["Period"]
            self.out(
                f"  the local CloudWatch evaluates the alarms ({period} s periods); their "
                "notifications reach the stack's inbox (`ddbstream notifications`)"
            )
            self.out.cmd("aws cloudwatch describe-alarm-history --alarm-name NAME")
            self.out("  since step 3 broke the function:")
            before = getattr(self, "alarms_at_break", {})
            already = tuple(n for n in names if before.get(n) == "ALARM")
            for name in already:  # an earlier failure (a DLQ message left behind) holds it
                step.check(True, f"{name}: already in ALARM before the break (an earlier failure)")
            fresh = tuple(n for n in names if n not in already)
            fired = drill.await_alarms(cw, path, since, fresh, "ALARM", t0, ALARM_TIMEOUT, self.out)
            for name in fresh:
                took, note = fired[f"{name} ALARM"], fired[f"{name} ALARM notification"]
                step.check(
                    took is not None and note is not None,
                    f"{name}: ALARM after {_secs(took)}, its notification after {_secs(note)}",
                )
            self.out.cmd("ddbstream dlq replay")
            from ddbstream.ops import dlq, target

            t_replay = time.time()
            done = dlq.replay(target.from_local_stack(self.state_dir), say=self.out)
            replayed = done.count("replayed")
            step.check(
                replayed >= 1 and done.exit_code == 0,
                f"DLQ replayed: {replayed} failed batch(es) through the fixed function "
                f"({time.time() - t_replay:.1f}s), "
                + (
                    f"{len(done.kept)} kept (see `ddbstream dlq list`)"
                    if done.kept
                    else "nothing kept"
                ),
            )
            self.out.cmd("aws dynamodb put-item ... (test-user-001 / recovered-...)")
            self.out("  a change after the fix: its invocation succeeds (Errors 0)")
            drill.put_recovery_item(self.ddb, self.table, self.run)
            back = drill.await_alarms(cw, path, since, names, "OK", t0, ALARM_TIMEOUT, self.out)
            for name in names:
                took, note = back[f"{name} OK"], back[f"{name} OK notification"]
                step.check(
                    took is not None and note is not None,
                    f"{name}: back to OK after {_secs(took)}, its notification after {_secs(note)}",
                )
            depth = self.sqs.get_queue_attributes(
                QueueUrl=self.outputs["dlq_url"], AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]["ApproximateNumberOfMessages"]
            step.check(int(depth) == 0, f"DLQ empty ({depth} messages)")
        return step

    # -- 5. burst --------------------------------------------------------------------------------

    def burst_step(self) -> Step:
        step = self._step(f"5. Activity burst ({self.burst} changes)")
        with timed(step):
            self.out(f"\n== 5. Activity burst: {self.burst} changes ==")
            marker = f"burst-{self.run}"
            t0 = time.monotonic()
            counts = actions.write_burst(self.ddb, self.table, self.burst, marker)
            wrote = time.monotonic() - t0
            self.out(
                f"  wrote {self.burst} changes in {wrote:.1f}s "
                f"({counts['INSERT']} inserts, {counts['MODIFY']} updates, "
                f"{counts['REMOVE']} deletes); waiting for the audit log:"
            )
            bar = ProgressBar(self.out, self.burst, "processed")
            deadline = time.monotonic() + STEP_TIMEOUT
            done = 0
            while time.monotonic() < deadline:
                self.audit.refresh()
                objs = self.audit.matching(marker)
                done = sum(len(v) for v in objs.values())
                bar.update(done)
                if done >= self.burst:
                    break
                time.sleep(0.3)
            bar.close()
            took = time.monotonic() - t0
            step.check(
                done == self.burst,
                f"audit log: {done}/{self.burst} changes in {len(objs)} object(s) "
                f"({self.burst / max(took, 1e-9):.0f} changes/s end to end, {took:.1f}s)",
            )
            by_name: dict[str, int] = {}
            for lines in objs.values():
                for ln in lines:
                    name = str(ln.get("event_name"))
                    by_name[name] = by_name.get(name, 0) + 1
            step.check(
                by_name == {k: v for k, v in counts.items() if v},
                "event names as written: "
                + ", ".join(f"{k} {by_name.get(k, 0)}/{v}" for k, v in counts.items()),
            )
            wait_for(
                lambda: (self.notes.drain(), len(self.notes.matching(marker)) >= self.burst)[1],
                10,
                interval=0.5,
            )
            got = len(self.notes.matching(marker))
            step.check(got == self.burst, f"notifications: {got}/{self.burst} through SQS")
        return step

    # -- summary ---------------------------------------------------------------------------------

    def summary(self, total: float) -> str:
        footer = ""
        if self.started_stack:
            sd = stack.state_dir_flag(self.state_dir)
            footer = (
                f"The local stack keeps running at {getattr(self, 'endpoint', '?')}: explore it "
                f'with eval "$(ddbstream env{sd})", stop it with ddbstream down{sd}.'
            )
        return report.summary(
            self.run, self.steps, total, self.stack_timings, self.slowest, footer=footer
        )


def _secs(t: float | None) -> str:
    return "-" if t is None else f"{t:.1f}s"


def run_demo(state_dir: Path, burst: int, out: Printer | None = None) -> int:
    out = out or Printer()
    t0 = time.monotonic()
    demo = Demo(state_dir, burst, out)
    out(f"ddbstream demo (run {demo.run}): the seed README's walkthrough on the local stack\n")
    if demo.bring_up().ok:
        try:
            demo.insert()
            demo.verify()
            demo.errors()
            demo.monitoring()
            if burst > 0:
                demo.burst_step()
        finally:
            demo.notes.close()  # the demo's queue: unsubscribed and deleted, nothing fills it
    total = time.monotonic() - t0
    out(demo.summary(total))
    return 0 if all(s.ok for s in demo.steps) else 1


def cmd_demo(args: argparse.Namespace) -> int:
    state_dir = stack.state_dir_of(args.state_dir)
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    return run_demo(state_dir, args.burst)
