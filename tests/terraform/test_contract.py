"""The stack's contract, read from ``terraform show -json`` of a plan against the emulator:
the seed's variables (names, defaults), the outputs the walkthrough uses, alarms on metrics
that exist, a role that grants nothing on "*" that has a resource-level form, and variable
validation that rejects bad input at plan time with a message that says what to fix."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from ddbstream.local import terraform as tf
from ddbstream.local.stack import WALKTHROUGH_OUTPUTS

from .conftest import (
    ARN_OUTPUTS,
    MODULE_DIR,
    config_resources,
    module_config,
    normalise,
    resources,
)

#: One xdist worker runs this module: its tests share the session's init and default plan and
#: the module's plans (tests/conftest.py).
pytestmark = [pytest.mark.terraform, pytest.mark.xdist_group("terraform-plan")]

STACK = Path(__file__).resolve().parents[2] / "terraform"
#: The secure-bucket module instances of the two buckets (modules/ddbstream/s3.tf,
#: failed_batches.tf), as resources() names them.
AUDIT = "module.audit_bucket[0]"
FAILED = "module.failed_batches_bucket[0]"

# The seed README's variables, with the seed's defaults (lambda_runtime aside: see below).
SEED_DEFAULTS: dict[str, Any] = {
    "environment": "development",
    "project_name": "stream-processing",
    "table_name": "UserActivities",
    "read_capacity": 5,
    "write_capacity": 5,
    "stream_view_type": "NEW_AND_OLD_IMAGES",
    "lambda_memory_size": 256,
    "lambda_timeout": 60,
    "enable_email_notifications": False,
    "notification_email": "",
}

# What the stack adds, with defaults the processor and the README rely on.
ADDED_DEFAULTS: dict[str, Any] = {
    "billing_mode": "PROVISIONED",
    "batch_size": 100,
    "maximum_batching_window_in_seconds": 1,
    "maximum_retry_attempts": 10,
    "maximum_record_age_in_seconds": 3600,
    "parallelization_factor": 1,
    "audit_prefix": "audit-logs/",
    "quarantine_prefix": "quarantine/",
    "notification_rules": None,
    "notification_attributes": "ActivityType,UserId",
    "metrics_namespace": "DDBStream",
    "log_level": "INFO",
    "lambda_package_path": None,
    "tags": {},
}

# alarm resource name -> (namespace, metric name, dimension key)
ALARMS: dict[str, tuple[str, str, str]] = {
    "lambda_errors": ("AWS/Lambda", "Errors", "FunctionName"),
    "lambda_duration": ("AWS/Lambda", "Duration", "FunctionName"),
    "iterator_age": ("AWS/Lambda", "IteratorAge", "FunctionName"),
    "dlq_messages": ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName"),
    "dynamodb_read_throttles": ("AWS/DynamoDB", "ReadThrottleEvents", "TableName"),
    "dynamodb_write_throttles": ("AWS/DynamoDB", "WriteThrottleEvents", "TableName"),
    "delivery_failures": ("DDBStream", "DeliveryFailures", "FunctionName"),
}

# IAM actions that have no resource-level form (Service Authorization Reference: no resource
# type), so "*" is the only Resource IAM accepts for them. Anything else on "*" is a finding.
NO_RESOURCE_LEVEL_FORM = {
    "dynamodb:ListStreams",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
}


# ---------------------------------------------------------------------------------------------
# Variables
# ---------------------------------------------------------------------------------------------


def test_seed_variables_keep_names_and_defaults(default_plan: dict[str, Any]) -> None:
    declared = default_plan["configuration"]["root_module"]["variables"]
    for name, default in {**SEED_DEFAULTS, **ADDED_DEFAULTS}.items():
        assert name in declared, f"variable {name} is missing"
        assert declared[name].get("default") == default, name


def test_lambda_runtime_default_is_supported_and_says_python39_is_retired(
    default_plan: dict[str, Any],
) -> None:
    runtime = default_plan["configuration"]["root_module"]["variables"]["lambda_runtime"]
    assert runtime["default"] in {"python3.12", "python3.13"}
    assert "python3.9" in runtime["description"] and "retired" in runtime["description"]
    fn = resources(default_plan)["aws_lambda_function.processor"]["values"]
    assert fn["runtime"] == runtime["default"]


def test_tfvars_example_sets_the_defaults(default_plan: dict[str, Any]) -> None:
    from .conftest import EXAMPLE_TFVARS

    set_in_example = re.findall(r"^([a-z_0-9]+)\s*=", EXAMPLE_TFVARS.read_text(), re.M)
    assert len(set_in_example) > 30
    declared = default_plan["configuration"]["root_module"]["variables"]
    for name in set_in_example:
        assert name in declared, f"terraform.tfvars.example sets unknown variable {name}"
        value = default_plan["variables"][name]["value"]
        assert value == declared[name].get("default"), name


def _variable_blocks() -> dict[str, str]:
    text = (MODULE_DIR / "variables.tf").read_text()
    starts = [(m.group(1), m.start()) for m in re.finditer(r'^variable "([^"]+)" \{', text, re.M)]
    ends = [s for _, s in starts[1:]] + [len(text)]
    return {name: text[start:end] for (name, start), end in zip(starts, ends, strict=True)}


def test_every_variable_is_typed_described_and_validated(default_plan: dict[str, Any]) -> None:
    """The module's inputs (where the validations live)."""
    blocks = _variable_blocks()
    declared = module_config(default_plan)["variables"]
    assert set(blocks) == set(declared)
    for name, block in blocks.items():
        assert re.search(r"^\s+type\s+=", block, re.M), f"{name} has no type"
        assert declared[name].get("description"), f"{name} has no description"
        if re.search(r"^\s+type\s+=\s+bool", block, re.M):
            continue  # true/false needs no validation
        assert "validation {" in block, f"{name} has no validation"


