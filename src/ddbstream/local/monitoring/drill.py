"""The alarm drill on the local stack (the demo's monitoring step and its end-to-end test):

1. break the function as the seed's error-handling test does (``SNS_TOPIC_ARN=invalid-arn``)
   and put an item: every invocation fails, the batch reaches the DLQ;
2. wait for the Lambda-errors and DLQ alarms to go to ALARM and for their notifications to
   arrive in the stack's inbox (``notifications.jsonl``);
3. put the configuration back, replay the DLQ (``ddbstream dlq replay``, given as ``replay``),
   put one more item (its successful invocation reports ``Errors`` 0);
4. wait for both alarms to return to OK and for their OK notifications.

Each event is timed from the moment the function was broken. Nothing is left growing: the DLQ
message is replayed (and so deleted), the inbox is drained by the stack. :func:`await_alarms` is
the waiting part alone, for a caller that broke the function itself (the demo's step 3).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ddbstream.local import mapping

from .inbox import INBOX_FILE, read

Say = Callable[[str], None]


@dataclass
class DrillResult:
    """Seconds from the break to each event (None: did not happen in time)."""

    times: dict[str, float | None] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    replayed: Any = None

    @property
    def ok(self) -> bool:
        return not self.problems and all(v is not None for v in self.times.values())


def alarm_names(outputs: dict[str, Any]) -> tuple[str, str]:
    """(Lambda errors alarm, DLQ alarm) from the ``alarm_names`` output."""
    names = outputs.get("alarm_names") or {}
    return str(names["lambda_errors"]), str(names["dlq_messages"])


def inbox_of(d: Any) -> Path:
    return Path(d.state_dir) / INBOX_FILE


def alarm_state(cw: Any, name: str) -> str:
    return str(cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"])


def _epoch(value: Any) -> float | None:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


def went_to(cw: Any, name: str, state: str, since: float) -> float | None:
    """When (epoch) the alarm's history first shows it going to ``state`` after ``since``."""
    items = cw.describe_alarm_history(
        AlarmName=name, HistoryItemType="StateUpdate", ScanBy="TimestampAscending"
    )["AlarmHistoryItems"]
    for item in items:
        t = _epoch(item["Timestamp"])
        if t is None or t < since:
            continue
        if json.loads(item["HistoryData"]).get("newState", {}).get("stateValue") == state:
            return t
    return None


def notified(inbox: Path, since: int, name: str, new: str) -> float | None:
    """When (epoch, SNS's Timestamp) the inbox got a notification of ``name`` going to ``new``,
    looking after inbox line ``since``."""
    for rec in read(inbox)[since:]:
        try:
            body = json.loads(rec.get("Message", ""))
        except (TypeError, ValueError):
            continue
        if (
            isinstance(body, dict)
            and body.get("AlarmName") == name
            and body.get("NewStateValue") == new
        ):
            return _epoch(rec.get("Timestamp")) or _epoch(rec.get("received")) or time.time()
    return None


def await_alarms(
    cw: Any,
    inbox: Path,
    since: int,
    names: tuple[str, ...],
    state: str,
    t0: float,
    timeout: float,
    say: Say = print,
) -> dict[str, float | None]:
    """Wait until each alarm went to ``state`` (its history) and its notification arrived (the
    inbox); for each ``"<name> <state>"`` and ``"<name> <state> notification"`` the seconds from
    ``t0`` (epoch) to that event, None when it did not happen within ``timeout``."""
    probes: dict[str, Callable[[], float | None]] = {}
    for name in names:
        probes[f"{name} {state}"] = lambda n=name: went_to(cw, n, state, t0)
        probes[f"{name} {state} notification"] = lambda n=name: notified(inbox, since, n, state)
    times: dict[str, float | None] = {}
    deadline = time.monotonic() + timeout
    while probes and time.monotonic() < deadline:
        for key, probe in list(probes.items()):
            at = probe()
            if at is not None:
                times[key] = round(max(0.0, at - t0), 1)
                say(f"    {times[key]:5.1f}s  {key}")
                del probes[key]
        if probes:
            time.sleep(0.5)
    for key in probes:
        times[key] = None
        say(f"    not within {timeout:.0f}s: {key}")
    return times


def run(
    d: Any,
    replay: Callable[[], Any] | None,
    say: Say = print,
    timeout: float = 90.0,
    marker: str = "",
) -> DrillResult:
    """Run the whole drill against the local deployment ``d``."""
    lam, ddb, cw = d.client("lambda"), d.client("dynamodb"), d.client("cloudwatch")
    names = alarm_names(d.outputs)
    inbox = inbox_of(d)
    seen = len(read(inbox))
    result = DrillResult()
    fn = d.function_name
    cfg = lam.get_function_configuration(FunctionName=fn)
    original = dict((cfg.get("Environment") or {}).get("Variables") or {})
    for name in names:
        if alarm_state(cw, name) != "OK":
            result.problems.append(f"{name} was {alarm_state(cw, name)} before the drill, not OK")

    # The stack's defaults retry a failing batch for minutes (an outage rides through): for the
    # drill the mapping gives it up at once, so the DLQ alarm fires within seconds.
    say("  " + mapping.CLI_COMMAND.format(n=0))
    with mapping.retries(lam, d.mapping_uuid, 0):
        t0 = time.time()
        say(
            "  break: aws lambda update-function-configuration --environment "
            '\'{"Variables":{"SNS_TOPIC_ARN":"invalid-arn",...}}\'; put an item'
        )
        lam.update_function_configuration(
            FunctionName=fn,
            Environment={"Variables": {"SNS_TOPIC_ARN": "invalid-arn", "S3_BUCKET_NAME": d.bucket}},
        )
        try:
            ddb.put_item(
                TableName=d.table_name,
                Item={
                    "UserId": {"S": "error-test"},
                    "ActivityId": {"S": f"alarm-drill-{marker or int(time.time())}"},
                    "ActivityType": {"S": "ERROR_TEST"},
                    "Timestamp": {"N": str(int(time.time()))},
                },
            )
            result.times.update(await_alarms(cw, inbox, seen, names, "ALARM", t0, timeout, say))
        finally:
            say("  fix: aws lambda update-function-configuration (the configuration Terraform set)")
            lam.update_function_configuration(FunctionName=fn, Environment={"Variables": original})
    result.times["fixed"] = round(time.time() - t0, 1)
    if replay is None:
        result.problems.append("the DLQ was not replayed (no replay given)")
    else:
        say("  replay: ddbstream dlq replay")
        try:
            result.replayed = replay()
            result.times["replayed"] = round(time.time() - t0, 1)
        except Exception as exc:
            result.problems.append(f"dlq replay failed: {exc}")
    say("  a change after the fix: the function's invocations succeed again (Errors 0)")
    put_recovery_item(ddb, d.table_name, marker)
    result.times.update(await_alarms(cw, inbox, seen, names, "OK", t0, timeout, say))
    return result


def put_recovery_item(ddb: Any, table: str, marker: str) -> None:
    """One change after the fix: its successful invocation puts ``Errors`` 0, the datapoint that
    turns the errors alarm OK (without it the alarm waits for its evaluation range to empty)."""
    ddb.put_item(
        TableName=table,
        Item={
            "UserId": {"S": "test-user-001"},
            "ActivityId": {"S": f"recovered-{marker or int(time.time())}"},
            "ActivityType": {"S": "LOGIN"},
            "Timestamp": {"N": str(int(time.time()))},
        },
    )
