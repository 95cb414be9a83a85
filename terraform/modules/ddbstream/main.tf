# Names, tags and the values several files share. No random provider: names are unique through
# the project/environment prefix and, for the globally named S3 bucket, account id and region.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  name_prefix = "${var.project_name}-${var.environment}"
  account_id  = data.aws_caller_identity.current.account_id
  region      = data.aws_region.current.name
  partition   = data.aws_partition.current.partition

  table_name        = "${local.name_prefix}-${var.table_name}"
  function_name     = "${local.name_prefix}-processor"
  log_group_name    = "/aws/lambda/${local.function_name}"
  topic_name        = "${local.name_prefix}-notifications"
  alarm_topic_name  = "${local.name_prefix}-alarms"
  dlq_name          = "${local.name_prefix}-dlq"
  role_name         = "${local.name_prefix}-processor-${local.region}"
  alarm_name_prefix = "${local.name_prefix}-"

  # The audit bucket: created here (its name given or derived), or the caller's
  # (create_audit_bucket = false, audit_bucket_name names it). Referenced through the resource
  # when created, so the function and the role wait for the bucket.
  created_bucket_name = coalesce(var.audit_bucket_name, "${local.name_prefix}-audit-${local.account_id}-${local.region}")
  bucket_name         = var.create_audit_bucket ? module.audit_bucket[0].bucket : var.audit_bucket_name
  bucket_arn          = var.create_audit_bucket ? module.audit_bucket[0].arn : "arn:${local.partition}:s3:::${var.audit_bucket_name}"

  # The stack's own KMS key, or the caller's (kms_key_arn): see kms.tf.
  create_kms_key = var.kms_key_arn == null
  kms_key_arn    = local.create_kms_key ? aws_kms_key.main[0].arn : var.kms_key_arn

  tags = merge(
    {
      Project     = var.project_name
      Environment = var.environment
      ManagedBy   = "terraform"
      Application = "ddbstream"
    },
    var.tags,
  )

  # The processor's contract (see the processor's settings module): every variable it reads.
  # NOTIFICATION_RULES is left unset when null, so the processor's default (notify on every
  # change) applies.
  lambda_environment = merge(
    {
      SNS_TOPIC_ARN           = aws_sns_topic.notifications.arn
      S3_BUCKET_NAME          = local.bucket_name
      AUDIT_PREFIX            = var.audit_prefix
      QUARANTINE_PREFIX       = var.quarantine_prefix
      NOTIFICATION_ATTRIBUTES = var.notification_attributes
      METRICS_NAMESPACE       = var.metrics_namespace
      LOG_LEVEL               = var.log_level
      # Audit and quarantine objects are written with SSE-KMS under the stack's key (without
      # it the processor asks for SSE-S3, which would override the bucket's default).
      AUDIT_KMS_KEY_ID = local.kms_key_arn
    },
    var.notification_rules == null ? {} : { NOTIFICATION_RULES = var.notification_rules },
  )
}
