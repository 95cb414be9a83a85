"""``ddbstream notifications``: the inbox file read back, change and alarm notifications told
apart, shown readable or as JSON, the last N; a deployment without --queue-url is refused in one
line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ddbstream.ops import notifications


def _alarm_env(name: str, old: str, new: str) -> dict[str, Any]:
    body = {"AlarmName": name, "OldStateValue": old, "NewStateValue": new, "NewStateReason": "r"}
    return {
        "Type": "Notification",
        "Subject": f'{new}: "{name}" in US East (N. Virginia)',
        "Message": json.dumps(body),
        "Timestamp": "2026-11-27T14:04:30.000Z",
        "received": "2026-11-27T14:04:30.100+00:00",
    }


def _change_env() -> dict[str, Any]:
    line = {"event_name": "INSERT", "table_name": "T", "keys": {"UserId": "u1"}}
    return {
        "Type": "Notification",
        "Subject": "DynamoDB Activity: New Record Created",
        "Message": json.dumps(line),
        "Timestamp": "2026-11-27T14:04:00.000Z",
        "MessageAttributes": {"eventName": {"Type": "String", "Value": "INSERT"}},
    }


def test_classify_tells_alarm_and_change_notifications_apart() -> None:
    a = notifications.classify(_alarm_env("errors", "OK", "ALARM"))
    assert (a["kind"], a["alarm"], a["old_state"], a["new_state"]) == (
        "alarm",
        "errors",
        "OK",
        "ALARM",
    )
    assert notifications.render(a) == "14:04:30  alarm   errors: OK -> ALARM  r"
    c = notifications.classify(_change_env())
    assert (c["kind"], c["event_name"], c["attributes"]) == (
        "change",
        "INSERT",
        {"eventName": "INSERT"},
    )
    assert notifications.render(c) == '14:04:00  change  INSERT T {"UserId":"u1"}'
    o = notifications.classify({"Message": "hello", "Subject": "s"})
    assert o["kind"] == "other" and "hello" in notifications.render(o)


def test_cmd_reads_the_local_inbox_whether_the_stack_runs_or_not(
    tmp_path: Path, capsys: Any
) -> None:
    from ddbstream.cli import main

    inbox = tmp_path / notifications.INBOX_FILE
    recs = [_change_env(), _alarm_env("errors", "OK", "ALARM"), _alarm_env("errors", "ALARM", "OK")]
    inbox.write_text("".join(json.dumps(r) + "\n" for r in recs) + '{"unfinished')
    sd = ["--state-dir", str(tmp_path)]
    assert main(["notifications", *sd]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[1] for line in out] == ["change", "alarm", "alarm"]
    assert main(["notifications", *sd, "-n", "1", "--json"]) == 0
    last = json.loads(capsys.readouterr().out)
    assert (last["kind"], last["new_state"]) == ("alarm", "OK")
    assert main(["notifications", *sd, "--kind", "change"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1


def test_no_inbox_and_no_stack_is_one_line(tmp_path: Path, capsys: Any) -> None:
    from ddbstream.cli import main

    assert main(["notifications", "--state-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "the local stack has not run there yet" in err and err.count("\n") == 1


def test_a_deployment_needs_a_queue_url(capsys: Any, monkeypatch: Any) -> None:
    from ddbstream.cli import main
    from ddbstream.ops import target

    d = target.Deployment(
        outputs={"sns_topic_arn": "arn:aws:sns:us-east-1:1:t"}, source="Terraform in x"
    )
    monkeypatch.setattr(target, "resolve", lambda args: d)
    assert main(["notifications", "--function-name", "fn"]) == 1
    assert capsys.readouterr().err.startswith("ddbstream: Terraform in x: pass --queue-url")
    assert main(["notifications", "--terraform-dir", "x"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ddbstream: Terraform in x: pass --queue-url") and err.count("\n") == 1


@pytest.mark.parametrize("bad", ["-1"])
def test_bad_last_is_refused(bad: str, capsys: Any) -> None:
    from ddbstream.cli import main

    assert main(["notifications", "-n", bad]) == 1
    assert "--last -1: must be 0 or more" in capsys.readouterr().err


def test_an_aws_error_answer_is_one_line(moto_endpoint: str, capsys: Any, monkeypatch: Any) -> None:
    """A queue URL AWS answers with an error (no such queue, access denied) is one line, exit 1
    (found: QueueDoesNotExist escaped as a traceback; every verb gets AWS's error answers as
    one line from cli.main, not only the ones that catch them)."""
    from ddbstream.cli import main
    from ddbstream.local import clients
    from ddbstream.ops import target

    d = target.Deployment(
        outputs={}, source="test", is_local=True, endpoint=moto_endpoint, region=clients.REGION
    )
    monkeypatch.setattr(target, "resolve", lambda args: d)
    url = f"{moto_endpoint}/{clients.ACCOUNT_ID}/no-such-queue"
    assert main(["notifications", "--queue-url", url]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("ddbstream: ReceiveMessage: ") and "does not exist" in err