# Root-only: the provider's region. Root-computed: the package path's default (relative to the
# root configuration). Module-only: the options the examples show.
ROOT_ONLY = {"aws_region"}
ROOT_COMPUTED = {"lambda_package_path"}


def test_root_passes_every_variable_to_the_module_with_the_same_default(
    default_plan: dict[str, Any],
) -> None:
    root = default_plan["configuration"]["root_module"]
    module = module_config(default_plan)["variables"]
    call = root["module_calls"]["ddbstream"]["expressions"]
    for name, var in root["variables"].items():
        assert var.get("description"), f"{name} has no description"
        if name in ROOT_ONLY:
            continue
        assert name in module, f"root variable {name} is not a module input"
        assert call[name]["references"][0] == f"var.{name}", name
        if name not in ROOT_COMPUTED:
            assert var.get("default") == module[name].get("default"), name
    assert module["lambda_package_path"].get("default") is None  # required in the module


def test_root_passes_every_output_through(default_plan: dict[str, Any]) -> None:
    root = default_plan["configuration"]["root_module"]["outputs"]
    module = module_config(default_plan)["outputs"]
    for name, out in root.items():
        assert out["expression"]["references"][0] == f"module.ddbstream.{name}", name
        assert name in module


# ---------------------------------------------------------------------------------------------
# Outputs
# ---------------------------------------------------------------------------------------------


def test_outputs_of_the_walkthrough_and_the_arns(default_plan: dict[str, Any]) -> None:
    outputs = default_plan["configuration"]["root_module"]["outputs"]
    missing = {*WALKTHROUGH_OUTPUTS, *ARN_OUTPUTS} - set(outputs)
    assert not missing
    for name in outputs:
        assert outputs[name].get("description"), f"output {name} has no description"


# ---------------------------------------------------------------------------------------------
# Alarms
# ---------------------------------------------------------------------------------------------


def test_each_alarm_watches_a_real_metric(default_plan: dict[str, Any]) -> None:
    alarms = resources(default_plan, "aws_cloudwatch_metric_alarm")
    by_name = {r["index"]: r["values"] for r in alarms.values()}
    assert set(by_name) == set(ALARMS)
    for name, (namespace, metric, dimension) in ALARMS.items():
        values = by_name[name]
        assert (values["namespace"], values["metric_name"]) == (namespace, metric), name
        assert set(values["dimensions"]) == {dimension}, name
    metrics = {v["metric_name"] for v in by_name.values()}
    # The seed's alarms watched metrics that do not exist / do not mean throttling.
    assert not metrics & {"ApproximateNumberOfVisibleMessages", "UserErrors"}


def test_every_alarm_acts_on_the_alarm_topic(default_plan: dict[str, Any]) -> None:
    cfg = config_resources(default_plan)
    for address in (
        "aws_cloudwatch_metric_alarm.this",
        "aws_cloudwatch_metric_alarm.failed_batches_objects",
    ):
        expressions = cfg[address]["expressions"]
        assert expressions["alarm_actions"] == {"references": ["local.alarm_actions"]}, address
        assert expressions["ok_actions"] == {"references": ["local.alarm_actions"]}, address
    # local.alarm_actions is the alarm topic, not the change topic (one message per write):
    # checked on real values in test_apply.py.
    text = (MODULE_DIR / "monitoring.tf").read_text()
    assert re.search(r"alarm_actions\s*=\s*\[aws_sns_topic\.alarms\.arn\]", text)


