# The seed-compatible root configuration: the provider, and the stack as one call of the module
# in modules/ddbstream with the seed's variable names (variables.tf) and outputs (outputs.tf).
# `terraform init && terraform apply` here deploys what the seed README describes. To reuse the
# stack in your own configuration, call the module directly (examples/).

module "ddbstream" {
  source = "./modules/ddbstream"

  environment                           = var.environment
  project_name                          = var.project_name
  table_name                            = var.table_name
  tags                                  = var.tags
  billing_mode                          = var.billing_mode
  read_capacity                         = var.read_capacity
  write_capacity                        = var.write_capacity
  stream_view_type                      = var.stream_view_type
  deletion_protection                   = var.deletion_protection
  lambda_runtime                        = var.lambda_runtime
  lambda_architecture                   = var.lambda_architecture
  lambda_memory_size                    = var.lambda_memory_size
  lambda_timeout                        = var.lambda_timeout
  lambda_package_path                   = coalesce(var.lambda_package_path, "${path.module}/../build/ddbstream-lambda.zip")
  lambda_reserved_concurrency           = var.lambda_reserved_concurrency
  log_level                             = var.log_level
  log_retention_days                    = var.log_retention_days
  batch_size                            = var.batch_size
  maximum_batching_window_in_seconds    = var.maximum_batching_window_in_seconds
  maximum_retry_attempts                = var.maximum_retry_attempts
  maximum_record_age_in_seconds         = var.maximum_record_age_in_seconds
  parallelization_factor                = var.parallelization_factor
  starting_position                     = var.starting_position
  event_filter_patterns                 = var.event_filter_patterns
  audit_prefix                          = var.audit_prefix
  quarantine_prefix                     = var.quarantine_prefix
  notification_rules                    = var.notification_rules
  notification_attributes               = var.notification_attributes
  metrics_namespace                     = var.metrics_namespace
  enable_email_notifications            = var.enable_email_notifications
  email_change_notifications            = var.email_change_notifications
  email_change_filter_policy            = var.email_change_filter_policy
  notification_email                    = var.notification_email
  audit_bucket_name                     = var.audit_bucket_name
  s3_force_destroy                      = var.s3_force_destroy
  s3_transition_ia_days                 = var.s3_transition_ia_days
  s3_transition_glacier_days            = var.s3_transition_glacier_days
  s3_expiration_days                    = var.s3_expiration_days
  s3_noncurrent_version_expiration_days = var.s3_noncurrent_version_expiration_days
  dlq_message_retention_seconds         = var.dlq_message_retention_seconds
  on_failure_destination                = var.on_failure_destination
  failed_batches_retention_days         = var.failed_batches_retention_days
  kms_key_deletion_window_days          = var.kms_key_deletion_window_days
  alarm_period_seconds                  = var.alarm_period_seconds
  alarm_evaluation_periods              = var.alarm_evaluation_periods
  alarm_lambda_errors_threshold         = var.alarm_lambda_errors_threshold
  alarm_duration_threshold_percent      = var.alarm_duration_threshold_percent
  alarm_iterator_age_threshold_ms       = var.alarm_iterator_age_threshold_ms
  alarm_dlq_messages_threshold          = var.alarm_dlq_messages_threshold
  alarm_dynamodb_throttle_threshold     = var.alarm_dynamodb_throttle_threshold
  alarm_delivery_failures_threshold     = var.alarm_delivery_failures_threshold
  enable_athena_table                   = var.enable_athena_table
  subnet_ids                            = var.subnet_ids
  security_group_ids                    = var.security_group_ids
  vpc_endpoints                         = var.vpc_endpoints
  vpc_id                                = var.vpc_id
  vpc_route_table_ids                   = var.vpc_route_table_ids
  autoscaling_enabled                   = var.autoscaling_enabled
  autoscaling_read_min_capacity         = var.autoscaling_read_min_capacity
  autoscaling_read_max_capacity         = var.autoscaling_read_max_capacity
  autoscaling_write_min_capacity        = var.autoscaling_write_min_capacity
  autoscaling_write_max_capacity        = var.autoscaling_write_max_capacity
  autoscaling_target_utilization        = var.autoscaling_target_utilization
  replicas                              = var.replicas
}
