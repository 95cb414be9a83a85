# The module's outputs; the root configuration (terraform/) passes each one through under the
# same name, which the seed README's walkthrough reads with `terraform output -raw NAME`.

output "dynamodb_table_name" {
  description = "Name of the DynamoDB table whose changes are processed."
  value       = local.table.name
}

output "dynamodb_table_arn" {
  description = "ARN of the DynamoDB table."
  value       = local.table.arn
}

output "dynamodb_stream_arn" {
  description = "ARN of the table's stream (what the event source mapping reads; `ddbstream dlq replay` reads it too)."
  value       = local.table.stream_arn
}

output "lambda_function_name" {
  description = "Name of the stream processor function."
  value       = aws_lambda_function.processor.function_name
}

output "lambda_function_arn" {
  description = "ARN of the stream processor function."
  value       = aws_lambda_function.processor.arn
}

output "lambda_log_group_name" {
  description = "CloudWatch log group of the function."
  value       = aws_cloudwatch_log_group.processor.name
}

output "lambda_role_arn" {
  description = "ARN of the function's execution role."
  value       = aws_iam_role.processor.arn
}

output "event_source_mapping_uuid" {
  description = "UUID of the stream -> function event source mapping."
  value       = aws_lambda_event_source_mapping.stream.uuid
}

output "s3_bucket_name" {
  description = "Name of the S3 audit bucket."
  value       = local.bucket_name
}

output "s3_bucket_arn" {
  description = "ARN of the S3 audit bucket."
  value       = local.bucket_arn
}

output "audit_prefix" {
  description = "Key prefix of the audit log in the bucket."
  value       = var.audit_prefix
}

output "sns_topic_arn" {
  description = "ARN of the SNS topic of change notifications (one message per matching change)."
  value       = aws_sns_topic.notifications.arn
}

output "alarm_topic_arn" {
  description = "ARN of the SNS topic the CloudWatch alarms notify (ALARM and OK); notification_email subscribes to it."
  value       = aws_sns_topic.alarms.arn
}

output "dlq_url" {
  description = "URL of the dead-letter queue (failed-batch metadata)."
  value       = aws_sqs_queue.dlq.url
}

output "dlq_arn" {
  description = "ARN of the dead-letter queue."
  value       = aws_sqs_queue.dlq.arn
}

output "kms_key_arn" {
  description = "ARN of the KMS key of the stack's data (table, bucket, topic, logs, function environment): the key created here, or kms_key_arn."
  value       = local.kms_key_arn
}

output "kms_key_policy_json" {
  description = "Key policy statements this deployment needs (CloudWatch alarms publishing to the encrypted topic, CloudWatch Logs encrypting the log group). With kms_key_arn, add them to that key's policy; they depend on names only, never on the key."
  value       = data.aws_iam_policy_document.kms_services.json
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard."
  value       = aws_cloudwatch_dashboard.main.dashboard_name
}

output "alarm_names" {
  description = "Names of the CloudWatch alarms, by purpose (failed_batches_objects only with on_failure_destination = \"s3\")."
  value = merge(
    { for key, alarm in aws_cloudwatch_metric_alarm.this : key => alarm.alarm_name },
    { for a in aws_cloudwatch_metric_alarm.failed_batches_objects : "failed_batches_objects" => a.alarm_name },
  )
}

output "failed_batches_bucket_name" {
  description = "Bucket receiving failed batches with their records (null unless on_failure_destination is \"s3\"); `ddbstream dlq list` / `replay` read it."
  value       = one(module.failed_batches_bucket[*].bucket)
}

output "athena_database" {
  description = "Glue/Athena database of the audit log table (null when enable_athena_table is false)."
  value       = one(aws_glue_catalog_database.audit[*].name)
}

output "athena_table" {
  description = "Athena table over the audit log, as database.table (null when enable_athena_table is false)."
  value       = var.enable_athena_table ? "${aws_glue_catalog_database.audit[0].name}.${aws_glue_catalog_table.audit_log[0].name}" : null
}

output "athena_workgroup" {
  description = "Athena workgroup for the audit log (results encrypted with the stack's key, under athena-results/ in the audit bucket; null when enable_athena_table is false)."
  value       = one(aws_athena_workgroup.audit[*].name)
}

output "athena_changes_view_query_id" {
  description = "Id of the Athena named query that creates the deduplicating changes view (null when enable_athena_table is false)."
  value       = one(aws_athena_named_query.changes_view[*].id)
}