def test_alarm_topic_is_encrypted_with_the_stack_key(default_plan: dict[str, Any]) -> None:
    cfg = config_resources(default_plan)
    for topic in ("aws_sns_topic.alarms", "aws_sns_topic.notifications"):
        refs = cfg[topic]["expressions"]["kms_master_key_id"]["references"]
        assert "local.kms_key_arn" in refs, topic
    outputs = default_plan["configuration"]["root_module"]["outputs"]
    assert "alarm_topic_arn" in outputs and "sns_topic_arn" in outputs


def test_email_subscribes_to_alarms_and_to_changes_only_when_asked(
    default_plan: dict[str, Any],
) -> None:
    cfg = config_resources(default_plan)
    alarms = cfg["aws_sns_topic_subscription.email"]["expressions"]
    assert "aws_sns_topic.alarms.arn" in alarms["topic_arn"]["references"]
    changes = cfg["aws_sns_topic_subscription.email_changes"]
    assert "aws_sns_topic.notifications.arn" in changes["expressions"]["topic_arn"]["references"]
    assert "var.email_change_notifications" in changes["count_expression"]["references"]
    assert "filter_policy" in changes["expressions"]


def test_duration_alarm_is_near_the_timeout(default_plan: dict[str, Any]) -> None:
    values = resources(default_plan)['aws_cloudwatch_metric_alarm.this["lambda_duration"]'][
        "values"
    ]
    assert values["statistic"] == "Maximum"
    assert values["threshold"] == pytest.approx(60 * 1000 * 0.8)


def test_dashboard_is_planned(default_plan: dict[str, Any]) -> None:
    assert "aws_cloudwatch_dashboard.main" in resources(default_plan)


# ---------------------------------------------------------------------------------------------
# IAM
# ---------------------------------------------------------------------------------------------


def test_role_grants_nothing_on_star_that_has_a_resource_level_form(
    default_plan: dict[str, Any],
) -> None:
    cfg = config_resources(default_plan)
    statements = [
        *cfg["data.aws_iam_policy_document.processor"]["expressions"]["statement"],
        # The VPC statements, present in the configuration whether or not subnet_ids is set.
        *cfg["data.aws_iam_policy_document.processor_vpc"]["expressions"]["statement"],
    ]
    on_star: set[str] = set()
    for st in statements:
        actions = set(st["actions"]["constant_value"])
        assert not any("*" in a for a in actions), f"wildcard action in {st['sid']}"
        res = st["resources"]
        if "*" in res.get("constant_value", []):
            on_star |= actions
        else:
            assert res.get("references"), f"{st['sid']}: resources are neither '*' nor refs"
    assert on_star <= NO_RESOURCE_LEVEL_FORM, on_star - NO_RESOURCE_LEVEL_FORM
    # The seed's extras are gone: no PutObjectAcl, no managed policy with streams on "*".
    all_actions = {a for st in statements for a in st["actions"]["constant_value"]}
    assert "s3:PutObjectAcl" not in all_actions
    assert not resources(default_plan, "aws_iam_role_policy_attachment")
    assert not resources(default_plan, "aws_iam_policy_attachment")


# ---------------------------------------------------------------------------------------------
# The function and its event source mapping
# ---------------------------------------------------------------------------------------------


def test_function_runs_the_package_with_its_hash(
    default_plan: dict[str, Any], lambda_zip: Path
) -> None:
    values = resources(default_plan)["aws_lambda_function.processor"]["values"]
    assert values["handler"] == "ddbstream.handler.lambda_handler"
    assert values["filename"] == str(lambda_zip)
    # filebase64sha256(): base64 of the zip's raw SHA-256 (reproducibility: test_packaging.py).
    digest = hashlib.sha256(lambda_zip.read_bytes()).digest()
    assert values["source_code_hash"] == base64.b64encode(digest).decode()
    # dead_letter_config does nothing for stream invocations: the ESM destination does it.
    assert not values.get("dead_letter_config")


def test_event_source_mapping_semantics(default_plan: dict[str, Any]) -> None:
    values = resources(default_plan)["aws_lambda_event_source_mapping.stream"]["values"]
    assert values["function_response_types"] == ["ReportBatchItemFailures"]
    assert values["bisect_batch_on_function_error"] is True
    assert values["maximum_retry_attempts"] == 10
    assert values["maximum_record_age_in_seconds"] == 3600
    assert values["parallelization_factor"] == 1
    assert values["batch_size"] == 100
    assert values["filter_criteria"] == []
    cfg = config_resources(default_plan)["aws_lambda_event_source_mapping.stream"]
    on_failure = cfg["expressions"]["destination_config"][0]["on_failure"][0]
    assert on_failure["destination_arn"]["references"] == ["local.on_failure_destination_arn"]
    locals_text = (MODULE_DIR / "failed_batches.tf").read_text()
    assert re.search(
        r"on_failure_destination_arn\s*=\s*local\.failed_batches_to_s3 \? "
        r"module\.failed_batches_bucket\[0\]\.arn : aws_sqs_queue\.dlq\.arn",
        locals_text,
    )
    # the default stays the seed's: the SQS DLQ, and no failed-batches bucket
    assert default_plan["variables"]["on_failure_destination"]["value"] == "sqs"
    assert not [a for a in resources(default_plan) if "failed_batches" in a]


