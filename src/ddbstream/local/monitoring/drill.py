"""The alarm drill of the demo's monitoring step (and of its end-to-end test), on the local stack:

1. break the function as the seed's error-handling test does (``SNS_TOPIC_ARN=invalid-arn``)
   and put an item: every invocation fails, the batch reaches the DLQ;
2. wait for the Lambda-errors and DLQ alarms to go to ALARM and for their notifications to
   arrive in the stack's inbox;
3. put the configuration back, replay the DLQ (``ddbstream dlq replay``, given as ``replay``);
4. wait for both alarms to return to OK and for their OK notifications.

Each event is timed from the moment the function was broken. Nothing is left growing: the DLQ
message is replayed (and so deleted), the inbox is drained by the stack.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


def _alarm_names(outputs: dict[str, Any]) -> tuple[str, str]:
    names = outputs.get("alarm_names") or {}
    return str(names["lambda_errors"]), str(names["dlq_messages"])


def run(
    d: Any,
    replay: Callable[[], Any] | None,
    say: Say = print,
    timeout: float = 90.0,
    marker: str = "",
) -> DrillResult:
    """Run the drill against deployment ``d`` (a local one: the inbox lives in its state dir)."""
    lam, ddb, cw = d.client("lambda"), d.client("dynamodb"), d.client("cloudwatch")
    errors_alarm, dlq_alarm = _alarm_names(d.outputs)
    inbox = Path(d.state_dir) / INBOX_FILE
    seen = len(read(inbox))
    result = DrillResult()
    fn = d.function_name
    original = dict(
        (lam.get_function_configuration(FunctionName=fn).get("Environment") or {}).get("Variables")
        or {}
    )

    def state(name: str) -> str:
        return str(cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"])

    def notified(name: str, new: str) -> bool:
        for rec in read(inbox)[seen:]:
            try:
                body = json.loads(rec.get("Message", ""))
            except (TypeError, ValueError):
                continue
            if (
                isinstance(body, dict)
                and body.get("AlarmName") == name
                and body.get("NewStateValue") == new
            ):
                return True
        return False

    def wait(events: dict[str, Callable[[], bool]], t0: float, deadline: float) -> None:
        pending = dict(events)
        while pending and time.monotonic() < deadline:
            for key, probe in list(pending.items()):
                if probe():
                    result.times[key] = round(time.monotonic() - t0, 1)
                    say(f"    {result.times[key]:5.1f}s  {key}")
                    del pending[key]
            time.sleep(0.5)
        for key in pending:
            result.times[key] = None
            say(f"    not within {timeout:.0f}s: {key}")

    for name in (errors_alarm, dlq_alarm):
        if state(name) != "OK":
            result.problems.append(f"{name} was {state(name)} before the drill, not OK")

    t0 = time.monotonic()
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
        wait(
            {
                f"{errors_alarm} ALARM": lambda: state(errors_alarm) == "ALARM",
                f"{errors_alarm} ALARM notification": lambda: notified(errors_alarm, "ALARM"),
                f"{dlq_alarm} ALARM": lambda: state(dlq_alarm) == "ALARM",
                f"{dlq_alarm} ALARM notification": lambda: notified(dlq_alarm, "ALARM"),
            },
            t0,
            time.monotonic() + timeout,
        )
    finally:
        say("  fix: aws lambda update-function-configuration (the configuration Terraform set)")
        lam.update_function_configuration(FunctionName=fn, Environment={"Variables": original})
    result.times["fixed"] = round(time.monotonic() - t0, 1)
    if replay is None:
        result.problems.append("the DLQ was not replayed (ddbstream dlq replay not available)")
    else:
        say("  replay: ddbstream dlq replay")
        try:
            result.replayed = replay()
            result.times["replayed"] = round(time.monotonic() - t0, 1)
        except Exception as exc:
            result.problems.append(f"dlq replay failed: {exc}")
    wait(
        {
            f"{errors_alarm} OK": lambda: state(errors_alarm) == "OK",
            f"{errors_alarm} OK notification": lambda: notified(errors_alarm, "OK"),
            f"{dlq_alarm} OK": lambda: state(dlq_alarm) == "OK",
            f"{dlq_alarm} OK notification": lambda: notified(dlq_alarm, "OK"),
        },
        t0,
        time.monotonic() + timeout,
    )
    return result
