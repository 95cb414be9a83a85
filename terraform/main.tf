# Names, tags and the values several files share. No random provider: names are unique through
# the project/environment prefix and, for the globally named S3 bucket, account id and region.

locals {
  name_prefix = "${var.project_name}-${var.environment}"
  account_id  = data.aws_caller_identity.current.account_id
  region      = data.aws_region.current.name
  partition   = data.aws_partition.current.partition

  table_name        = "${local.name_prefix}-${var.table_name}"
  function_name     = "${local.name_prefix}-processor"
  log_group_name    = "/aws/lambda/${local.function_name}"
  topic_name        = "${local.name_prefix}-notifications"
  dlq_name          = "${local.name_prefix}-dlq"
  bucket_name       = coalesce(var.audit_bucket_name, "${local.name_prefix}-audit-${local.account_id}-${local.region}")
  role_name         = "${local.name_prefix}-processor-${local.region}"
  alarm_name_prefix = "${local.name_prefix}-"

  lambda_package_path = coalesce(var.lambda_package_path, "${path.module}/../build/ddbstream-lambda.zip")

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
      S3_BUCKET_NAME          = aws_s3_bucket.audit.id
      AUDIT_PREFIX            = var.audit_prefix
      QUARANTINE_PREFIX       = var.quarantine_prefix
      NOTIFICATION_ATTRIBUTES = var.notification_attributes
      METRICS_NAMESPACE       = var.metrics_namespace
      LOG_LEVEL               = var.log_level
      # Audit and quarantine objects are written with SSE-KMS under the stack's key (without
      # it the processor asks for SSE-S3, which would override the bucket's default).
      AUDIT_KMS_KEY_ID = aws_kms_key.main.arn
    },
    var.notification_rules == null ? {} : { NOTIFICATION_RULES = var.notification_rules },
  )
}
