"""``ddbstream demo``: the seed README's "Testing the Infrastructure" walkthrough, locally.

Brings the local stack up (``ddbstream up --detach``) or reuses the running one, then:

1. Insert test data      -- the seed's put-item (a LOGIN activity of test-user-001);
2. Verify processing     -- the ``Processing`` lines in the function's log group, the audit
                            object under ``audit-logs/`` holding the change, and the notification,
                            read back through an SQS queue the demo subscribes to the SNS topic;
3. Test error handling   -- the seed's test: the function's environment replaced by
                            ``SNS_TOPIC_ARN=invalid-arn`` and ``S3_BUCKET_NAME`` only, an item put,
                            the failed batch's record (DDBStreamBatchInfo) awaited in the DLQ and
                            matched to the stream record it points at, the configuration restored;
4. Activity burst        -- ``--burst N`` generated changes (inserts, updates, deletes), with a
                            progress bar of the changes found in the audit log.

Then a summary: each step with what it verified (✔/✘ and figures) and where the time went.
Every item the demo writes carries a run id, so runs against the same stack do not mix.
Exits 1 when a step failed.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ddbstream.local import clients, stack

BUDGET_SECONDS = 180.0
NOTIFY_QUEUE = "ddbstream-demo-notifications"
STEP_TIMEOUT = 60.0
DLQ_TIMEOUT = 90.0

OK = "✔"
FAIL = "✘"


@dataclass
class Step:
    title: str
    ok: bool = True
    facts: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def check(self, cond: bool, text: str) -> bool:
        self.facts.append(f"{OK if cond else FAIL} {text}")
        self.ok = self.ok and cond
        return cond


class Printer:
    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stdout
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def __call__(self, text: str = "") -> None:
        print(text, file=self.stream, flush=True)

    def cmd(self, text: str) -> None:
        """An equivalent AWS CLI command, shown for the reader to try."""
        self(f"  $ {text}")


class ProgressBar:
    """A one-line bar on a terminal; a line per quarter elsewhere (logs, CI)."""

    def __init__(self, out: Printer, total: int, label: str) -> None:
        self.out, self.total, self.label = out, max(total, 1), label
        self.started = time.monotonic()
        self._next_quarter = 0.25
        self.done = 0

    def update(self, done: int) -> None:
        self.done = done
        frac = min(done / self.total, 1.0)
        elapsed = time.monotonic() - self.started
        if self.out.tty:
            width = 30
            bar = "█" * int(frac * width) + "░" * (width - int(frac * width))
            self.out.stream.write(f"\r  {self.label} [{bar}] {done}/{self.total}  {elapsed:5.1f}s")
            self.out.stream.flush()
        elif frac >= self._next_quarter:
            self.out(f"  {self.label}: {done}/{self.total} ({elapsed:.1f}s)")
            while frac >= self._next_quarter:
                self._next_quarter += 0.25

    def close(self) -> None:
        if self.out.tty:
            self.out.stream.write("\n")
            self.out.stream.flush()


@contextmanager
def timed(step: Step) -> Iterator[Step]:
    t0 = time.monotonic()
    try:
        yield step
    except Exception as exc:  # a step that blows up is a failed step, not a crashed demo
        step.check(False, f"{type(exc).__name__}: {exc}")
    finally:
        step.seconds = time.monotonic() - t0


def _log_summary(message: str) -> str:
    """A JSON log line as "message key=value ..." (its most telling fields), else the raw line."""
    try:
        doc = json.loads(message)
    except ValueError:
        return message[:150]
    if not isinstance(doc, dict):
        return message[:150]
    parts = [str(doc.get("message", ""))]
    for key in ("records", "event_name", "keys", "sequence_number"):
        if key in doc:
            value = doc[key]
            parts.append(f"{key}={json.dumps(value) if not isinstance(value, str) else value}")
    return " ".join(parts)[:200]


def _epoch(iso: Any) -> float:
    """Seconds since the epoch of an ISO-8601 timestamp ('...Z'); 0 when unreadable."""
    try:
        return datetime.fromisoformat(str(iso).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def wait_for(probe: Callable[[], Any], timeout: float, interval: float = 0.25) -> tuple[Any, float]:
    """Call ``probe`` until it returns something truthy; returns (result, seconds waited)."""
    t0 = time.monotonic()
    while True:
        result = probe()
        if result or time.monotonic() - t0 > timeout:
            return result, time.monotonic() - t0
        time.sleep(interval)


# ---------------------------------------------------------------------------------------------
# Reading what the processor produced
# ---------------------------------------------------------------------------------------------


class AuditReader:
    """Reads the audit log's objects once each and keeps their change lines."""

    def __init__(self, s3: Any, bucket: str, prefix: str = "audit-logs/") -> None:
        self.s3, self.bucket, self.prefix = s3, bucket, prefix
        self.seen: dict[str, list[dict[str, Any]]] = {}

    def refresh(self) -> None:
        for page in self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix
        ):
            for obj in page.get("Contents", []):
                key = obj["Key"]
                if key in self.seen:
                    continue
                body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
                if body[:2] == b"\x1f\x8b":
                    body = gzip.decompress(body)
                lines = []
                for line in body.decode("utf-8", "replace").splitlines():
                    if line.strip():
                        try:
                            lines.append(json.loads(line))
                        except ValueError:
                            lines.append({"raw": line})
                self.seen[key] = lines

    def matching(self, marker: str) -> dict[str, list[dict[str, Any]]]:
        """Objects (key -> lines) with lines mentioning ``marker``, one line per event id."""
        found: dict[str, list[dict[str, Any]]] = {}
        ids: set[str] = set()
        for key, lines in self.seen.items():
            for line in lines:
                if marker not in json.dumps(line.get("keys", line)):
                    continue
                ev = str(line.get("event_id") or line.get("sequence_number") or json.dumps(line))
                if ev in ids:
                    continue
                ids.add(ev)
                found.setdefault(key, []).append(line)
        return found