@pytest.fixture(scope="module")
def s3_destination_plan(plan_workdir: Path) -> dict[str, Any]:
    from .conftest import EXAMPLE_TFVARS

    tf.plan(
        plan_workdir,
        out="s3-destination.tfplan",
        extra_args=[
            f"-var-file={EXAMPLE_TFVARS}",
            "-var=on_failure_destination=s3",
            "-var=failed_batches_retention_days=7",
        ],
    )
    return tf.show_json(plan_workdir, "s3-destination.tfplan")


def test_s3_on_failure_destination_is_private_encrypted_expiring_and_alarmed(
    s3_destination_plan: dict[str, Any],
) -> None:
    planned = resources(s3_destination_plan)
    env = _env(s3_destination_plan)
    bucket = planned[f"{FAILED}.aws_s3_bucket.this"]["values"]["bucket"]
    assert bucket == f"stream-processing-{env}-failed-123456789012-us-east-1"
    sse = planned[f"{FAILED}.aws_s3_bucket_server_side_encryption_configuration.this"]
    (rule,) = sse["values"]["rule"]
    assert rule["apply_server_side_encryption_by_default"][0]["sse_algorithm"] == "aws:kms"
    assert rule["bucket_key_enabled"] is True
    pab = planned[f"{FAILED}.aws_s3_bucket_public_access_block.this"]["values"]
    assert all(pab[k] for k in ("block_public_acls", "block_public_policy", "ignore_public_acls"))
    assert pab["restrict_public_buckets"] is True
    lifecycle = planned[f"{FAILED}.aws_s3_bucket_lifecycle_configuration.this"]["values"]
    expire = next(r for r in lifecycle["rule"] if r["id"] == "expire-failed-batches")
    assert expire["filter"][0]["prefix"] == "aws/lambda/"  # where Lambda writes (AWS's layout)
    assert expire["expiration"][0]["days"] == 7
    metric = planned["aws_s3_bucket_metric.failed_batches[0]"]["values"]
    assert metric["filter"][0]["prefix"] == "aws/lambda/"
    alarm = planned["aws_cloudwatch_metric_alarm.failed_batches_objects[0]"]["values"]
    assert (alarm["namespace"], alarm["metric_name"], alarm["statistic"]) == (
        "AWS/S3",
        "PutRequests",
        "Sum",
    )
    assert alarm["dimensions"] == {"BucketName": bucket, "FilterId": metric["name"]}
    assert alarm["threshold"] == 1
    assert "`ddbstream dlq replay`" in alarm["alarm_description"]
    # the role may write the bucket's aws/lambda/ objects and list it (AWS's documented pair),
    # and no longer send to the DLQ
    iam = (MODULE_DIR / "iam.tf").read_text()
    assert re.search(
        r"for_each = local\.failed_batches_to_s3 \? \[\] : \[aws_sqs_queue\.dlq\.arn\]", iam
    )
    assert 'resources = ["${statement.value}/${local.failed_batches_prefix}*"]' in iam
    assert '"s3:ListBucket"' in iam


def test_table_stream_recovery_and_encryption(default_plan: dict[str, Any]) -> None:
    values = resources(default_plan)["aws_dynamodb_table.activities[0]"]["values"]
    assert values["name"] == f"stream-processing-{_env(default_plan)}-UserActivities"
    assert (values["hash_key"], values["range_key"]) == ("UserId", "ActivityId")
    assert values["stream_enabled"] is True
    assert values["stream_view_type"] == "NEW_AND_OLD_IMAGES"
    assert values["point_in_time_recovery"][0]["enabled"] is True
    assert values["server_side_encryption"][0]["enabled"] is True


