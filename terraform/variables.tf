# The seed-compatible inputs: the seed README's names and defaults, plus what the stack adds.
# Each is passed through to the module (modules/ddbstream), whose variables.tf holds the same
# names and defaults with their validations (an invalid value fails the plan there, with a
# message naming the variable). Keep both in step: tests/terraform/test_contract.py checks.

# ---------------------------------------------------------------------------------------------
# Core settings (seed)
# ---------------------------------------------------------------------------------------------

variable "environment" {
  description = "Environment name, part of every resource name (lowercase letters, digits, hyphens)."
  type        = string
  default     = "development"
}

variable "project_name" {
  description = "Project name, the first part of every resource name (lowercase letters, digits, hyphens)."
  type        = string
  default     = "stream-processing"
}

variable "table_name" {
  description = "Base name of the DynamoDB table; the deployed name is project_name-environment-table_name."
  type        = string
  default     = "UserActivities"
}

variable "aws_region" {
  description = "AWS region to deploy to. null: taken from the environment (AWS_REGION, AWS_DEFAULT_REGION or the profile)."
  type        = string
  default     = null

  validation {
    condition     = var.aws_region == null || can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.aws_region))
    error_message = "aws_region must be a region code such as \"us-east-1\", or null to use the environment's region."
  }
}

variable "tags" {
  description = "Extra tags for every resource (merged over Project, Environment and ManagedBy)."
  type        = map(string)
  default     = {}
}

# ---------------------------------------------------------------------------------------------
# DynamoDB (seed: read_capacity, write_capacity, stream_view_type)
# ---------------------------------------------------------------------------------------------

variable "billing_mode" {
  description = "DynamoDB billing mode: PROVISIONED (uses read_capacity / write_capacity) or PAY_PER_REQUEST (on demand)."
  type        = string
  default     = "PROVISIONED"
}

variable "read_capacity" {
  description = "DynamoDB read capacity units (PROVISIONED billing only)."
  type        = number
  default     = 5
}

variable "write_capacity" {
  description = "DynamoDB write capacity units (PROVISIONED billing only)."
  type        = number
  default     = 5
}

variable "stream_view_type" {
  description = "What each stream record carries: KEYS_ONLY, NEW_IMAGE, OLD_IMAGE or NEW_AND_OLD_IMAGES. The audit log is complete only with NEW_AND_OLD_IMAGES."
  type        = string
  default     = "NEW_AND_OLD_IMAGES"
}

variable "deletion_protection" {
  description = "Turn on DynamoDB deletion protection for the table (terraform destroy then fails until it is turned off)."
  type        = bool
  default     = false
}

# ---------------------------------------------------------------------------------------------
# Lambda (seed: lambda_runtime, lambda_memory_size, lambda_timeout)
# ---------------------------------------------------------------------------------------------

variable "lambda_runtime" {
  description = "Python runtime of the function: python3.12 or python3.13 (the seed's python3.9 is retired on Lambda and no longer accepted)."
  type        = string
  default     = "python3.12"
}

variable "lambda_architecture" {
  description = "Instruction set of the function: arm64 (Graviton, cheaper per GB-second) or x86_64. The package is pure Python, so both work."
  type        = string
  default     = "arm64"
}

variable "lambda_memory_size" {
  description = "Memory of the function in MB (CPU scales with it)."
  type        = number
  default     = 256
}

variable "lambda_timeout" {
  description = "Function timeout in seconds; the duration alarm fires at alarm_duration_threshold_percent of it."
  type        = number
  default     = 60
}

variable "lambda_package_path" {
  description = "Path of the function's zip, built by `ddbstream package` (make package). null: build/ddbstream-lambda.zip at the repository root (path.module/../build)."
  type        = string
  default     = null
}

variable "lambda_reserved_concurrency" {
  description = "Reserved concurrent executions of the function; -1 leaves it unreserved. Stream concurrency is already bounded by shards x parallelization_factor."
  type        = number
  default     = -1
}

variable "log_level" {
  description = "LOG_LEVEL of the function: DEBUG, INFO, WARNING or ERROR."
  type        = string
  default     = "INFO"
}

variable "log_retention_days" {
  description = "Retention of the function's CloudWatch log group, in days (one of the values CloudWatch Logs accepts)."
  type        = number
  default     = 30
}

# ---------------------------------------------------------------------------------------------
# Event source mapping (stream -> function)
# ---------------------------------------------------------------------------------------------

variable "batch_size" {
  description = "Largest number of stream records per invocation (1-10000)."
  type        = number
  default     = 100
}

variable "maximum_batching_window_in_seconds" {
  description = "How long Lambda gathers records before invoking (0-300 s); larger batches mean fewer S3 objects and SNS calls."
  type        = number
  default     = 1
}

variable "maximum_retry_attempts" {
  description = "Retries of a failing batch before its metadata goes to the DLQ (-1 = until the record expires, max 10000). Bisecting does not use this quota. The default rides through an S3 or SNS outage of several minutes (terraform/README.md: Riding through an outage)."
  type        = number
  default     = 10
}