class Notifications:
    """An SQS queue subscribed to the stack's topic; keeps every notification it has read."""

    def __init__(self, sqs: Any, sns: Any, topic_arn: str) -> None:
        self.sqs = sqs
        self.url = sqs.create_queue(QueueName=NOTIFY_QUEUE)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self.subscription = sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn)[
            "SubscriptionArn"
        ]
        self.messages: list[dict[str, Any]] = []

    def drain(self) -> None:
        while True:
            got = self.sqs.receive_message(
                QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not got:
                return
            for m in got:
                try:
                    env = json.loads(m["Body"])
                except ValueError:
                    env = {"Message": m["Body"]}
                self.messages.append(env)
            self.sqs.delete_message_batch(
                QueueUrl=self.url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)
                ],
            )

    def matching(self, marker: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if marker in str(m.get("Message", ""))]


def processing_lines(logs: Any, group: str, since_ms: int, marker: str | None = None) -> list[str]:
    """Messages of the log group's events matching the seed's filter pattern 'Processing'."""
    out: list[str] = []
    kwargs: dict[str, Any] = {
        "logGroupName": group,
        "startTime": since_ms,
        "filterPattern": "Processing",
    }
    while True:
        resp = logs.filter_log_events(**kwargs)
        out += [e["message"] for e in resp.get("events", [])]
        if not resp.get("nextToken"):
            break
        kwargs["nextToken"] = resp["nextToken"]
    if marker is not None:
        out = [m for m in out if marker in m]
    return out


# ---------------------------------------------------------------------------------------------
# The demo
# ---------------------------------------------------------------------------------------------