def test_the_two_table_resources_differ_only_in_what_auto_scaling_owns(
    default_plan: dict[str, Any],
) -> None:
    """dynamodb.tf has two table resources because ignore_changes cannot be conditional (the
    auto-scaled one ignores the capacity Application Auto Scaling sets). Every argument and
    block must stay the same in both: an edit made to one only would change the table when
    autoscaling_enabled is switched (a state move, terraform/README.md)."""
    cfg = config_resources(default_plan)
    plain = cfg["aws_dynamodb_table.activities"]
    scaled = cfg["aws_dynamodb_table.activities_autoscaled"]
    assert plain["expressions"] == scaled["expressions"]
    assert {"name", "attribute", "server_side_encryption"} <= set(plain["expressions"])
    # The plan's configuration leaves out dynamic blocks (replica) and preconditions: the
    # source of the two, less count, checkov's skip and ignore_changes, must be the same too.
    text = (MODULE_DIR / "dynamodb.tf").read_text()
    bodies = [
        [
            line
            for line in body.splitlines()
            if line.strip() and not re.match(r"\s*(count =|# checkov:skip|ignore_changes =)", line)
        ]
        for body in re.findall(
            r'^resource "aws_dynamodb_table" "\w+" \{\n(.*?)^\}', text, re.S | re.M
        )
    ]
    assert len(bodies) == 2 and any("replica" in line for line in bodies[0])
    assert bodies[0] == bodies[1]
    assert text.count("ignore_changes = [read_capacity, write_capacity]") == 1


def test_the_key_is_destroyed_only_after_the_bucket(default_plan: dict[str, Any]) -> None:
    """Destroy runs in reverse dependency order: with depends_on on the key, a destroy that
    fails at the non-empty audit bucket (s3_force_destroy = false) never reaches the key, so
    the kept objects stay readable. Everything else encrypted with it references the key."""
    cfg = config_resources(default_plan)
    for call in ("audit_bucket", "failed_batches_bucket"):
        bucket_call = module_config(default_plan)["module_calls"][call]
        assert "local.kms_key_arn" in bucket_call["expressions"]["kms_key_arn"]["references"]
        (bucket,) = [
            r for r in bucket_call["module"]["resources"] if r["address"] == "aws_s3_bucket.this"
        ]
        assert "var.kms_key_arn" in bucket.get("depends_on", []), call
    for address in (
        "aws_dynamodb_table.activities",
        "aws_sns_topic.notifications",
        "aws_sns_topic.alarms",
        "aws_cloudwatch_log_group.processor",
        "aws_lambda_function.processor",
    ):
        text = json.dumps(cfg[address]["expressions"]) + json.dumps(cfg[address].get("depends_on"))
        assert "local.kms_key_arn" in text or "aws_kms_key.main" in text, address


def test_bucket_lifecycle_keeps_small_objects_in_standard_then_expires(
    default_plan: dict[str, Any],
) -> None:
    """Audit objects are far below 128 KB (terraform/README.md, "Audit log lifecycle"): by
    default no transition, only expiry; tiering is opt-in."""
    values = resources(default_plan)[f"{AUDIT}.aws_s3_bucket_lifecycle_configuration.this"][
        "values"
    ]
    rule = next(r for r in values["rule"] if r["id"] == "audit-log-retention")
    assert rule["filter"][0]["prefix"] == "audit-logs/"
    assert rule["transition"] == []
    assert rule["expiration"][0]["days"] == 365
    assert rule["noncurrent_version_expiration"][0]["noncurrent_days"] == 30


def test_bucket_lifecycle_tiers_when_asked(plan_workdir: Path) -> None:
    variables = {"s3_transition_ia_days": "30", "s3_transition_glacier_days": "60"}
    args = [f"-var={k}={v}" for k, v in variables.items()]
    tf.plan(plan_workdir, out="tiering.tfplan", extra_args=args)
    plan = tf.show_json(plan_workdir, "tiering.tfplan")
    values = resources(plan)[f"{AUDIT}.aws_s3_bucket_lifecycle_configuration.this"]["values"]
    rule = next(r for r in values["rule"] if r["id"] == "audit-log-retention")
    assert {(t["storage_class"], t["days"]) for t in rule["transition"]} == {
        ("STANDARD_IA", 30),
        ("GLACIER", 60),
    }


def test_only_the_aws_provider(default_plan: dict[str, Any]) -> None:
    assert set(default_plan["configuration"]["provider_config"]) == {"aws"}
    providers = {rc["provider_name"] for rc in default_plan["resource_changes"]}
    assert providers == {"registry.terraform.io/hashicorp/aws"}


def _env(plan: dict[str, Any]) -> str:
    return str(plan["variables"]["environment"]["value"])


# ---------------------------------------------------------------------------------------------
# Validation at plan time
# ---------------------------------------------------------------------------------------------

