"""End to end against the emulator: plan -> apply -> the deployed resources say what the stack
promises -> a second plan shows no changes -> destroy leaves nothing.

Runs with the optional features switched on (email subscription, event filter, notification
rules, on-demand billing, reserved concurrency), so the emulator accepts those paths too. The
measured times are reported as test properties (and printed with ``pytest -s``).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ddbstream.local import terraform as tf
from ddbstream.local.stack import WALKTHROUGH_OUTPUTS

from .conftest import ARN_OUTPUTS, MODULE_DIR, resources

pytestmark = [pytest.mark.slow, pytest.mark.terraform]

ENVIRONMENT = "tfapply"
PREFIX = f"stream-processing-{ENVIRONMENT}"
RULES = {
    "rules": [
        {"name": "failed-logins", "events": ["INSERT"], "new": {"ActivityType": ["LOGIN_FAILED"]}}
    ]
}
FILTER = {"eventName": ["INSERT", "MODIFY", "REMOVE"]}

EXPECTED_ENV = {
    "SNS_TOPIC_ARN",
    "S3_BUCKET_NAME",
    "AUDIT_PREFIX",
    "QUARANTINE_PREFIX",
    "NOTIFICATION_RULES",
    "NOTIFICATION_ATTRIBUTES",
    "METRICS_NAMESPACE",
    "LOG_LEVEL",
    "AUDIT_KMS_KEY_ID",
}


def _policy_statements(document: Any) -> list[dict[str, Any]]:
    doc = json.loads(document) if isinstance(document, str) else document
    statements = doc["Statement"]
    return statements if isinstance(statements, list) else [statements]


def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def test_plan_apply_replan_destroy(
    make_workdir: Callable[[str, dict[str, Any]], Path],
    lambda_zip: Path,
    aws_client: Callable[[str], Any],
    record_property: Callable[[str, object], None],
) -> None:
    variables: dict[str, Any] = {
        "lambda_package_path": str(lambda_zip),
        "environment": ENVIRONMENT,
        # s3_force_destroy stays at its default (false): the destroy below covers that path.
        "kms_key_deletion_window_days": 7,
        "enable_email_notifications": True,
        "notification_email": "ops@example.com",
        "event_filter_patterns": [json.dumps(FILTER)],
        "notification_rules": json.dumps(RULES),
        "billing_mode": "PAY_PER_REQUEST",
        "lambda_reserved_concurrency": 5,
    }
    wd = make_workdir("tf-apply", variables)
    timings: dict[str, float] = {}
    lines: list[str] = []

    # 1. plan: everything to create, the optional features included.
    t0 = time.monotonic()
    assert tf.plan(wd, out="first.tfplan") is True
    plan = tf.show_json(wd, "first.tfplan")
    timings["plan"] = time.monotonic() - t0
    planned = resources(plan)
    assert "aws_sns_topic_subscription.email[0]" in planned
    table = planned["aws_dynamodb_table.activities[0]"]["values"]
    assert table["billing_mode"] == "PAY_PER_REQUEST"
    assert not table.get("read_capacity")
    esm = planned["aws_lambda_event_source_mapping.stream"]["values"]
    assert [json.loads(f["pattern"]) for f in esm["filter_criteria"][0]["filter"]] == [FILTER]

    try:
        # 2. apply
        t0 = time.monotonic()
        out = tf.values_of(tf.apply(wd, on_line=lines.append))
        timings["apply"] = time.monotonic() - t0
        _check_outputs(out)
        _check_deployed(out, aws_client)

        # 3. a second plan sees no changes (the stack and the emulator agree on every value).
        t0 = time.monotonic()
        changed = tf.plan(wd, out="second.tfplan")
        timings["replan"] = time.monotonic() - t0
        if changed:
            drift = [
                rc["address"]
                for rc in tf.show_json(wd, "second.tfplan")["resource_changes"]
                if rc["change"]["actions"] != ["no-op"]
            ]
            pytest.fail(f"second plan wants changes: {drift}")

        # 3b. a deployment made before the stack became a module upgrades in place.
        t0 = time.monotonic()
        _check_seed_layout_state_only_moves(wd, make_workdir("tf-moved", variables))
        timings["moved_plan"] = time.monotonic() - t0
        # 3c. and one made with the module before the table gained its count.
        _check_table_without_index_moves(wd, make_workdir("tf-moved-table", variables))
        # 3d. and one made with the module before the buckets became secure-bucket modules and
        # the alarms one for_each.
        check_previous_module_version_only_moves(wd, make_workdir("tf-moved-bucket", variables))

        # 4. destroy with the default s3_force_destroy = false while the bucket holds an
        # object: it fails at the bucket, and the key the object is encrypted with is kept.
        t0 = time.monotonic()
        _check_destroy_keeps_the_key_of_a_kept_bucket(wd, out, aws_client, lines)
        timings["failed_destroy"] = time.monotonic() - t0
    finally:
        # 5. the bucket emptied, destroy, even when a check above failed, so the shared
        # emulator is left clean.
        t0 = time.monotonic()
        _empty_bucket(aws_client("s3"), f"{PREFIX}-audit-123456789012-us-east-1")
        tf.destroy(wd, on_line=lines.append)
        timings["destroy"] = time.monotonic() - t0

    state = tf.show_json(wd)
    assert not state.get("values", {}).get("root_module", {}).get("resources")
    with pytest.raises(ClientError):
        aws_client("dynamodb").describe_table(TableName=f"{PREFIX}-UserActivities")
    # Only now, with the bucket gone, is the key scheduled for deletion.
    key = aws_client("kms").describe_key(KeyId=out["kms_key_arn"])["KeyMetadata"]
    assert key["KeyState"] == "PendingDeletion"

    for name, seconds in timings.items():
        record_property(f"terraform_{name}_seconds", round(seconds, 1))
    slowest = sorted((line for line in lines if "complete after" in line), key=_took)[-4:]
    print("\nterraform against moto: " + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()))
    print("slowest resources:\n  " + "\n  ".join(slowest))


def _check_destroy_keeps_the_key_of_a_kept_bucket(
    wd: Path, out: dict[str, Any], aws_client: Callable[[str], Any], lines: list[str]
) -> None:
    s3 = aws_client("s3")
    bucket = out["s3_bucket_name"]
    s3.put_object(
        Bucket=bucket,
        Key="audit-logs/table=T/kept.ndjson.gz",
        Body=b"{}",
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=out["kms_key_arn"],
    )
    with pytest.raises(tf.TerraformError, match="BucketNotEmpty"):
        tf.destroy(wd, on_line=lines.append)
    key = aws_client("kms").describe_key(KeyId=out["kms_key_arn"])["KeyMetadata"]
    assert key["KeyState"] == "Enabled", "the key went while its bucket's objects stayed"
    head = s3.head_object(Bucket=bucket, Key="audit-logs/table=T/kept.ndjson.gz")
    assert head["SSEKMSKeyId"] == out["kms_key_arn"]


def _empty_bucket(s3: Any, bucket: str) -> None:
    """Delete every version and delete marker (the bucket is versioned); gone is fine."""
    try:
        pages = s3.get_paginator("list_object_versions").paginate(Bucket=bucket)
        for page in pages:
            for item in page.get("Versions", []) + page.get("DeleteMarkers", []):
                s3.delete_object(Bucket=bucket, Key=item["Key"], VersionId=item["VersionId"])
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "NoSuchBucket":
            raise


#: Resources that gained a count when they moved into the module (kms_key_arn,
#: create_audit_bucket, autoscaling_enabled): in the seed layout they had no index.
GAINED_COUNT = {
    "aws_dynamodb_table",
    "aws_kms_key",
    "aws_kms_alias",
    "aws_s3_bucket",
    "aws_s3_bucket_ownership_controls",
    "aws_s3_bucket_public_access_block",
    "aws_s3_bucket_versioning",
    "aws_s3_bucket_server_side_encryption_configuration",
    "aws_s3_bucket_policy",
    "aws_s3_bucket_lifecycle_configuration",
}


MOVED_TF = Path(__file__).resolve().parents[2] / "terraform" / "moved.tf"

#: The module's own moved blocks (modules/ddbstream/*.tf): ``to`` -> ``from``, addresses within
#: module.ddbstream, e.g. "module.audit_bucket[0].aws_s3_bucket.this" -> "aws_s3_bucket.audit[0]".
MODULE_MOVES = {
    to: frm
    for path in sorted(MODULE_DIR.glob("*.tf"))
    for frm, to in re.findall(
        r"^moved\s*\{\s*from\s*=\s*(\S+)\s*to\s*=\s*(\S+)\s*\}", path.read_text(), re.M
    )
}


def _rewind_module_moves(state: dict[str, Any]) -> dict[str, str]:
    """Rewrite the state's resources that the module's moved blocks took to a new resource (a
    child module's, ``module.X[0].T.this`` <- ``T.name[0]``, or a for_each key,
    ``T.this["k"]`` <- ``T.k``) back to their address before: the state an earlier version of
    the module left. Moves that only add an index (the table's [0]) are left alone (the
    upgrade check of 3c). Returns the rewound addresses, new -> old, in module.ddbstream."""
    rewound: dict[str, str] = {}
    resources: dict[tuple[str, str, str], dict[str, Any]] = {}
    for res in state["resources"]:
        inner = res["module"].removeprefix("module.ddbstream").removeprefix(".")
        for instance in res["instances"]:
            key = instance.get("index_key")
            index = "" if key is None else f"[{json.dumps(key)}]"
            address = f"{inner + '.' if inner else ''}{res['type']}.{res['name']}{index}"
            old = MODULE_MOVES.get(address) if res["mode"] == "managed" else None
            place = (res["module"], res["type"], res["name"])
            m = re.fullmatch(r"(\w+)\.(\w+)(?:\[(.+)\])?", old or "")
            if m and (inner or m.group(2) != res["name"]):
                assert m.group(1) == res["type"], old
                place = ("module.ddbstream", res["type"], m.group(2))
                key = None if m.group(3) is None else json.loads(m.group(3))
                rewound[f"module.ddbstream.{address}"] = f"module.ddbstream.{old}"
            target = resources.setdefault(
                place, {**res, "module": place[0], "name": place[2], "instances": []}
            )
            target.pop("each", None)
            instance = {k: v for k, v in instance.items() if k != "index_key"}
            if key is not None:
                instance["index_key"] = key
                target["each"] = "map" if isinstance(key, str) else "list"
            target["instances"].append(instance)
    state["resources"] = list(resources.values())
    return rewound


def check_previous_module_version_only_moves(applied: Path, upgrade: Path) -> None:
    """A deployment made with the module before its refactorings (the buckets into
    modules/secure-bucket, the alarms into one for_each) plans moves only: the applied state is
    rewound to the old addresses and planned with today's configuration; nothing is created,
    destroyed, replaced or changed, and each moved resource names its old address."""
    state = json.loads(tf.run(applied, "state", "pull").stdout)
    rewound = _rewind_module_moves(state)
    assert rewound, "no moved resource in the applied state"
    (upgrade / tf.STATE_FILE).write_text(json.dumps(state))
    tf.run(upgrade, "plan", "-input=false", "-no-color", "-refresh=false", "-out=module.tfplan")
    changes = tf.show_json(upgrade, "module.tfplan")["resource_changes"]
    changed = [
        (rc["address"], rc["change"]["actions"])
        for rc in changes
        if rc["mode"] == "managed" and rc["change"]["actions"] != ["no-op"]
    ]
    assert changed == [], changed
    previous = {rc["address"]: rc.get("previous_address") for rc in changes}
    assert {new: previous[new] for new in rewound} == rewound


def _check_seed_layout_state_only_moves(applied: Path, upgrade: Path) -> None:
    """The applied state rewritten to the addresses of the seed layout (the resources named
    in terraform/moved.tf, in the root, no module, the key and the bucket without an index;
    resources added since then left out), then planned with today's configuration: every
    seed-layout address must become a move, with nothing replaced or destroyed (a destroy of
    the table, bucket or key would lose data) and at most the tags filled in; only the
    resources added since are created."""
    seed_addresses = set(re.findall(r"^\s*from\s*=\s*(\S+)", MOVED_TF.read_text(), re.M))
    state = json.loads(tf.run(applied, "state", "pull").stdout)
    # First back to the module's older addresses; the moves chain (seed -> module -> child).
    rewound = _rewind_module_moves(state)
    seed_layout, added = [], set()
    for res in state["resources"]:
        if res["mode"] != "managed":
            continue  # data sources are read again on every plan
        assert res.pop("module") == "module.ddbstream", res["type"]
        if f"{res['type']}.{res['name']}" not in seed_addresses:
            added |= {f"module.ddbstream.{res['type']}.{res['name']}"}
            continue
        for instance in res["instances"]:
            if res["type"] in GAINED_COUNT:
                assert instance.pop("index_key") == 0
            # The seed layout tagged through the provider's default_tags (tags_all), the
            # module tags each resource itself.
            if instance["attributes"].get("tags"):
                instance["attributes"]["tags"] = None
        seed_layout.append(res)
    state["resources"] = seed_layout
    (upgrade / tf.STATE_FILE).write_text(json.dumps(state))

    tf.run(upgrade, "plan", "-input=false", "-no-color", "-refresh=false", "-out=moved.tfplan")
    changes = tf.show_json(upgrade, "moved.tfplan")["resource_changes"]
    managed = [rc for rc in changes if rc["mode"] == "managed"]
    created = {
        rc["address"].split("[")[0] for rc in managed if rc["change"]["actions"] == ["create"]
    }
    assert created == added
    moved = [rc for rc in managed if rc["change"]["actions"] != ["create"]]
    assert len(moved) == len(seed_layout)
    for rc in moved:
        change = rc["change"]
        if rc["address"] == "module.ddbstream.aws_sns_topic_subscription.email[0]":
            # The one replacement of the upgrade: the email moves to the new alarm topic
            # (terraform/README.md, "Notifications and alarms: two topics").
            assert change["actions"] == ["delete", "create"], change["actions"]
            continue
        # No delete or replace: at most the tags argument is filled in, in place.
        assert change["actions"] in (["no-op"], ["update"]), (rc["address"], change["actions"])
        differ = {k for k in change["after"] if change["after"][k] != change["before"].get(k)}
        assert differ <= {"tags"}, (rc["address"], differ)
        assert rc["address"].startswith("module.ddbstream."), rc["address"]
        before_child = rewound.get(rc["address"], rc["address"])
        assert rc.get("previous_address") == before_child.removeprefix("module.ddbstream.").replace(
            "[0]", "" if rc["type"] in GAINED_COUNT else "[0]"
        ), rc["address"]


def _check_table_without_index_moves(applied: Path, upgrade: Path) -> None:
    """A deployment made with the module before auto scaling gave the table a count has it at
    module.ddbstream.aws_dynamodb_table.activities: the plan moves it to [0] and replaces
    nothing (found on a local stack kept across that change: the table was destroyed and
    re-created, the mapping with it; on AWS the table's data would be lost)."""
    state = json.loads(tf.run(applied, "state", "pull").stdout)
    for res in state["resources"]:
        if (res["mode"], res["type"], res["name"]) == (
            "managed",
            "aws_dynamodb_table",
            "activities",
        ):
            for instance in res["instances"]:
                assert instance.pop("index_key") == 0
    (upgrade / tf.STATE_FILE).write_text(json.dumps(state))
    tf.run(upgrade, "plan", "-input=false", "-no-color", "-refresh=false", "-out=table.tfplan")
    changes = tf.show_json(upgrade, "table.tfplan")["resource_changes"]
    bad = [
        (rc["address"], rc["change"]["actions"])
        for rc in changes
        if "delete" in rc["change"]["actions"]
    ]
    assert bad == [], bad
    (table,) = [rc for rc in changes if rc["address"].endswith("aws_dynamodb_table.activities[0]")]
    assert table.get("previous_address") == "module.ddbstream.aws_dynamodb_table.activities"


def _took(line: str) -> int:
    """Seconds in a "... complete after 1m5s [id=...]" line."""
    m = re.search(r"complete after (?:(\d+)m)?(\d+)s", line)
    return int(m.group(1) or 0) * 60 + int(m.group(2)) if m else 0


def _check_outputs(out: dict[str, Any]) -> None:
    for name in (*WALKTHROUGH_OUTPUTS, *ARN_OUTPUTS):
        assert out.get(name), name
    assert out["dynamodb_table_name"] == f"{PREFIX}-UserActivities"
    assert out["lambda_log_group_name"] == f"/aws/lambda/{out['lambda_function_name']}"
    assert out["s3_bucket_name"] == f"{PREFIX}-audit-123456789012-us-east-1"
    assert out["sns_topic_arn"].startswith("arn:aws:sns:us-east-1:")
    assert "/stream/" in out["dynamodb_stream_arn"]
    assert out["athena_database"] == PREFIX.replace("-", "_") + "_audit"
    assert out["athena_table"] == out["athena_database"] + ".audit_log"


def _check_deployed(out: dict[str, Any], aws_client: Callable[[str], Any]) -> None:
    lam = aws_client("lambda")
    fn = lam.get_function_configuration(FunctionName=out["lambda_function_name"])
    assert fn["Handler"] == "ddbstream.handler.lambda_handler"
    env = fn["Environment"]["Variables"]
    assert set(env) == EXPECTED_ENV
    assert env["SNS_TOPIC_ARN"] == out["sns_topic_arn"]
    assert env["S3_BUCKET_NAME"] == out["s3_bucket_name"]
    assert json.loads(env["NOTIFICATION_RULES"]) == RULES
    # JSON logs (Powertools' keys on the processor's lines, Lambda's own lines JSON too)
    assert fn["LoggingConfig"]["LogFormat"] == "JSON"
    assert fn["LoggingConfig"]["ApplicationLogLevel"] == "INFO"

    mapping = lam.get_event_source_mapping(UUID=out["event_source_mapping_uuid"])
    assert mapping["EventSourceArn"] == out["dynamodb_stream_arn"]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BisectBatchOnFunctionError"] is True
    assert mapping["DestinationConfig"]["OnFailure"]["Destination"] == out["dlq_arn"]

    # Every alarm acts on the topic.
    cw = aws_client("cloudwatch")
    alarms = cw.describe_alarms(AlarmNamePrefix=f"{PREFIX}-")["MetricAlarms"]
    assert len(alarms) == 7
    for alarm in alarms:
        assert alarm["AlarmActions"] == [out["alarm_topic_arn"]], alarm["AlarmName"]
        assert alarm["OKActions"] == [out["alarm_topic_arn"]], alarm["AlarmName"]

    # The email subscribes to the alarms, not to one mail per change.
    sns = aws_client("sns")
    assert out["alarm_topic_arn"] != out["sns_topic_arn"]
    alarm_subs = sns.list_subscriptions_by_topic(TopicArn=out["alarm_topic_arn"])
    assert [(s["Protocol"], s["Endpoint"]) for s in alarm_subs["Subscriptions"]] == [
        ("email", "ops@example.com")
    ]
    change_subs = sns.list_subscriptions_by_topic(TopicArn=out["sns_topic_arn"])
    assert not [s for s in change_subs["Subscriptions"] if s["Protocol"] == "email"]
    for arn in (out["alarm_topic_arn"], out["sns_topic_arn"]):
        attributes = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
        assert attributes["KmsMasterKeyId"] == out["kms_key_arn"], arn

    # The role's inline policy, as deployed: "*" only for ListStreams, the rest on our ARNs.
    iam = aws_client("iam")
    role_name = out["lambda_role_arn"].rsplit("/", 1)[1]
    assert not iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]
    (policy_name,) = iam.list_role_policies(RoleName=role_name)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role_name, PolicyName=policy_name)["PolicyDocument"]
    ours = (
        out["dynamodb_stream_arn"],
        out["s3_bucket_arn"] + "/",
        out["sns_topic_arn"],
        out["dlq_arn"],
        "arn:aws:logs:us-east-1:123456789012:log-group:" + out["lambda_log_group_name"] + ":",
        out["kms_key_arn"],
    )
    for st in _policy_statements(document):
        actions = set(_as_list(st["Action"]))
        for res in _as_list(st["Resource"]):
            if res == "*":
                assert actions == {"dynamodb:ListStreams"}, st
            else:
                assert res.startswith(ours), res

    # Encryption, privacy, TLS only.
    s3 = aws_client("s3")
    bucket = out["s3_bucket_name"]
    sse = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert sse["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    assert "aws:SecureTransport" in s3.get_bucket_policy(Bucket=bucket)["Policy"]
    topic = aws_client("sns").get_topic_attributes(TopicArn=out["sns_topic_arn"])["Attributes"]
    assert topic["KmsMasterKeyId"] == out["kms_key_arn"]