class Demo:
    def __init__(self, state_dir: Path, burst: int, out: Printer) -> None:
        self.state_dir = state_dir
        self.burst = burst
        self.out = out
        self.run = datetime.now(UTC).strftime("%H%M%S") + "-" + uuid.uuid4().hex[:6]
        self.steps: list[Step] = []
        self.stack_timings: dict[str, float] = {}
        self.slowest: list[tuple[str, float]] = []
        self.started_stack = False

    # -- setup ---------------------------------------------------------------------------------

    def bring_up(self) -> Step:
        step = Step("Local stack")
        self.steps.append(step)
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
            self.outputs = stack.output_values(self.state_dir)
            made = clients.Clients(self.endpoint, region=state.get("region", clients.REGION))
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
        step = Step("1. Insert test data")
        self.steps.append(step)
        with timed(step):
            self.out("\n== 1. Insert test data ==")
            self.activity = f"login-001-{self.run}"
            self.since_ms = int(time.time() * 1000) - 1000
            self.out.cmd("TABLE_NAME=$(ddbstream output -raw dynamodb_table_name)")
            self.out.cmd(
                "aws dynamodb put-item --table-name $TABLE_NAME --item "
                f'\'{{"UserId": {{"S": "test-user-001"}}, "ActivityId": {{"S": "{self.activity}"}}'
                ', "ActivityType": {"S": "LOGIN"}, ...}\''
            )
            self.ddb.put_item(
                TableName=self.table,
                Item={
                    "UserId": {"S": "test-user-001"},
                    "ActivityId": {"S": self.activity},
                    "ActivityType": {"S": "LOGIN"},
                    "Timestamp": {"N": str(int(time.time()))},
                    "IPAddress": {"S": "192.168.1.100"},
                    "UserAgent": {"S": "Mozilla/5.0"},
                },
            )
            step.check(True, f"put test-user-001 / {self.activity} into {self.table}")
        return step

    # -- 2. verify -----------------------------------------------------------------------------

    def verify(self) -> Step:
        step = Step("2. Verify processing")
        self.steps.append(step)
        with timed(step):
            self.out("\n== 2. Verify processing ==")
            group = self.outputs["lambda_log_group_name"]

            def audited() -> Any:
                self.audit.refresh()
                return self.audit.matching(self.activity)

            objs, waited = wait_for(audited, STEP_TIMEOUT)
            self.out.cmd(
                "aws s3 ls s3://$(ddbstream output -raw s3_bucket_name)/audit-logs/ --recursive"
            )
            for key in objs:
                self.out(f"    {key}")
            lines = [ln for v in objs.values() for ln in v]
            names = sorted({str(ln.get("event_name")) for ln in lines})
            step.check(
                bool(objs),
                f"audit log: {len(objs)} object(s) under audit-logs/ holding the change "
                f"({', '.join(names) or 'none'}) after {waited:.1f}s",
            )

            self.out.cmd(
                "aws logs filter-log-events --log-group-name "
                "$(ddbstream output -raw lambda_log_group_name) --filter-pattern 'Processing'"
            )
            logs, _ = wait_for(
                lambda: processing_lines(self.logs, group, self.since_ms), STEP_TIMEOUT / 2
            )
            mine = [m for m in logs if self.activity in m]
            for m in logs[:4]:
                self.out(f"    {_log_summary(m)}")
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
        step = Step("3. Test error handling")
        self.steps.append(step)
        with timed(step):
            self.out("\n== 3. Test error handling ==")
            cfg = self.lam.get_function_configuration(FunctionName=self.function)
            original = dict(cfg.get("Environment", {}).get("Variables", {}))
            dlq_url = self.outputs["dlq_url"]
            # The seed writes --environment Variables='{...}', which the AWS CLI's shorthand
            # parser rejects; this is the same argument in the CLI's JSON form.
            self.out.cmd(
                "aws lambda update-function-configuration --function-name $FUNCTION_NAME "
                '--environment \'{"Variables":{"SNS_TOPIC_ARN":"invalid-arn",'
                '"S3_BUCKET_NAME":"..."}}\''
            )
            self.lam.update_function_configuration(
                FunctionName=self.function,
                Environment={
                    "Variables": {"SNS_TOPIC_ARN": "invalid-arn", "S3_BUCKET_NAME": self.bucket}
                },
            )
            try:
                t_put = time.time()
                error_activity = f"error-001-{self.run}"
                self.out.cmd("aws dynamodb put-item ... (error-test / ERROR_TEST)")
                self.ddb.put_item(
                    TableName=self.table,
                    Item={
                        "UserId": {"S": "error-test"},
                        "ActivityId": {"S": error_activity},
                        "ActivityType": {"S": "ERROR_TEST"},
                        "Timestamp": {"N": str(int(t_put))},
                    },
                )
                self.out.cmd("aws sqs receive-message --queue-url $(ddbstream output -raw dlq_url)")
                found, waited = wait_for(
                    lambda: self._dlq_record_for(dlq_url, t_put, error_activity),
                    DLQ_TIMEOUT,
                    interval=0.5,
                )
                if found:
                    body, keys = found
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
                        any(error_activity in json.dumps(k) for k in keys),
                        f"read back from the stream by sequence number: {len(keys)} record(s), "
                        "including the error-test item",
                    )
                else:
                    step.check(False, f"DLQ: no record for the failed batch within {waited:.0f}s")
            finally:
                self.out.cmd("aws lambda update-function-configuration ... (restore)")
                self.lam.update_function_configuration(
                    FunctionName=self.function, Environment={"Variables": original}
                )
                now = self.lam.get_function_configuration(FunctionName=self.function)
                step.check(
                    now.get("Environment", {}).get("Variables", {}) == original,
                    f"configuration restored ({len(original)} environment variables, as "
                    "Terraform set them)",
                )
        return step

    def _dlq_record_for(
        self, dlq_url: str, since: float, marker: str
    ) -> tuple[dict[str, Any], list[Any]] | None:
        """The DLQ message (its body) for the batch holding ``marker``, and the batch's keys.

        Look through the DLQ for the on-failure record of the batch holding ``marker``.

        Records from earlier runs may sit in the queue: those older than ``since`` are skipped
        without reading the stream; each message received stays hidden for a few seconds, so
        one pass sees the whole queue and the next ones mostly what arrived since."""
        for _ in range(100):  # at most 1,000 messages a pass
            msgs = self.sqs.receive_message(
                QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=10
            ).get("Messages", [])
            if not msgs:
                return None
            for m in msgs:
                try:
                    body = json.loads(m["Body"])
                except ValueError:
                    continue
                info = body.get("DDBStreamBatchInfo")
                if not info or _epoch(body.get("timestamp")) < since - 2:
                    continue
                keys = self._stream_keys(info)
                if any(marker in json.dumps(k) for k in keys):
                    return body, keys
        return None

    def _stream_keys(self, info: dict[str, Any]) -> list[Any]:
        """The keys of the stream records a DDBStreamBatchInfo points at (stream, shard, range)."""
        it = self.streams.get_shard_iterator(
            StreamArn=info["streamArn"],
            ShardId=info["shardId"],
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            SequenceNumber=info["startSequenceNumber"],
        )["ShardIterator"]
        end = int(info["endSequenceNumber"])
        keys: list[Any] = []
        for _ in range(20):
            resp = self.streams.get_records(ShardIterator=it, Limit=100)
            for r in resp.get("Records", []):
                if int(r["dynamodb"]["SequenceNumber"]) > end:
                    return keys
                keys.append(r["dynamodb"].get("Keys"))
            it = resp.get("NextShardIterator")
            if not it or not resp.get("Records"):
                break
        return keys

    # -- 4. burst --------------------------------------------------------------------------------

    def burst_step(self) -> Step:
        step = Step(f"4. Activity burst ({self.burst} changes)")
        self.steps.append(step)
        with timed(step):
            self.out(f"\n== 4. Activity burst: {self.burst} changes ==")
            marker = f"burst-{self.run}"
            counts = {"INSERT": 0, "MODIFY": 0, "REMOVE": 0}
            live: list[tuple[str, str]] = []
            t0 = time.monotonic()
            for i in range(self.burst):
                user = f"user-{i % 20:03d}"
                if i % 10 == 7 and live:
                    u, a = live[(i * 7) % len(live)]
                    self.ddb.update_item(
                        TableName=self.table,
                        Key={"UserId": {"S": u}, "ActivityId": {"S": a}},
                        UpdateExpression="SET ActivityType = :t, Seen = :n",
                        ExpressionAttributeValues={":t": {"S": "UPDATED"}, ":n": {"N": str(i)}},
                    )
                    counts["MODIFY"] += 1
                elif i % 10 == 9 and live:
                    u, a = live.pop(0)
                    self.ddb.delete_item(
                        TableName=self.table, Key={"UserId": {"S": u}, "ActivityId": {"S": a}}
                    )
                    counts["REMOVE"] += 1
                else:
                    a = f"{marker}-{i:05d}"
                    self.ddb.put_item(
                        TableName=self.table,
                        Item={
                            "UserId": {"S": user},
                            "ActivityId": {"S": a},
                            "ActivityType": {"S": ("LOGIN", "VIEW", "PURCHASE")[i % 3]},
                            "Timestamp": {"N": str(int(time.time()))},
                            "Amount": {"N": f"{i}.{i % 100:02d}"},
                        },
                    )
                    live.append((user, a))
                    counts["INSERT"] += 1
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
                    by_name[str(ln.get("event_name"))] = (
                        by_name.get(str(ln.get("event_name")), 0) + 1
                    )
            step.check(
                by_name == {k: v for k, v in counts.items() if v},
                "event names as written: "
                + ", ".join(f"{k} {by_name.get(k, 0)}/{v}" for k, v in counts.items()),
            )
            _, _ = wait_for(
                lambda: (self.notes.drain(), len(self.notes.matching(marker)) >= self.burst)[1],
                10,
                interval=0.5,
            )
            got = len(self.notes.matching(marker))
            step.check(got == self.burst, f"notifications: {got}/{self.burst} through SQS")
        return step

    # -- summary ---------------------------------------------------------------------------------

    def summary(self, total: float) -> str:
        lines = ["", "=" * 78, f"ddbstream demo — summary (run {self.run})", "=" * 78]
        for s in self.steps:
            mark = OK if s.ok else FAIL
            lines.append(f"{mark} {s.title:<48} {s.seconds:7.1f}s")
            lines += [f"    {f}" for f in s.facts]
        lines.append("-" * 78)
        lines.append("Where the time went:")
        for s in self.steps:
            lines.append(f"  {s.title:<40} {s.seconds:7.1f}s")
            if s.title == "Local stack" and self.stack_timings:
                for key, label in (
                    ("emulator", "emulator start"),
                    ("package", "Lambda package"),
                    ("terraform_init", "terraform init"),
                    ("terraform_apply", "terraform apply"),
                    ("runtime", "runtime start"),
                ):
                    if key in self.stack_timings:
                        lines.append(f"    {label:<38} {self.stack_timings[key]:7.1f}s")
                if self.slowest:
                    lines.append(
                        "      slowest resources (the AWS provider's own waits): "
                        + ", ".join(f"{r} {sec:.0f}s" for r, sec in self.slowest)
                    )
        verdict = "within" if total <= BUDGET_SECONDS else "OVER"
        lines.append(f"  {'total':<40} {total:7.1f}s  ({verdict} the {BUDGET_SECONDS:.0f}s budget)")
        failed = [s.title for s in self.steps if not s.ok]
        lines.append("-" * 78)
        lines.append(
            f"{FAIL} failed: {', '.join(failed)}" if failed else f"{OK} every step verified"
        )
        if self.started_stack:
            sd = stack.state_dir_flag(self.state_dir)
            lines.append(
                f"The local stack keeps running at {getattr(self, 'endpoint', '?')}: explore it "
                f'with eval "$(ddbstream env{sd})", stop it with ddbstream down{sd}.'
            )
        return "\n".join(lines)


def run_demo(state_dir: Path, burst: int, out: Printer | None = None) -> int:
    out = out or Printer()
    t0 = time.monotonic()
    demo = Demo(state_dir, burst, out)
    out(f"ddbstream demo (run {demo.run}): the seed README's walkthrough on the local stack\n")
    if demo.bring_up().ok:
        demo.insert()
        demo.verify()
        demo.errors()
        if burst > 0:
            demo.burst_step()
    total = time.monotonic() - t0
    out(demo.summary(total))
    return 0 if all(s.ok for s in demo.steps) else 1


def cmd_demo(args: argparse.Namespace) -> int:
    state_dir = stack.state_dir_of(args.state_dir)
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    return run_demo(state_dir, args.burst)