variable "maximum_record_age_in_seconds" {
  description = "Records older than this are sent to the DLQ instead of being processed (-1 = no limit, else 60-604800)."
  type        = number
  default     = 3600
}

variable "parallelization_factor" {
  description = "Concurrent batches per stream shard (1-10); order is kept per item key."
  type        = number
  default     = 1
}

variable "starting_position" {
  description = "Where the mapping starts reading a shard: LATEST (only new changes) or TRIM_HORIZON (the last 24 hours)."
  type        = string
  default     = "LATEST"
}

variable "event_filter_patterns" {
  description = "Optional Lambda event filter patterns (JSON strings, at most 5); records matching none are dropped before invocation and never audited. Empty: no filtering."
  type        = list(string)
  default     = []
}

# ---------------------------------------------------------------------------------------------
# The processor's settings (the function's environment)
# ---------------------------------------------------------------------------------------------

variable "audit_prefix" {
  description = "S3 key prefix of the audit log (AUDIT_PREFIX); the function may write only under it and quarantine_prefix."
  type        = string
  default     = "audit-logs/"
}

variable "quarantine_prefix" {
  description = "S3 key prefix for records the processor cannot decode (QUARANTINE_PREFIX)."
  type        = string
  default     = "quarantine/"
}

variable "notification_rules" {
  description = "NOTIFICATION_RULES: a JSON string of the processor's notification rules. null: the variable is not set and the processor notifies on every change."
  type        = string
  default     = null
}

variable "notification_attributes" {
  description = "NOTIFICATION_ATTRIBUTES: comma-separated item attributes copied into each notification."
  type        = string
  default     = "ActivityType,UserId"
}

variable "metrics_namespace" {
  description = "METRICS_NAMESPACE: CloudWatch namespace of the processor's embedded metrics (and of the dashboard's processor widgets)."
  type        = string
  default     = "DDBStream"
}

# ---------------------------------------------------------------------------------------------
# Notifications (seed: enable_email_notifications, notification_email)
# ---------------------------------------------------------------------------------------------

variable "enable_email_notifications" {
  description = "Subscribe notification_email to the alarm topic (every alarm's ALARM and OK), and to change notifications when email_change_notifications is true. The address must confirm each subscription."
  type        = bool
  default     = false
}

variable "email_change_notifications" {
  description = "Also subscribe notification_email to the change-notification topic: one mail per matching change (with the default rules, per DynamoDB write) unless email_change_filter_policy narrows it."
  type        = bool
  default     = false
}

variable "email_change_filter_policy" {
  description = "SNS filter policy (JSON, on message attributes: eventName, tableName, ttlExpiry, rules, NOTIFICATION_ATTRIBUTES) of the email subscription to change notifications. null: every notification."
  type        = string
  default     = null
}

variable "notification_email" {
  description = "Email address for the SNS subscription; required when enable_email_notifications is true."
  type        = string
  default     = ""
}

# ---------------------------------------------------------------------------------------------
# S3 audit bucket and DLQ
# ---------------------------------------------------------------------------------------------

variable "audit_bucket_name" {
  description = "Name of the S3 audit bucket. null: project_name-environment-audit-ACCOUNT_ID-REGION (globally unique without a random suffix)."
  type        = string
  default     = null
}

variable "s3_force_destroy" {
  description = "Let terraform destroy delete the audit bucket while it still holds objects (all audit history is lost)."
  type        = bool
  default     = false
}

variable "s3_transition_ia_days" {
  description = "Days after which audit objects move to STANDARD_IA; 0 (default) = never. At least 30 (S3's minimum). Worth it only for objects of 128 KB and more (S3 does not transition smaller ones by default); see README, \"Audit log lifecycle\"."
  type        = number
  default     = 0
}

variable "s3_transition_glacier_days" {
  description = "Days after which audit objects move to GLACIER (Flexible Retrieval); 0 (default) = never. With a Standard-IA transition, at least s3_transition_ia_days + 30 (S3 keeps objects 30 days in Standard-IA first)."
  type        = number
  default     = 0
}

variable "s3_expiration_days" {
  description = "Days after which audit objects expire (later than every transition; 0 = never)."
  type        = number
  default     = 365
}

variable "s3_noncurrent_version_expiration_days" {
  description = "Days after which overwritten (noncurrent) versions of audit objects are deleted."
  type        = number
  default     = 30
}

variable "dlq_message_retention_seconds" {
  description = "How long failed-batch records stay in the DLQ (60 s to 14 days). Keep it above a day: the records themselves stay in the stream for 24 hours only."
  type        = number
  default     = 1209600
}

variable "on_failure_destination" {
  description = "Where the event source mapping sends a batch that exhausted its retries: \"sqs\" (the DLQ, metadata only; recovery reads the stream within its 24 h retention) or \"s3\" (a bucket of its own; the objects hold the records too)."
  type        = string
  default     = "sqs"
}

variable "failed_batches_retention_days" {
  description = "Days the S3 on-failure objects are kept (on_failure_destination = \"s3\"), 1-3650."
  type        = number
  default     = 14
}

