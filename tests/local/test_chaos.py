"""The reliability suite at a reduced size (``make chaos`` runs it whole) on the shared local
stack: S3 refusing writes, SNS failing, workers killed mid-invocation, the function throttled,
poison records, and all of them at once; nothing acknowledged is lost and the deduplicated
view has each change once."""

from __future__ import annotations

import json
from typing import Any

import pytest
from stack_helpers import LocalStackHandle

from ddbstream.local import chaos


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["s3", "sns", "worker", "throttle", "poison", "all"])
def test_a_fault_loses_nothing(local_stack: LocalStackHandle, fault: str) -> None:
    # `all` without its two restarts of the stack here (20-60 s each on this machine under
    # load): make chaos runs them; tests/local/test_durable.py and test_stack.py cover crashes
    # and down/up, test_emulator.py that fault windows outlive a restart.
    window = 5 if fault == "throttle" else 8  # throttling needs no long window to show
    tally = chaos.run_fault(
        local_stack.state_dir, fault, n=40, window=window, say=print, restarts=False
    )
    print("\n" + tally.line())
    for extra in chaos.report_lines(tally):
        print("  " + extra)
    assert tally.written == 40
    assert tally.lost == 0 and tally.view_dups == 0, tally
    if fault in ("s3", "sns"):
        assert tally.audited == tally.written
        assert tally.raw_dups <= tally.written  # at most twice each under one outage
    if fault in ("worker", "all"):
        # a kill hit an invocation in flight: Lambda's error lines are in the log group
        assert tally.kills >= 1 and tally.kills_logged >= 1, tally
    if fault == "throttle":
        assert tally.throttles and tally.throttles > 0, tally  # the window did throttle
    if fault in ("poison", "all"):
        # partial poison audited with what decodes (the rest named in the line), its raw
        # record quarantined; whole poison quarantined with the reason; nothing else missing
        whole = tally.quarantined - tally.partial
        assert tally.partial >= 1 and whole >= 1, tally
        assert tally.audited + whole == tally.written, tally
        assert any(r.startswith("partially decodable, audited without: ") for r in tally.reasons)
        assert any(
            "not a number" in r or "UPSERT" in r for r in tally.reasons if "partial" not in r
        )


def _line(
    seq: int, name: str, new: dict[str, Any] | None, old: dict[str, Any] | None
) -> dict[str, Any]:
    """An audit line as the function writes it, for a record of the chaos writer's table."""
    import json as _json

    from ddbstream.core.audit import event_to_line
    from ddbstream.core.decode import decode_record
    from ddbstream.core.jsonenc import loads

    def image(d: dict[str, Any] | None) -> dict[str, Any] | None:
        if d is None:
            return None
        return {k: ({"N": str(v)} if isinstance(v, int) else {"S": v}) for k, v in d.items()}

    ddb: dict[str, Any] = {
        "Keys": {"UserId": {"S": "u"}, "ActivityId": {"S": f"a{seq}"}},
        "SequenceNumber": str(seq),
        "SizeBytes": 10,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    for key, value in (("NewImage", image(new)), ("OldImage", image(old))):
        if value is not None:
            ddb[key] = value
    record = {
        "eventID": f"e{seq}",
        "eventName": name,
        "eventSource": "aws:dynamodb",
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/x",
        "dynamodb": ddb,
    }
    line: dict[str, Any] = loads(event_to_line(decode_record(_json.loads(_json.dumps(record)))))
    return line


def test_notifications_are_counted_against_the_deployed_rules() -> None:
    """The tally's expected notifications come from the function's rules, not from "every
    change": an audit line is matched as the function matched its change (events, images,
    changed attributes, TTL)."""
    from ddbstream.core.rules import DEFAULT_RULES, parse_rules

    lines = [
        _line(1, "INSERT", {"UserId": "u", "ActivityId": "a1", "ActivityType": "LOGIN"}, None),
        _line(
            2, "INSERT", {"UserId": "u", "ActivityId": "a2", "ActivityType": "LOGIN_FAILED"}, None
        ),
        _line(
            3,
            "MODIFY",
            {"UserId": "u", "ActivityId": "a3", "ActivityType": "LOGIN", "N": 3},
            {"UserId": "u", "ActivityId": "a3", "ActivityType": "LOGIN", "N": 2},
        ),
        _line(
            4,
            "MODIFY",
            {"UserId": "u", "ActivityId": "a4", "ActivityType": "UPDATED", "N": 4},
            {"UserId": "u", "ActivityId": "a4", "ActivityType": "LOGIN", "N": 4},
        ),
        _line(5, "REMOVE", None, {"UserId": "u", "ActivityId": "a5", "ActivityType": "LOGIN"}),
    ]
    assert chaos.expected_notifications(lines, DEFAULT_RULES) == {"e1", "e2", "e3", "e4", "e5"}
    rules = parse_rules(
        json.dumps(
            {
                "rules": [
                    {
                        "name": "failed",
                        "events": ["INSERT"],
                        "new": {"ActivityType": ["LOGIN_FAILED"]},
                    },
                    {"name": "counted", "events": ["MODIFY"], "changed": ["N"], "new": {"N": [3]}},
                    {"name": "gone", "events": ["REMOVE"], "ttl": True},
                ]
            }
        )
    )
    assert chaos.expected_notifications(lines, rules) == {"e2", "e3"}
