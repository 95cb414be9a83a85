# The module's outputs under the seed's names; the seed README's walkthrough reads them with
# `terraform output -raw NAME`.

output "dynamodb_table_name" {
  description = "Name of the DynamoDB table whose changes are processed."
  value       = module.ddbstream.dynamodb_table_name
}

output "dynamodb_table_arn" {
  description = "ARN of the DynamoDB table."
  value       = module.ddbstream.dynamodb_table_arn
}

output "dynamodb_stream_arn" {
  description = "ARN of the table's stream (what the event source mapping reads; `ddbstream dlq replay` reads it too)."
  value       = module.ddbstream.dynamodb_stream_arn
}

output "lambda_function_name" {
  description = "Name of the stream processor function."
  value       = module.ddbstream.lambda_function_name
}

output "lambda_function_arn" {
  description = "ARN of the stream processor function."
  value       = module.ddbstream.lambda_function_arn
}

output "lambda_log_group_name" {
  description = "CloudWatch log group of the function."
  value       = module.ddbstream.lambda_log_group_name
}

output "lambda_role_arn" {
  description = "ARN of the function's execution role."
  value       = module.ddbstream.lambda_role_arn
}

output "event_source_mapping_uuid" {
  description = "UUID of the stream -> function event source mapping."
  value       = module.ddbstream.event_source_mapping_uuid
}

output "s3_bucket_name" {
  description = "Name of the S3 audit bucket."
  value       = module.ddbstream.s3_bucket_name
}

output "s3_bucket_arn" {
  description = "ARN of the S3 audit bucket."
  value       = module.ddbstream.s3_bucket_arn
}

output "audit_prefix" {
  description = "Key prefix of the audit log in the bucket."
  value       = module.ddbstream.audit_prefix
}

output "sns_topic_arn" {
  description = "ARN of the SNS topic of change notifications (one message per matching change)."
  value       = module.ddbstream.sns_topic_arn
}

output "alarm_topic_arn" {
  description = "ARN of the SNS topic the CloudWatch alarms notify (ALARM and OK); notification_email subscribes to it."
  value       = module.ddbstream.alarm_topic_arn
}

output "dlq_url" {
  description = "URL of the dead-letter queue (failed-batch metadata)."
  value       = module.ddbstream.dlq_url
}

output "dlq_arn" {
  description = "ARN of the dead-letter queue."
  value       = module.ddbstream.dlq_arn
}

output "failed_batches_bucket_name" {
  description = "Bucket receiving failed batches with their records (null unless on_failure_destination is \"s3\"); `ddbstream dlq list` / `replay` read it."
  value       = module.ddbstream.failed_batches_bucket_name
}

output "kms_key_arn" {
  description = "ARN of the stack's KMS key (table, bucket, topic, logs, function environment)."
  value       = module.ddbstream.kms_key_arn
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard."
  value       = module.ddbstream.dashboard_name
}

output "alarm_names" {
  description = "Names of the CloudWatch alarms, by purpose (failed_batches_objects only with on_failure_destination = \"s3\")."
  value       = module.ddbstream.alarm_names
}

output "athena_database" {
  description = "Glue/Athena database of the audit log table (null when enable_athena_table is false)."
  value       = module.ddbstream.athena_database
}

output "athena_table" {
  description = "Athena table over the audit log, as database.table (null when enable_athena_table is false)."
  value       = module.ddbstream.athena_table
}

output "athena_workgroup" {
  description = "Athena workgroup for the audit log (results encrypted with the stack's key, under athena-results/ in the audit bucket; null when enable_athena_table is false)."
  value       = module.ddbstream.athena_workgroup
}

output "athena_changes_view_query_id" {
  description = "Id of the Athena named query that creates the deduplicating changes view (null when enable_athena_table is false)."
  value       = module.ddbstream.athena_changes_view_query_id
}
