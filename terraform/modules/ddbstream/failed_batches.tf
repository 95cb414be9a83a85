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
  on_failure_destination_arn = local.failed_batches_to_s3 ? aws_s3_bucket.failed_batches[0].arn : aws_sqs_queue.dlq.arn
}

resource "aws_s3_bucket" "failed_batches" {
  count = local.failed_batches_to_s3 ? 1 : 0

  # checkov:skip=CKV_AWS_18:Server access logging needs a second, log-receiving bucket; Lambda's event source mapping is the only writer.
  # checkov:skip=CKV_AWS_144:Cross-region replication is a disaster-recovery choice outside this stack; these objects are kept days, not years.
  # checkov:skip=CKV2_AWS_62:Arrivals are watched by the failed_batches_objects alarm (request metrics) rather than event notifications.
  bucket        = local.failed_batches_bucket
  force_destroy = var.s3_force_destroy

  lifecycle {
    precondition {
      condition     = length(local.failed_batches_bucket) <= 63
      error_message = "The failed-batches bucket name is longer than 63 characters; shorten project_name or environment."
    }
  }

  tags = local.tags
}

resource "aws_s3_bucket_ownership_controls" "failed_batches" {
  count = local.failed_batches_to_s3 ? 1 : 0

  bucket = aws_s3_bucket.failed_batches[0].id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "failed_batches" {
  count = local.failed_batches_to_s3 ? 1 : 0

  bucket                  = aws_s3_bucket.failed_batches[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "failed_batches" {
  count = local.failed_batches_to_s3 ? 1 : 0

  bucket = aws_s3_bucket.failed_batches[0].id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "failed_batches" {
  count = local.failed_batches_to_s3 ? 1 : 0

  bucket = aws_s3_bucket.failed_batches[0].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = local.kms_key_arn
    }
    bucket_key_enabled = true
  }
}

data "aws_iam_policy_document" "failed_batches_bucket" {
  count = local.failed_batches_to_s3 ? 1 : 0

  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.failed_batches[0].arn,
      "${aws_s3_bucket.failed_batches[0].arn}/*",
    ]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "failed_batches" {
  count = local.failed_batches_to_s3 ? 1 : 0

  bucket = aws_s3_bucket.failed_batches[0].id
  policy = data.aws_iam_policy_document.failed_batches_bucket[0].json

  depends_on = [aws_s3_bucket_public_access_block.failed_batches]
}

resource "aws_s3_bucket_lifecycle_configuration" "failed_batches" {
  count = local.failed_batches_to_s3 ? 1 : 0

  bucket = aws_s3_bucket.failed_batches[0].id

  rule {
    id     = "expire-failed-batches"
    status = "Enabled"

    filter {
      prefix = local.failed_batches_prefix
    }

    expiration {
      days = var.failed_batches_retention_days
    }

    noncurrent_version_expiration {
      noncurrent_days = 1
    }
  }

  rule {
    id     = "abort-incomplete-uploads"
    status = "Enabled"

    filter {
      prefix = ""
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  depends_on = [aws_s3_bucket_versioning.failed_batches]
}

# Request metrics for the objects Lambda writes (AWS/S3 PutRequests, dimension FilterId).
resource "aws_s3_bucket_metric" "failed_batches" {
  count = local.failed_batches_to_s3 ? 1 : 0

  bucket = aws_s3_bucket.failed_batches[0].id
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
  dimensions          = { BucketName = aws_s3_bucket.failed_batches[0].bucket, FilterId = local.failed_batches_metric }
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
