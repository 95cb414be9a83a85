# Upgrading a deployment made before the stack became a module (modules/ddbstream): each
# resource moved from the root into module.ddbstream, so `terraform plan` shows moves, not a
# destroy and re-create of the table, the bucket or the key. Terraform 1.1+ reads these blocks
# ("Refactor modules", developer.hashicorp.com/terraform/language/modules/develop/refactoring:
# a moved block in the calling module can move a resource into a child module). Resources with
# count keep it: the whole resource moves. The key and the bucket gained a count in the module
# (kms_key_arn, create_audit_bucket), so they move to instance [0]. Keep these blocks: removing
# one is a breaking change for a deployment not yet upgraded.

# The table moves to the module's un-indexed address; the module's own moved block
# (modules/ddbstream/dynamodb.tf) takes it on to instance [0] (a chain of moves).
moved {
  from = aws_dynamodb_table.activities
  to   = module.ddbstream.aws_dynamodb_table.activities
}

moved {
  from = aws_glue_catalog_database.audit
  to   = module.ddbstream.aws_glue_catalog_database.audit
}

moved {
  from = aws_glue_catalog_table.audit_log
  to   = module.ddbstream.aws_glue_catalog_table.audit_log
}

moved {
  from = aws_iam_role.processor
  to   = module.ddbstream.aws_iam_role.processor
}

moved {
  from = aws_iam_role_policy.processor
  to   = module.ddbstream.aws_iam_role_policy.processor
}

moved {
  from = aws_cloudwatch_log_group.processor
  to   = module.ddbstream.aws_cloudwatch_log_group.processor
}

moved {
  from = aws_lambda_function.processor
  to   = module.ddbstream.aws_lambda_function.processor
}

moved {
  from = aws_lambda_event_source_mapping.stream
  to   = module.ddbstream.aws_lambda_event_source_mapping.stream
}

moved {
  from = aws_cloudwatch_metric_alarm.lambda_errors
  to   = module.ddbstream.aws_cloudwatch_metric_alarm.lambda_errors
}

moved {
  from = aws_cloudwatch_metric_alarm.lambda_duration
  to   = module.ddbstream.aws_cloudwatch_metric_alarm.lambda_duration
}

moved {
  from = aws_cloudwatch_metric_alarm.iterator_age
  to   = module.ddbstream.aws_cloudwatch_metric_alarm.iterator_age
}

moved {
  from = aws_cloudwatch_metric_alarm.dlq_messages
  to   = module.ddbstream.aws_cloudwatch_metric_alarm.dlq_messages
}

moved {
  from = aws_cloudwatch_metric_alarm.dynamodb_read_throttles
  to   = module.ddbstream.aws_cloudwatch_metric_alarm.dynamodb_read_throttles
}

moved {
  from = aws_cloudwatch_metric_alarm.dynamodb_write_throttles
  to   = module.ddbstream.aws_cloudwatch_metric_alarm.dynamodb_write_throttles
}

moved {
  from = aws_cloudwatch_metric_alarm.delivery_failures
  to   = module.ddbstream.aws_cloudwatch_metric_alarm.delivery_failures
}

moved {
  from = aws_cloudwatch_dashboard.main
  to   = module.ddbstream.aws_cloudwatch_dashboard.main
}

moved {
  from = aws_sns_topic.notifications
  to   = module.ddbstream.aws_sns_topic.notifications
}

moved {
  from = aws_sns_topic_subscription.email
  to   = module.ddbstream.aws_sns_topic_subscription.email
}

moved {
  from = aws_sqs_queue.dlq
  to   = module.ddbstream.aws_sqs_queue.dlq
}

moved {
  from = aws_kms_key.main
  to   = module.ddbstream.aws_kms_key.main[0]
}

moved {
  from = aws_kms_alias.main
  to   = module.ddbstream.aws_kms_alias.main[0]
}

moved {
  from = aws_s3_bucket.audit
  to   = module.ddbstream.aws_s3_bucket.audit[0]
}

moved {
  from = aws_s3_bucket_ownership_controls.audit
  to   = module.ddbstream.aws_s3_bucket_ownership_controls.audit[0]
}

moved {
  from = aws_s3_bucket_public_access_block.audit
  to   = module.ddbstream.aws_s3_bucket_public_access_block.audit[0]
}

moved {
  from = aws_s3_bucket_versioning.audit
  to   = module.ddbstream.aws_s3_bucket_versioning.audit[0]
}

moved {
  from = aws_s3_bucket_server_side_encryption_configuration.audit
  to   = module.ddbstream.aws_s3_bucket_server_side_encryption_configuration.audit[0]
}

moved {
  from = aws_s3_bucket_policy.audit
  to   = module.ddbstream.aws_s3_bucket_policy.audit[0]
}

moved {
  from = aws_s3_bucket_lifecycle_configuration.audit
  to   = module.ddbstream.aws_s3_bucket_lifecycle_configuration.audit[0]
}
