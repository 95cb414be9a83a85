resource "aws_dynamodb_table" "activities" {
  # checkov:skip=CKV2_AWS_16:Auto scaling is not part of this stack; choose billing_mode = "PAY_PER_REQUEST" for load that varies.
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

  tags = local.tags
}
