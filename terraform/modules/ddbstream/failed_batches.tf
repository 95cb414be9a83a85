# The S3 on-failure destination (on_failure_destination = "s3"; the default stays the SQS DLQ).
# Unlike SQS and SNS, Lambda writes the failed batch's records into the object (the invocation
# record's "payload"), so `ddbstream dlq replay` can recover them after the stream has trimmed
# them (24 h). Objects land under aws/lambda/<ESM-UUID>/<shardID>/YYYY/MM/DD/... (AWS's naming).
# Encrypted with the stack's key, private, TLS only, kept failed_batches_retention_days days; an
# alarm fires when objects arrive (S3 request metrics, filtered to the aws/lambda/ prefix).

locals {
  failed_batches_to_s3       = var.on_failure_destination == "s3"
  failed_batches_bucket      = "${local.name_prefix}-failed-${local.account_id}-${local.region}"
  failed_batches_prefix      = "aws/lambda/"
  failed_batches_metric      = "on-failure-objects"
  on_failure_destination_arn = local.failed_batches_to_s3 ? module.failed_batches_bucket[0].arn : aws_sqs_queue.dlq.arn
}

module "failed_batches_bucket" {
  source = "./modules/secure-bucket"
  count  = local.failed_batches_to_s3 ? 1 : 0

  bucket        = local.failed_batches_bucket
  force_destroy = var.s3_force_destroy
  kms_key_arn   = local.kms_key_arn
  tags          = local.tags

  name_checks = [
    {
      condition     = length(local.failed_batches_bucket) <= 63
      error_message = "The failed-batches bucket name is longer than 63 characters; shorten project_name or environment."
    },
  ]

  # Kept failed_batches_retention_days days: long enough to replay, not an archive.
  lifecycle_rule_id                  = "expire-failed-batches"
  lifecycle_prefix                   = local.failed_batches_prefix
  expiration_days                    = var.failed_batches_retention_days
  noncurrent_version_expiration_days = 1
  abort_incomplete_upload_days       = 1
}

# Upgrading a deployment made before the bucket became the secure-bucket module.
moved {
  from = aws_s3_bucket.failed_batches[0]
  to   = module.failed_batches_bucket[0].aws_s3_bucket.this
}

moved {
  from = aws_s3_bucket_ownership_controls.failed_batches[0]
  to   = module.failed_batches_bucket[0].aws_s3_bucket_ownership_controls.this
}

moved {
  from = aws_s3_bucket_public_access_block.failed_batches[0]
  to   = module.failed_batches_bucket[0].aws_s3_bucket_public_access_block.this
}

moved {
  from = aws_s3_bucket_versioning.failed_batches[0]
  to   = module.failed_batches_bucket[0].aws_s3_bucket_versioning.this
}

moved {
  from = aws_s3_bucket_server_side_encryption_configuration.failed_batches[0]
  to   = module.failed_batches_bucket[0].aws_s3_bucket_server_side_encryption_configuration.this
}

moved {
  from = aws_s3_bucket_policy.failed_batches[0]
  to   = module.failed_batches_bucket[0].aws_s3_bucket_policy.this
}

moved {
  from = aws_s3_bucket_lifecycle_configuration.failed_batches[0]
  to   = module.failed_batches_bucket[0].aws_s3_bucket_lifecycle_configuration.this
}

# Request metrics for the objects Lambda writes (AWS/S3 PutRequests, dimension FilterId).
resource "aws_s3_bucket_metric" "failed_batches" {
  count = local.failed_batches_to_s3 ? 1 : 0

  bucket = module.failed_batches_bucket[0].id
  name   = local.failed_batches_metric

  filter {
    prefix = local.failed_batches_prefix
  }
}

resource "aws_cloudwatch_metric_alarm" "failed_batches_objects" {
  count = local.failed_batches_to_s3 ? 1 : 0

  alarm_name          = "${local.alarm_name_prefix}failed-batches-objects"
  alarm_description   = "Failed batches reached s3://${local.failed_batches_bucket}/${local.failed_batches_prefix} (the objects hold the records): replay them with `ddbstream dlq replay` (on AWS: `ddbstream dlq replay --terraform-dir DIR`)."
  namespace           = "AWS/S3"
  metric_name         = "PutRequests"
  dimensions          = { BucketName = module.failed_batches_bucket[0].bucket, FilterId = local.failed_batches_metric }
  statistic           = "Sum"
  period              = var.alarm_period_seconds
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  tags = local.tags

  depends_on = [aws_s3_bucket_metric.failed_batches]
}