variable "kms_key_deletion_window_days" {
  description = "Waiting period before the stack's KMS key is deleted after terraform destroy (7-30 days)."
  type        = number
  default     = 30
}

# ---------------------------------------------------------------------------------------------
# Alarms
# ---------------------------------------------------------------------------------------------

variable "alarm_period_seconds" {
  description = "Period of every alarm's metric, in seconds: 10, 20, 30 or a multiple of 60 (CloudWatch's valid periods). Under 60 suits only metrics stored at high resolution; the local stack uses 10 for a fast loop."
  type        = number
  default     = 60
}

variable "alarm_evaluation_periods" {
  description = "Consecutive breaching periods before an alarm fires."
  type        = number
  default     = 1
}

variable "alarm_lambda_errors_threshold" {
  description = "Function errors (failed invocations) per period at or above which the errors alarm fires."
  type        = number
  default     = 1
}

variable "alarm_duration_threshold_percent" {
  description = "The duration alarm fires when the longest invocation in a period exceeds this percentage of lambda_timeout."
  type        = number
  default     = 80
}

variable "alarm_iterator_age_threshold_ms" {
  description = "IteratorAge (age of the newest record of the last batch, in ms) above which the processor counts as falling behind."
  type        = number
  default     = 60000
}

variable "alarm_dlq_messages_threshold" {
  description = "Visible messages in the DLQ at or above which the DLQ alarm fires."
  type        = number
  default     = 1
}

variable "alarm_dynamodb_throttle_threshold" {
  description = "Throttled read or write events on the table per period at or above which the throttle alarms fire."
  type        = number
  default     = 1
}

variable "alarm_delivery_failures_threshold" {
  description = "Processor DeliveryFailures (records returned in batchItemFailures for retry) per period at or above which the delivery alarm fires."
  type        = number
  default     = 1
}

# ---------------------------------------------------------------------------------------------
# Optional: Athena
# ---------------------------------------------------------------------------------------------

variable "enable_athena_table" {
  description = "Create a Glue database and an Athena table (partition projection) over the audit log, an Athena workgroup with encrypted results, and the named query that creates the deduplicating changes view."
  type        = bool
  default     = true
}

# ---------------------------------------------------------------------------------------------
# Optional: private VPC, DynamoDB auto scaling, global table replicas (seed: "Advanced
# Configuration"); see the module's variables.tf for the validations
# ---------------------------------------------------------------------------------------------

variable "subnet_ids" {
  description = "Subnets (private, in the deployment's VPC) for the function's network interfaces; empty (default): the function runs outside any VPC. Set together with security_group_ids."
  type        = list(string)
  default     = []
}

variable "security_group_ids" {
  description = "Security groups of the function's network interfaces (at most 5); they must allow outbound HTTPS to S3 and SNS (endpoints or NAT). Set together with subnet_ids."
  type        = list(string)
  default     = []
}

variable "vpc_endpoints" {
  description = "VPC endpoints to create for a function in private subnets without NAT: \"s3\" (gateway, on vpc_route_table_ids) and/or \"sns\" (interface, in subnet_ids), each with a policy admitting only this stack's calls. Empty (default): the VPC provides the route (NAT or its own endpoints)."
  type        = list(string)
  default     = []
}

variable "vpc_id" {
  description = "The VPC of subnet_ids; needed only for vpc_endpoints."
  type        = string
  default     = null
}

variable "vpc_route_table_ids" {
  description = "Route tables of subnet_ids, for the S3 gateway endpoint (vpc_endpoints = [\"s3\", ...])."
  type        = list(string)
  default     = []
}

variable "autoscaling_enabled" {
  description = "Target-tracking auto scaling of the table's read and write capacity (billing_mode = \"PROVISIONED\" only); read_capacity / write_capacity are the starting capacity."
  type        = bool
  default     = false
}

variable "autoscaling_read_min_capacity" {
  description = "Lowest read capacity auto scaling sets (at most read_capacity)."
  type        = number
  default     = 5
}

variable "autoscaling_read_max_capacity" {
  description = "Highest read capacity auto scaling sets (at least read_capacity)."
  type        = number
  default     = 100
}

variable "autoscaling_write_min_capacity" {
  description = "Lowest write capacity auto scaling sets (at most write_capacity)."
  type        = number
  default     = 5
}

variable "autoscaling_write_max_capacity" {
  description = "Highest write capacity auto scaling sets (at least write_capacity)."
  type        = number
  default     = 100
}

variable "autoscaling_target_utilization" {
  description = "Consumed/provisioned capacity, in percent, auto scaling keeps the table near (20-90)."
  type        = number
  default     = 70
}

variable "replicas" {
  description = "Global table replicas (version 2019.11.21), one per other region: region_name, kms_key_arn (a key in that region; null: DynamoDB's AWS-managed key), point_in_time_recovery. Empty (default): a single-region table. See README, \"Multi-region\"."
  type = list(object({
    region_name            = string
    kms_key_arn            = optional(string)
    point_in_time_recovery = optional(bool, true)
  }))
  default = []
}
