# The table. Two resources, one of which exists: with auto scaling (autoscaling.tf) the
# capacity is Application Auto Scaling's to change, so that table ignores the capacity it
# finds (ignore_changes cannot be conditional). Switching an existing table between the two
# is a state move, not a new table: see terraform/README.md, "DynamoDB auto scaling".
# Everything but that lifecycle line must stay the same in both (an edit to one only would
# change the table when autoscaling_enabled is switched): tests/terraform/test_contract.py
# compares the two.

locals {
  table = local.autoscaling ? aws_dynamodb_table.activities_autoscaled[0] : aws_dynamodb_table.activities[0]
}

# Before auto scaling the table had no count: a deployment made with the module then has it
# at aws_dynamodb_table.activities. Without this block the next apply destroys that table (and
# its items) and creates an empty one at [0] (checked: Terraform made no implicit move to [0]
# here; tests/terraform/test_apply.py plans that upgrade). Keep it.
moved {
  from = aws_dynamodb_table.activities
  to   = aws_dynamodb_table.activities[0]
}

resource "aws_dynamodb_table" "activities" {
  count = local.autoscaling ? 0 : 1

  # checkov:skip=CKV2_AWS_16:Auto scaling is optional (autoscaling_enabled, the activities_autoscaled table); on-demand billing (PAY_PER_REQUEST) needs none.
  name         = local.table_name
  billing_mode = var.billing_mode
  hash_key     = "UserId"
  range_key    = "ActivityId"

  read_capacity  = var.billing_mode == "PROVISIONED" ? var.read_capacity : null
  write_capacity = var.billing_mode == "PROVISIONED" ? var.write_capacity : null

  stream_enabled   = true
  stream_view_type = var.stream_view_type

  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "UserId"
    type = "S"
  }

  attribute {
    name = "ActivityId"
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = local.kms_key_arn
  }

  # Global table (version 2019.11.21): a replica per region, each with its own stream.
  dynamic "replica" {
    for_each = var.replicas
    content {
      region_name            = replica.value.region_name
      kms_key_arn            = replica.value.kms_key_arn
      point_in_time_recovery = replica.value.point_in_time_recovery
      propagate_tags         = true
    }
  }

  tags = local.tags

  lifecycle {
    precondition {
      condition     = !contains([for r in var.replicas : r.region_name], local.region)
      error_message = "replicas names ${local.region}, the deployment's own region: list only the other regions."
    }
  }
}

resource "aws_dynamodb_table" "activities_autoscaled" {
  count = local.autoscaling ? 1 : 0

  # checkov:skip=CKV2_AWS_16:This table exists only with autoscaling_enabled, and then autoscaling.tf attaches its read and write targets; checkov does not follow the count (it flags module calls where the table is not created).

  name         = local.table_name
  billing_mode = var.billing_mode
  hash_key     = "UserId"
  range_key    = "ActivityId"

  read_capacity  = var.billing_mode == "PROVISIONED" ? var.read_capacity : null
  write_capacity = var.billing_mode == "PROVISIONED" ? var.write_capacity : null

  stream_enabled   = true
  stream_view_type = var.stream_view_type

  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "UserId"
    type = "S"
  }

  attribute {
    name = "ActivityId"
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = local.kms_key_arn
  }

  # Global table (version 2019.11.21): a replica per region, each with its own stream.
  dynamic "replica" {
    for_each = var.replicas
    content {
      region_name            = replica.value.region_name
      kms_key_arn            = replica.value.kms_key_arn
      point_in_time_recovery = replica.value.point_in_time_recovery
      propagate_tags         = true
    }
  }

  tags = local.tags

  lifecycle {
    ignore_changes = [read_capacity, write_capacity]
    precondition {
      condition     = !contains([for r in var.replicas : r.region_name], local.region)
      error_message = "replicas names ${local.region}, the deployment's own region: list only the other regions."
    }
  }
}