# Each case: a variable set to a bad value, and the message that must say what to fix. All of
# them go into ONE plan (Terraform reports every failed validation at once), which keeps the
# suite fast: each plan starts the AWS provider, a few seconds on its own.
INVALID: list[tuple[str, str, str]] = [
    ("batch_size", "10001", "batch_size must be a whole number from 1 to 10000"),
    ("stream_view_type", "EVERYTHING", "stream_view_type must be one of KEYS_ONLY, NEW_IMAGE"),
    ("lambda_runtime", "python3.9", "python3.9 (the seed's default) is retired"),
    ("billing_mode", "ON_DEMAND", 'billing_mode must be "PROVISIONED" or "PAY_PER_REQUEST"'),
    ("parallelization_factor", "11", "parallelization_factor must be a whole number from 1"),
    ("notification_rules", "{not json", "notification_rules must be null or a valid JSON"),
    ("s3_transition_ia_days", "29", "s3_transition_ia_days must be 0 (no Standard-IA"),
    ("maximum_record_age_in_seconds", "30", "must be -1 (no limit) or from 60 to 604800"),
    ("audit_prefix", "/audit", 'audit_prefix must be a non-empty S3 key prefix ending in "/"'),
    (
        "autoscaling_target_utilization",
        "95",
        "autoscaling_target_utilization must be from 20 to 90",
    ),
    ("vpc_route_table_ids", '["rt-1"]', "vpc_route_table_ids must hold route table ids"),
    (
        "security_group_ids",
        '["sg-0123456789abcdef0"]',
        "subnet_ids and security_group_ids go together",
    ),
    (
        "notification_email",
        "",
        "enable_email_notifications is true but notification_email is empty or malformed",
    ),
]


def _failed_plan(workdir: Path, variables: dict[str, str]) -> str:
    args = [f"-var={k}={v}" for k, v in variables.items()]
    result = tf.run(workdir, "plan", "-input=false", "-no-color", *args, check=False)
    assert result.returncode == 1, result.stdout
    return normalise(result.stderr)


@pytest.fixture(scope="module")
def invalid_plan_errors(plan_workdir: Path) -> str:
    variables = {name: value for name, value, _ in INVALID}
    variables["enable_email_notifications"] = "true"
    return _failed_plan(plan_workdir, variables)


