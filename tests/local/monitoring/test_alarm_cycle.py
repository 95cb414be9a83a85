"""The seed's "Monitoring and Alerting" seen working on the local stack, end to end: the
function broken as in the seed's error test, the Lambda-errors and DLQ alarms go to ALARM and
CloudWatch's notifications reach the stack's inbox; fixed and the DLQ replayed, both return to
OK. Also what an operator reads meanwhile: describe-alarm-history, `ddbstream notifications`,
`ddbstream status`. The local stack runs its alarms with 10 s periods (LOCAL_VARIABLES)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from typing import Any

import pytest

from ddbstream.local.monitoring import drill
from ddbstream.ops import dlq, target

pytestmark = pytest.mark.slow


def _ddbstream(*args: str, env: dict[str, str] | None = None) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "ddbstream.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_break_alarm_notify_fix_replay_ok(local_stack: Any) -> None:
    d = target.from_local_stack(local_stack.state_dir)
    cw = d.client("cloudwatch")
    names = drill.alarm_names(d.outputs)
    # a DLQ message left by an earlier test would hold the DLQ alarm in ALARM: replay it first
    if dlq.replay(d).count("replayed"):
        deadline = time.monotonic() + 60
        while any(drill.alarm_state(cw, n) != "OK" for n in names):
            assert time.monotonic() < deadline, "alarms not OK before the drill"
            time.sleep(1)

    t0 = time.monotonic()
    result = drill.run(d, replay=lambda: dlq.replay(d), timeout=60, marker=uuid.uuid4().hex[:8])
    took = time.monotonic() - t0
    print(f"\nalarm drill in {took:.1f}s: {json.dumps(result.times)}")
    assert result.ok, (result.problems, result.times)
    assert result.replayed.count("replayed") >= 1 and result.replayed.exit_code == 0
    errors, dlq_alarm = names
    # the errors alarm fires no later than the DLQ one (the batch reaches the DLQ only after its
    # retries): at the same 10 s evaluation instant at the latest (one pass sets both, ~0.1 s
    # apart in either order), and OK comes after the replay
    assert result.times[f"{errors} ALARM"] <= result.times[f"{dlq_alarm} ALARM"] + 1.0
    assert result.times[f"{dlq_alarm} OK"] >= result.times["replayed"]

    # the history shows both transitions of each alarm, with the action that ran
    for name in names:
        hist = cw.describe_alarm_history(AlarmName=name)["AlarmHistoryItems"]
        summaries = [h["HistorySummary"] for h in hist]
        assert "Alarm updated from OK to ALARM" in summaries
        assert "Alarm updated from ALARM to OK" in summaries
        assert any(s.startswith("Successfully executed action arn:aws:sns:") for s in summaries)

    # what `ddbstream notifications` shows: the four alarm notifications, CloudWatch's JSON
    seen = [
        json.loads(line)
        for line in _ddbstream(
            "notifications", "--state-dir", str(local_stack.state_dir), "--kind", "alarm", "--json"
        ).splitlines()
    ]
    for name in names:
        got = [(n["old_state"], n["new_state"]) for n in seen if n["alarm"] == name]
        assert ("OK", "ALARM") in got and ("ALARM", "OK") in got
        body = next(n["body"] for n in seen if n["alarm"] == name and n["new_state"] == "ALARM")
        assert body["Trigger"]["Period"] == 10 and body["NewStateReason"].startswith(
            "Threshold Crossed"
        )

    # `ddbstream status`: alarms back to OK, the DLQ empty, the mapping enabled
    status = json.loads(_ddbstream("status", "--state-dir", str(local_stack.state_dir), "--json"))
    states = {a["name"]: a["state"] for a in status["alarms"]}
    assert states[errors] == "OK" and states[dlq_alarm] == "OK"
    assert status["dlq"]["visible"] == 0
    assert status["mappings"][0]["state"] == "Enabled"
    assert status["metrics"]["errors_1h"] >= 1
    # the recovery change went through: the processor's EMF `Changes` became a CloudWatch metric
    assert status["metrics"]["changes_1h"] >= 1
    screen = _ddbstream("status", "--state-dir", str(local_stack.state_dir))
    assert "Alarms  (7, 0 in ALARM)" in screen

    # the same screen as for a deployment: Terraform's outputs from its working directory, the
    # usual AWS settings (here AWS_ENDPOINT_URL and the dummy keys of `ddbstream env`)
    env = local_stack.env()
    env.pop("DDBSTREAM_STATE_DIR")
    tf_dir = str(local_stack.state_dir / "terraform")
    deployed = json.loads(_ddbstream("status", "--terraform-dir", tf_dir, "--json", env=env))
    assert deployed["target"] != status["target"]
    assert {a["name"]: a["state"] for a in deployed["alarms"]} == states
    assert deployed["dlq"]["visible"] == 0 and deployed["mappings"][0]["state"] == "Enabled"
