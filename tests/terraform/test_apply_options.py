"""The seed's "Advanced Configuration" applied to the emulator: the function in a VPC's
private subnets with the S3 and SNS endpoints, and read/write auto scaling of a provisioned
table. The VPC, subnets, security group and route table are made in the emulator first, as an
existing VPC would be. (Global table replicas are checked by plans only: the emulator does not
replicate tables across regions.)"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ddbstream.local import terraform as tf

from .test_apply import check_previous_module_version_only_moves

pytestmark = [pytest.mark.slow, pytest.mark.terraform]

ENVIRONMENT = "tfoptions"


@pytest.fixture
def existing_vpc(aws_client: Callable[[str], Any]) -> dict[str, Any]:
    ec2 = aws_client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.42.{i}.0/24", AvailabilityZone=zone)["Subnet"][
            "SubnetId"
        ]
        for i, zone in enumerate(["us-east-1a", "us-east-1b"])
    ]
    group = ec2.create_security_group(
        GroupName="ddbstream-fn", Description="the function", VpcId=vpc
    )["GroupId"]
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    return {"vpc": vpc, "subnets": subnets, "group": group, "route_table": table}


def test_vpc_endpoints_and_autoscaling_apply(
    make_workdir: Callable[[str, dict[str, Any]], Path],
    lambda_zip: Path,
    aws_client: Callable[[str], Any],
    existing_vpc: dict[str, Any],
) -> None:
    v = existing_vpc
    variables: dict[str, Any] = {
        "lambda_package_path": str(lambda_zip),
        "environment": ENVIRONMENT,
        "s3_force_destroy": True,
        "kms_key_deletion_window_days": 7,
        "enable_athena_table": False,
        "subnet_ids": v["subnets"],
        "security_group_ids": [v["group"]],
        "vpc_id": v["vpc"],
        "vpc_endpoints": ["s3", "sns"],
        "vpc_route_table_ids": [v["route_table"]],
        "autoscaling_enabled": True,
        "autoscaling_read_max_capacity": 50,
        "autoscaling_write_max_capacity": 50,
        # The S3 on-failure destination: its bucket is applied too (the default stack's DLQ
        # is SQS), and the upgrade from the module before secure-bucket is planned below.
        "on_failure_destination": "s3",
    }
    wd = make_workdir("tf-options", variables)
    try:
        out = tf.values_of(tf.apply(wd))

        fn = aws_client("lambda").get_function_configuration(
            FunctionName=out["lambda_function_name"]
        )
        assert sorted(fn["VpcConfig"]["SubnetIds"]) == sorted(v["subnets"])
        assert fn["VpcConfig"]["SecurityGroupIds"] == [v["group"]]

        iam = aws_client("iam")
        role = out["lambda_role_arn"].rsplit("/", 1)[1]
        assert len(iam.list_role_policies(RoleName=role)["PolicyNames"]) == 2

        ec2 = aws_client("ec2")
        endpoints = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [v["vpc"]]}])[
            "VpcEndpoints"
        ]
        by_service = {e["ServiceName"].rsplit(".", 1)[1]: e for e in endpoints}
        assert set(by_service) == {"s3", "sns"}
        assert by_service["s3"]["VpcEndpointType"] == "Gateway"
        s3_policy = json.loads(by_service["s3"]["PolicyDocument"])
        assert {a for st in s3_policy["Statement"] for a in [st["Action"]]} == {"s3:PutObject"}

        scaling = aws_client("application-autoscaling")
        targets = scaling.describe_scalable_targets(
            ServiceNamespace="dynamodb",
            ResourceIds=[f"table/{out['dynamodb_table_name']}"],
        )["ScalableTargets"]
        assert {t["ScalableDimension"]: t["MaxCapacity"] for t in targets} == {
            "dynamodb:table:ReadCapacityUnits": 50,
            "dynamodb:table:WriteCapacityUnits": 50,
        }
        policies = scaling.describe_scaling_policies(ServiceNamespace="dynamodb")["ScalingPolicies"]
        ours = [p for p in policies if p["ResourceId"] == f"table/{out['dynamodb_table_name']}"]
        assert {p["PolicyType"] for p in ours} == {"TargetTrackingScaling"}
        assert len(ours) == 2

        # A second plan sees no changes (the auto-scaled table ignores its capacity).
        if tf.plan(wd, out="second.tfplan"):
            drift = {
                rc["address"]: sorted(
                    k
                    for k in rc["change"]["after"] or {}
                    if (rc["change"]["after"] or {}).get(k) != (rc["change"]["before"] or {}).get(k)
                )
                for rc in tf.show_json(wd, "second.tfplan")["resource_changes"]
                if rc["change"]["actions"] != ["no-op"]
            }
            pytest.fail(f"second plan wants changes: {drift}")

        mapping = aws_client("lambda").get_event_source_mapping(
            UUID=out["event_source_mapping_uuid"]
        )
        failed = mapping["DestinationConfig"]["OnFailure"]["Destination"]
        assert failed == f"arn:aws:s3:::{out['failed_batches_bucket_name']}"
        s3 = aws_client("s3")
        block = s3.get_public_access_block(Bucket=out["failed_batches_bucket_name"])
        assert all(block["PublicAccessBlockConfiguration"].values())

        # Both buckets came into secure-bucket modules: an older state moves, nothing else.
        check_previous_module_version_only_moves(wd, make_workdir("tf-options-moved", variables))
    finally:
        tf.destroy(wd)