@pytest.mark.parametrize(("name", "value", "message"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_input_is_rejected_at_plan_time(
    invalid_plan_errors: str, name: str, value: str, message: str
) -> None:
    assert "Invalid value for variable" in invalid_plan_errors
    assert message in invalid_plan_errors, invalid_plan_errors


@pytest.mark.parametrize(
    ("name", "messages"),
    [
        # One name breaking three rules: each validation reports on its own, in one plan.
        (
            "xn--a..b-s3alias",
            ["S3 reserves the prefixes", "two adjacent periods", "reserved suffix"],
        ),
        ("192.168.5.4", ["formatted as an IP address"]),
    ],
    ids=["prefix-periods-suffix", "ip-address"],
)
def test_audit_bucket_names_s3_refuses_are_rejected(
    plan_workdir: Path, name: str, messages: list[str]
) -> None:
    text = _failed_plan(plan_workdir, {"audit_bucket_name": name})
    for message in messages:
        assert message in text, text


def test_glacier_less_than_30_days_after_standard_ia_is_rejected(plan_workdir: Path) -> None:
    """S3 refuses a rule whose GLACIER transition comes less than 30 days after its
    STANDARD_IA one; the seed's check (later than IA) let 31-59 through with IA at 30."""
    text = _failed_plan(
        plan_workdir, {"s3_transition_ia_days": "30", "s3_transition_glacier_days": "59"}
    )
    assert (
        "s3_transition_glacier_days must be 0 (no Glacier transition) or at least "
        "s3_transition_ia_days + 30" in text
    ), text


def test_project_name_with_a_prefix_s3_reserves_is_rejected(plan_workdir: Path) -> None:
    text = _failed_plan(plan_workdir, {"project_name": "xn--audit"})
    assert "project_name must not start with xn--, sthree- or amzn-s3-demo-" in text, text


def test_iam_role_name_over_64_characters_names_the_variables_to_shorten(
    tmp_path: Path, plan_workdir: Path, moto_endpoint: str, base_variables: dict[str, Any]
) -> None:
    """project_name (24) + environment (16) are each valid, but with a 14-character region
    the role name project-environment-processor-REGION is 66 characters; IAM allows 64."""
    from .conftest import clone_init

    wd = tf.prepare_workdir(tmp_path / "wd", moto_endpoint, base_variables, region="ap-southeast-2")
    clone_init(plan_workdir, wd)
    text = _failed_plan(
        wd,
        {"project_name": "p" * 24, "environment": "e" * 16, "audit_bucket_name": "some-bucket"},
    )
    assert "IAM role name" in text and "66 characters" in text, text
    assert "shorten project_name or environment" in text, text


def test_malformed_email_is_rejected(plan_workdir: Path) -> None:
    text = _failed_plan(
        plan_workdir,
        {"enable_email_notifications": "true", "notification_email": "not-an-address"},
    )
    assert "notification_email must be empty or an email address such as" in text


def test_precondition_rejects_an_overlong_bucket_name(plan_workdir: Path) -> None:
    text = _failed_plan(plan_workdir, {"project_name": "a" * 24, "environment": "b" * 16})
    assert "shorten project_name or environment, or set audit_bucket_name" in text


def test_precondition_rejects_a_missing_package(plan_workdir: Path, tmp_path: Path) -> None:
    text = _failed_plan(plan_workdir, {"lambda_package_path": str(tmp_path / "nothing.zip")})
    assert "build it with `make package`" in text


# ---------------------------------------------------------------------------------------------
# The seed's "Advanced Configuration": private VPC, auto scaling, global table (one plan)
# ---------------------------------------------------------------------------------------------

SUBNETS = ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]
GROUP = "sg-0123456789abcdef0"
OPTIONS = {
    "subnet_ids": json.dumps(SUBNETS),
    "security_group_ids": json.dumps([GROUP]),
    "vpc_id": "vpc-0123456789abcdef0",
    "vpc_endpoints": '["s3", "sns"]',
    "vpc_route_table_ids": '["rtb-0123456789abcdef0"]',
    "autoscaling_enabled": "true",
    "autoscaling_read_max_capacity": "200",
    "replicas": '[{region_name = "us-west-2"}]',
}


@pytest.fixture(scope="module")
def options_plan(plan_workdir: Path) -> dict[str, Any]:
    args = [f"-var={k}={v}" for k, v in OPTIONS.items()]
    tf.plan(plan_workdir, out="options.tfplan", extra_args=args)
    return tf.show_json(plan_workdir, "options.tfplan")


def test_vpc_function_and_network_interface_permissions(options_plan: dict[str, Any]) -> None:
    planned = resources(options_plan)
    vpc = planned["aws_lambda_function.processor"]["values"]["vpc_config"][0]
    assert sorted(vpc["subnet_ids"]) == sorted(SUBNETS)
    assert vpc["security_group_ids"] == [GROUP]
    policy = json.loads(planned["aws_iam_role_policy.processor_vpc[0]"]["values"]["policy"])
    by_sid = {st["Sid"]: st for st in policy["Statement"]}
    create = by_sid["CreateInterfacesInTheseSubnetsOnly"]
    resources_ = (
        create["Resource"] if isinstance(create["Resource"], list) else [create["Resource"]]
    )
    assert {r.rsplit("/", 1)[1] for r in resources_ if ":subnet/" in r} == set(SUBNETS)
    assert next(r for r in resources_ if ":security-group/" in r).endswith(GROUP)
    assert by_sid["DescribeHasNoResourceLevelForm"]["Resource"] == "*"
    # The function waits for these permissions (and outlives them on destroy).
    cfg = config_resources(options_plan)["aws_lambda_function.processor"]
    assert "aws_iam_role_policy.processor_vpc" in cfg["depends_on"]


def test_vpc_endpoints_admit_only_this_stacks_calls(options_plan: dict[str, Any]) -> None:
    planned = resources(options_plan)
    s3 = planned["aws_vpc_endpoint.s3[0]"]["values"]
    assert (s3["vpc_endpoint_type"], s3["service_name"]) == (
        "Gateway",
        "com.amazonaws.us-east-1.s3",
    )
    assert s3["route_table_ids"] == ["rtb-0123456789abcdef0"]
    sns = planned["aws_vpc_endpoint.sns[0]"]["values"]
    assert (sns["vpc_endpoint_type"], sns["private_dns_enabled"]) == ("Interface", True)
    (rule,) = planned["aws_security_group.endpoints[0]"]["values"]["ingress"]
    assert (rule["from_port"], rule["to_port"], rule["security_groups"]) == (443, 443, [GROUP])
    cfg = config_resources(options_plan)
    for doc, action in (("s3_endpoint", "s3:PutObject"), ("sns_endpoint", "sns:Publish")):
        (st,) = cfg[f"data.aws_iam_policy_document.{doc}"]["expressions"]["statement"]
        assert st["actions"]["constant_value"] == [action], doc
        assert "*" not in json.dumps(st["resources"].get("constant_value", [])), doc


def test_autoscaling_tracks_read_and_write_utilisation(options_plan: dict[str, Any]) -> None:
    planned = resources(options_plan)
    assert "aws_dynamodb_table.activities[0]" not in planned
    table = planned["aws_dynamodb_table.activities_autoscaled[0]"]["values"]
    assert (table["read_capacity"], table["write_capacity"]) == (5, 5)
    targets = {
        r["values"]["scalable_dimension"]: r["values"]
        for r in resources(options_plan, "aws_appautoscaling_target").values()
    }
    assert targets["dynamodb:table:ReadCapacityUnits"]["max_capacity"] == 200
    assert targets["dynamodb:table:WriteCapacityUnits"]["min_capacity"] == 5
    metrics = set()
    for r in resources(options_plan, "aws_appautoscaling_policy").values():
        v = r["values"]
        assert v["policy_type"] == "TargetTrackingScaling"
        conf = v["target_tracking_scaling_policy_configuration"][0]
        assert conf["target_value"] == 70
        metrics.add(conf["predefined_metric_specification"][0]["predefined_metric_type"])
    assert metrics == {"DynamoDBReadCapacityUtilization", "DynamoDBWriteCapacityUtilization"}


def test_global_table_replica_with_streams(options_plan: dict[str, Any]) -> None:
    table = resources(options_plan)["aws_dynamodb_table.activities_autoscaled[0]"]["values"]
    assert [r["region_name"] for r in table["replica"]] == ["us-west-2"]
    assert table["stream_enabled"] is True
    assert table["stream_view_type"] == "NEW_AND_OLD_IMAGES"


def test_options_that_do_not_fit_together_are_rejected(plan_workdir: Path) -> None:
    # Each check in its own variable, none of them referring to another invalid one (Terraform
    # skips a validation whose other variables are invalid); subnet_ids without
    # security_group_ids is in INVALID.
    text = _failed_plan(
        plan_workdir,
        {
            "vpc_endpoints": '["sns"]',  # without subnet_ids and vpc_id
            "replicas": '[{region_name = "us-west-2"}]',  # PROVISIONED without auto scaling
        },
    )
    assert "vpc_endpoints needs the function in a VPC" in text, text
    assert "replicas of a PROVISIONED table need autoscaling_enabled = true" in text, text


def test_a_replica_in_the_deployments_own_region_is_rejected(plan_workdir: Path) -> None:
    text = _failed_plan(
        plan_workdir,
        {"billing_mode": "PAY_PER_REQUEST", "replicas": '[{region_name = "us-east-1"}]'},
    )
    assert "replicas names us-east-1, the deployment's own region" in text, text


# ---------------------------------------------------------------------------------------------
# terraform/README.md's tables match the code
# ---------------------------------------------------------------------------------------------


def _readme_rows(section: str) -> dict[str, list[str]]:
    text = (STACK / "README.md").read_text()
    body = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in body.splitlines():
        m = re.match(r"^\| `([a-z0-9_]+)` \|(.*)\|$", line)
        if m:
            rows[m.group(1)] = [c.strip() for c in m.group(2).split(" | ")]
    return rows


def test_readme_inputs_table_matches_the_variables(default_plan: dict[str, Any]) -> None:
    declared = default_plan["configuration"]["root_module"]["variables"]
    rows = _readme_rows("Inputs")
    assert set(rows) == set(declared)
    for name, cells in rows.items():
        default = declared[name].get("default")
        shown = cells[1].strip("`")
        assert json.loads(shown) == default, f"README default of {name}: {shown}"


def test_readme_module_only_inputs_table_matches_the_module(default_plan: dict[str, Any]) -> None:
    root = default_plan["configuration"]["root_module"]["variables"]
    module = module_config(default_plan)["variables"]
    rows = _readme_rows("Module-only inputs")
    assert set(rows) == set(module) - set(root)
    for name, cells in rows.items():
        shown = cells[1].strip("`")
        assert json.loads(shown) == module[name].get("default"), f"README default of {name}"


def test_readme_outputs_table_matches_the_outputs(default_plan: dict[str, Any]) -> None:
    outputs = default_plan["configuration"]["root_module"]["outputs"]
    assert set(_readme_rows("Outputs")) == set(outputs)


def test_athena_table_projects_the_processors_key_layout(default_plan: dict[str, Any]) -> None:
    values = resources(default_plan)["aws_glue_catalog_table.audit_log[0]"]["values"]
    params = values["parameters"]
    assert params["projection.enabled"] == "true"
    template = params["storage.location.template"]
    assert template.endswith(
        "/audit-logs/table=${source_table}/year=${year}/month=${month}/day=${day}/hour=${hour}/"
    )
    assert [k["name"] for k in values["partition_keys"]] == [
        "source_table",
        "year",
        "month",
        "day",
        "hour",
    ]
    columns = {c["name"] for c in values["storage_descriptor"][0]["columns"]}
    assert {"event_id", "event_name", "keys", "new_image", "old_image", "event_time"} <= columns
