"""``ddbstream audit`` against the shared local stack, after a mixed workload through the real
table, stream, local Lambda runtime and audit bucket.

The workload's items carry a run id in their partition key, so the comparisons with a Scan are
item for item over this run's items (other tests write to the same table). A retried partial
batch is reproduced the way the processor writes one: the tail of an existing object's lines
as a new object (its own content-hash key), written later.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from stack_helpers import LocalStackHandle

from ddbstream.core.audit import Partition, build_audit_object
from ddbstream.core.jsonenc import loads

pytestmark = pytest.mark.slow

RUN = f"audit-{uuid.uuid4().hex[:8]}"
PI = "3.1415926535897932384626433832795028841"  # 38 significant digits
BIG = "12345678901234567890123456789012345678"
MINE = f"keys->>'$.UserId' LIKE '{RUN}%'"  # this run's changes


def item(i: int, version: int) -> dict[str, Any]:
    return {
        "UserId": {"S": f"{RUN}-{i % 4}"},
        "ActivityId": {"S": f"act-{i:03d}"},
        "ActivityType": {"S": ["LOGIN", "VIEW", "PURCHASE"][i % 3]},
        "Version": {"N": str(version)},
        "Pi": {"N": PI},
        "Big": {"N": f"-{BIG}" if i % 2 else BIG},
        "Small": {"N": "0.000000000000000000000000000000000001"},
        "Blob": {"B": bytes([i, 0, 255])},
        "Tags": {"SS": [f"t{i}", "common"]},
        "Scores": {"NS": ["1", "2.5", PI]},
        "Blobs": {"BS": [b"\x01", bytes([i])]},
        "Nested": {"M": {"bin": {"B": b"\x00"}, "l": {"L": [{"SS": ["x"]}, {"NULL": True}]}}},
        "Flag": {"BOOL": i % 2 == 0},
    }


def run(
    stack: LocalStackHandle, *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return stack.ddbstream("audit", *args, "--state-dir", str(stack.state_dir), timeout=timeout)


def scan(stack: LocalStackHandle, table: str) -> list[dict[str, Any]]:
    ddb = stack.client("dynamodb")
    items: list[dict[str, Any]] = []
    kw: dict[str, Any] = {"TableName": table}
    while True:
        page = ddb.scan(**kw)
        items += [it for it in page["Items"] if it["UserId"]["S"].startswith(RUN)]
        if "LastEvaluatedKey" not in page:
            return items
        kw["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def wire(av: Any) -> Any:
    """An AttributeValue as compared: bytes as base64 text (what the CLI's DynamoDB JSON
    prints, as the AWS CLI does), set order ignored, numbers by value."""
    import base64

    if isinstance(av, dict) and len(av) == 1:
        ((tag, v),) = av.items()
        if tag == "B":
            return ("B", base64.b64encode(v).decode() if isinstance(v, bytes) else v)
        if tag == "BS":
            return (
                "BS",
                sorted(base64.b64encode(x).decode() if isinstance(x, bytes) else x for x in v),
            )
        if tag == "SS":
            return ("SS", sorted(v))
        if tag == "NS":
            return ("NS", sorted(Decimal(x) for x in v))
        if tag == "N":
            return ("N", Decimal(v))
        if tag == "M":
            return ("M", {k: wire(x) for k, x in v.items()})
        if tag == "L":
            return ("L", [wire(x) for x in v])
        return (tag, v)
    raise AssertionError(av)


def canonical(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = [{k: wire(v) for k, v in it.items()} for it in items]
    return sorted(out, key=lambda it: (it["UserId"][1], it["ActivityId"][1]))


@pytest.fixture(scope="module")
def workload(local_stack: LocalStackHandle) -> dict[str, Any]:
    """Phase 1: 12 inserts. Phase 2: 6 updates (a changed value, an added and a removed
    attribute), 3 deletes, 2 inserts. A Scan after each phase; the moments between them."""
    table = local_stack.outputs["dynamodb_table_name"]
    ddb = local_stack.client("dynamodb")
    for i in range(12):
        ddb.put_item(TableName=table, Item=item(i, 1))
    time.sleep(1.1)
    scan1 = scan(local_stack, table)
    mid = datetime.now(UTC)
    time.sleep(1.1)
    for i in range(6):
        new = item(i, 2)
        new["Added"] = {"S": "yes"}
        del new["Flag"]
        ddb.put_item(TableName=table, Item=new)
    for i in range(6, 9):
        ddb.delete_item(TableName=table, Key={k: item(i, 1)[k] for k in ("UserId", "ActivityId")})
    for i in range(12, 14):
        ddb.put_item(TableName=table, Item=item(i, 1))
    expected_changes = 12 + 6 + 3 + 2
    sql = f"SELECT count(*) AS n FROM changes WHERE keys->>'$.UserId' LIKE '{RUN}%'"
    deadline = time.monotonic() + 120
    n = -1
    while time.monotonic() < deadline:
        out = run(local_stack, "query", "--json", "-q", sql)
        assert out.returncode == 0, out.stderr
        n = json.loads(out.stdout)["n"]
        if n >= expected_changes:
            break
        time.sleep(1)
    assert n == expected_changes, f"{n} of {expected_changes} changes reached the audit log"
    return {"table": table, "scan1": scan1, "mid": mid, "scan2": scan(local_stack, table)}


def test_as_of_now_equals_a_scan_item_for_item(
    local_stack: LocalStackHandle, workload: dict[str, Any]
) -> None:
    out = run(local_stack, "as-of", "now", "--dynamodb-json", "-q")
    assert out.returncode == 0, out.stderr
    rebuilt = [loads(line) for line in out.stdout.splitlines()]
    mine = [it for it in rebuilt if it["UserId"]["S"].startswith(RUN)]
    assert len(mine) == 12 - 3 + 2
    assert canonical(mine) == canonical(workload["scan2"])
    # exact digits in the output itself, not only equal values
    assert f'"N":"{PI}"' in out.stdout and f'"N":"-{BIG}"' in out.stdout


def test_as_of_a_past_moment_equals_the_scan_taken_then(
    local_stack: LocalStackHandle, workload: dict[str, Any]
) -> None:
    out = run(local_stack, "as-of", workload["mid"].isoformat(), "--dynamodb-json", "-q")
    assert out.returncode == 0, out.stderr
    mine = [it for it in map(loads, out.stdout.splitlines()) if it["UserId"]["S"].startswith(RUN)]
    assert canonical(mine) == canonical(workload["scan1"])
    assert len(mine) == 12


def test_history_of_an_item(local_stack: LocalStackHandle, workload: dict[str, Any]) -> None:
    out = run(local_stack, "history", f"UserId={RUN}-0", "ActivityId=act-000", "-q")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "INSERT" in text and "MODIFY" in text
    assert '+ Added = "yes"' in text and "- Flag (was true)" in text and "~ Version: 1 -> 2" in text
    table = workload["table"]  # TABLE first, as `history TABLE KEY=VALUE...`
    deleted = run(
        local_stack, "history", table, f"UserId={RUN}-2", "ActivityId=act-006", "--json", "-q"
    )
    steps = [json.loads(line) for line in deleted.stdout.splitlines()]
    assert [s["event_name"] for s in steps] == ["INSERT", "REMOVE"]
    missing = run(local_stack, "history", "UserId=nobody", "ActivityId=x", "-q")
    assert missing.returncode == 1 and missing.stderr.count("\n") == 1
    assert "no change of an item with UserId=nobody" in missing.stderr


def test_a_retried_partial_batch_is_counted_once(
    local_stack: LocalStackHandle, workload: dict[str, Any]
) -> None:
    s3 = local_stack.client("s3")
    bucket, prefix = local_stack.outputs["s3_bucket_name"], local_stack.outputs["audit_prefix"]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]]
    mine = []
    for k in keys:
        lines = (
            gzip.decompress(s3.get_object(Bucket=bucket, Key=k)["Body"].read())
            .decode()
            .splitlines()
        )
        if any(RUN in line for line in lines):
            mine.append((k, lines))
    key, lines = max(mine, key=lambda kl: len(kl[1]))
    tail = lines[len(lines) // 2 :]
    part = key[len(prefix) :].split("/")
    p = Partition(part[0][6:], *(int(x.split("=")[1]) for x in part[1:5]))
    retry = build_audit_object(prefix, p, range(len(tail)), tail)
    assert retry.key != key
    sql = (
        f"SELECT (SELECT count(*) FROM changes_raw WHERE {MINE}) AS raw, "
        f"(SELECT count(*) FROM changes WHERE {MINE}) AS dedup"
    )
    before = json.loads(run(local_stack, "query", "--json", "-q", sql).stdout)
    time.sleep(1.1)  # S3's LastModified has whole seconds: the retry is written later
    s3.put_object(Bucket=bucket, Key=retry.key, Body=retry.body, ContentEncoding="gzip")
    after = json.loads(run(local_stack, "query", "--json", "-q", sql).stdout)
    assert after == {"raw": before["raw"] + len(tail), "dedup": before["dedup"]}
    assert before["dedup"] == 23


def test_query_outputs_and_shortcuts(
    local_stack: LocalStackHandle, workload: dict[str, Any]
) -> None:
    sql = f"SELECT event_name, count(*) AS n FROM changes WHERE {MINE} GROUP BY 1 ORDER BY 1"
    table = run(local_stack, "query", "-q", sql)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["event_name", "n"] and "(3 rows)" in lines[-1]
    assert lines[2].split() == ["INSERT", "14"]
    csv = run(local_stack, "query", "--csv", "-q", sql).stdout.splitlines()
    assert csv == ["event_name,n", "INSERT,14", "MODIFY,6", "REMOVE,3"]
    t = workload["table"]
    since = run(
        local_stack,
        "query",
        "--json",
        "-q",
        "--table",
        t,
        "--since",
        workload["mid"].isoformat(),
        sql,
    )
    assert [json.loads(x) for x in since.stdout.splitlines()] == [
        {"event_name": "INSERT", "n": 2},
        {"event_name": "MODIFY", "n": 6},
        {"event_name": "REMOVE", "n": 3},
    ]
    until = run(local_stack, "query", "--json", "-q", "--until", workload["mid"].isoformat(), sql)
    assert [json.loads(x) for x in until.stdout.splitlines()] == [{"event_name": "INSERT", "n": 12}]
    none = run(local_stack, "query", "--json", "-q", "--table", "NoSuchTable", sql)
    assert none.returncode == 0 and none.stdout == ""


def test_bad_sql_is_a_one_line_error(
    local_stack: LocalStackHandle, workload: dict[str, Any]
) -> None:
    out = run(local_stack, "query", "-q", "SELEC * FROM changes")
    assert out.returncode == 1
    assert out.stderr.startswith("ddbstream: query failed: Parser Error: syntax error")
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr


def test_tail_shows_the_newest_and_follows(
    local_stack: LocalStackHandle, workload: dict[str, Any]
) -> None:
    out = run(local_stack, "tail", "-n", "3", "-q")
    assert out.returncode == 0, out.stderr
    assert len(out.stdout.splitlines()) == 3
    follow = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ddbstream.cli",
            "audit",
            "tail",
            "-f",
            "-n",
            "0",
            "--stop-after",
            "1",
            "--json",
            "--interval",
            "0.5",
            "--state-dir",
            str(local_stack.state_dir),
        ],
        env=local_stack.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert follow.stderr is not None
        # it says when it follows: what lands from then on is printed
        while "following" not in (ready := follow.stderr.readline()):
            assert ready, "tail -f ended before following"
        local_stack.client("dynamodb").put_item(TableName=workload["table"], Item=item(99, 1))
        stdout, stderr = follow.communicate(timeout=90)
    finally:
        follow.kill()
    assert follow.returncode == 0, stderr
    (line,) = stdout.splitlines()
    assert json.loads(line)["keys"] == {"UserId": f"{RUN}-3", "ActivityId": "act-099"}


def _fits(value: Any, hive_type: str, column: str) -> bool:
    """Does a JSON value of the line fit its Hive column type (as OpenX JSON SerDe reads it)?"""
    if value is None:
        return True
    if hive_type == "string":
        # objects in a string column come back as their JSON text (keys, images, types)
        json_text = column in {
            "keys",
            "new_image",
            "old_image",
            "attribute_types",
            "undecodable_attributes",
        }
        return isinstance(value, str) or (json_text and isinstance(value, dict))
    if hive_type == "array<string>":
        return isinstance(value, list) and all(isinstance(x, str) for x in value)
    if hive_type == "bigint":
        return isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**63
    if hive_type == "double":
        return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)
    if hive_type == "boolean":
        return isinstance(value, bool)
    raise AssertionError(f"column {column}: type {hive_type} not covered by this test")


def test_the_glue_table_matches_a_real_audit_line(
    local_stack: LocalStackHandle, workload: dict[str, Any]
) -> None:
    outputs = local_stack.outputs
    table = local_stack.client("glue").get_table(
        DatabaseName=outputs["athena_database"], Name="audit_log"
    )["Table"]
    sd = table["StorageDescriptor"]
    assert sd["SerdeInfo"]["SerializationLibrary"] == "org.openx.data.jsonserde.JsonSerDe"
    assert sd["SerdeInfo"]["Parameters"]["case.insensitive"] == "FALSE"
    columns = [(c["Name"], c["Type"]) for c in sd["Columns"]]
    # a real line of this run, with binary, sets and a MODIFY's diff in it
    s3 = local_stack.client("s3")
    bucket, prefix = outputs["s3_bucket_name"], outputs["audit_prefix"]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]]
    for key in keys:
        body = gzip.decompress(s3.get_object(Bucket=bucket, Key=key)["Body"].read()).decode()
        lines = [json.loads(x, parse_float=Decimal) for x in body.splitlines()]
        line = next(
            (x for x in lines if x["event_name"] == "MODIFY" and RUN in json.dumps(x["keys"])), None
        )
        if line is not None:
            break
    assert line is not None and line["attribute_types"] is not None
    # the line's fields in order; undecodable_attributes only in a partially decoded change's
    assert [name for name, _ in columns] == [*line, "undecodable_attributes"]
    for name, hive_type in columns:
        assert _fits(line.get(name), hive_type, name), (name, hive_type, line.get(name))
    # partition projection resolves to the object's own key
    params = table["Parameters"]
    hour = datetime.fromisoformat(line["event_time"].replace("Z", "+00:00"))
    location = (
        params["storage.location.template"]
        .replace("${source_table}", line["table_name"])
        .replace("${year}", f"{hour.year:04d}")
        .replace("${month}", f"{hour.month:02d}")
        .replace("${day}", f"{hour.day:02d}")
        .replace("${hour}", f"{hour.hour:02d}")
    )
    assert f"s3://{bucket}/{key}".startswith(location)
    assert line["table_name"] in params["projection.source_table.values"].split(",")
    # the workgroup encrypts results with the stack's key; the view's statement is stored
    athena = local_stack.client("athena")
    wg = athena.get_work_group(WorkGroup=outputs["athena_workgroup"])["WorkGroup"]["Configuration"]
    assert wg["EnforceWorkGroupConfiguration"] is True
    enc = wg["ResultConfiguration"]["EncryptionConfiguration"]
    assert enc == {"EncryptionOption": "SSE_KMS", "KmsKey": outputs["kms_key_arn"]}
    q = athena.get_named_query(NamedQueryId=outputs["athena_changes_view_query_id"])["NamedQuery"]
    assert q["QueryString"].startswith("CREATE OR REPLACE VIEW changes AS")
    assert f'"{outputs["athena_database"]}"."audit_log"' in q["QueryString"]
