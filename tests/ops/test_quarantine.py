"""quarantine list / replay against the in-process emulator (the ``mini`` deployment)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from ops_helpers import MiniStack, state_dir_for

from ddbstream import cli
from ddbstream.core.pipeline import build_quarantine_object
from ddbstream.errors import UserError
from ddbstream.ops import dlq, quarantine
from ddbstream.testing.records import activity, stream_record


def _quarantine(mini: MiniStack, user: str, kind: str, seq: int) -> str:
    """A quarantine object exactly as the function writes it (build_quarantine_object): a record
    that decodes now ("fixed"), one whose keys do not ("poison"), one whose image holds an
    undecodable value ("partial": audited with what decodes, its raw form quarantined)."""
    rec = stream_record("INSERT", {"UserId": user, "ActivityId": "a"}, activity(user, 1), seq=seq)
    rec["eventSourceARN"] = mini.stream_arn
    rec = copy.deepcopy(rec)
    if kind == "poison":
        rec["dynamodb"]["Keys"]["ActivityId"] = {"N": "abc"}
        error = "dynamodb.Keys: N value 'abc' is not a number"
    elif kind == "partial":
        rec["dynamodb"]["NewImage"]["Timestamp"] = {"N": "abc"}
        error = "partially decodable, audited without: new_image.Timestamp"
    else:
        error = "dynamodb.NewImage: a decoder bug fixed since"
    obj = build_quarantine_object("quarantine/", 0, rec, error)
    mini.c("s3").put_object(Bucket=mini.bucket, Key=obj.key, Body=obj.body)
    return obj.key


def _keys(mini: MiniStack) -> list[str]:
    s3 = mini.c("s3")
    return [
        o["Key"]
        for o in s3.list_objects_v2(Bucket=mini.bucket, Prefix="quarantine/").get("Contents", [])
    ]


def test_list_then_replay_lands_what_decodes_now_and_keeps_what_does_not(
    mini: MiniStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mini.set_topic(mini.topic)
    fixed = _quarantine(mini, "q-fixed", "fixed", seq=901)
    poison = _quarantine(mini, "q-poison", "poison", seq=902)
    partial = _quarantine(mini, "q-partial", "partial", seq=903)
    where, found = quarantine.list_quarantined(mini.d)
    assert where == f"s3://{mini.bucket}/quarantine/"
    by_key = {q.key: q for q in found}
    assert set(by_key) == {fixed, poison, partial}
    assert by_key[poison].error == "dynamodb.Keys: N value 'abc' is not a number"
    assert int(by_key[poison].sequence_number or 0) == 902 and by_key[poison].table == mini.table

    dry = quarantine.replay(mini.d, dry_run=True)
    assert sorted(r.status for r in dry.results) == [
        "still-failing",
        "still-failing",
        "would-replay",
    ]
    assert sorted(_keys(mini)) == sorted([fixed, poison, partial])
    assert mini.audit_event_ids() == []

    report = quarantine.replay(mini.d)
    status = {r.key: r.status for r in report.results}
    assert status == {fixed: "replayed", poison: "still-failing", partial: "still-failing"}
    detail = {r.key: r.detail for r in report.results}
    assert detail[partial].startswith("kept: still partially undecodable: new_image.Timestamp")
    assert report.exit_code == dlq.EXIT_KEPT
    assert sorted(_keys(mini)) == sorted([poison, partial]), "only the landed one is removed"
    assert len(mini.audit_event_ids()) == 1, "a still-partial record is not audited again"
    (note,) = mini.notifications()
    assert json.loads(note["Message"])["keys"]["UserId"] == "q-fixed"
    assert note["MessageAttributes"][dlq.REPLAY_ATTRIBUTE]["Value"] == "true"

    assert cli.main(["quarantine", "list", "--state-dir", state_dir_for(tmp_path, mini)]) == 0
    out = capsys.readouterr().out
    assert f"2 quarantined record(s) in s3://{mini.bucket}/quarantine/" in out
    assert "error: dynamodb.Keys: N value 'abc' is not a number" in out

    assert (
        cli.main(["quarantine", "replay", "--skip", "--state-dir", state_dir_for(tmp_path, mini)])
        == 0
    )
    out = capsys.readouterr().out
    assert f"skipped {poison}: given up (--skip)" in out
    assert f"skipped {partial}: given up (--skip)" in out
    assert _keys(mini) == []
    assert cli.main(["quarantine", "replay", "--state-dir", state_dir_for(tmp_path, mini)]) == 0
    assert "nothing to replay" in capsys.readouterr().out


def test_replay_refuses_with_an_invalid_function_configuration(mini: MiniStack) -> None:
    key = _quarantine(mini, "q-bad", "fixed", seq=904)
    with pytest.raises(UserError, match="invalid configuration"):
        quarantine.replay(mini.d)
    assert _keys(mini) == [key]
    with pytest.raises(UserError, match="no quarantine object nope"):
        quarantine.replay(mini.d, keys=["nope"])
