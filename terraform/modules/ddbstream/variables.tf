# The module's inputs. Every variable is typed, described and validated (the root configuration
# in terraform/ declares the seed-compatible subset with the same names and defaults and passes
# them through; the validations live here). The first block keeps the seed's names and
# defaults; the rest is what the stack needs on top of them.

# ---------------------------------------------------------------------------------------------
# Core settings (seed)
# ---------------------------------------------------------------------------------------------

variable "environment" {
  description = "Environment name, part of every resource name (lowercase letters, digits, hyphens)."
  type        = string
  default     = "development"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,15}$", var.environment))
    error_message = "environment must be 1-16 characters: lowercase letters, digits and hyphens, starting with a letter or digit (e.g. \"development\", \"prod\")."
  }
}

variable "project_name" {
  description = "Project name, the first part of every resource name (lowercase letters, digits, hyphens)."
  type        = string
  default     = "stream-processing"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,22}[a-z0-9]$", var.project_name))
    error_message = "project_name must be 3-24 characters: lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen (it is part of the S3 bucket name)."
  }
}

variable "table_name" {
  description = "Base name of the DynamoDB table; the deployed name is project_name-environment-table_name."
  type        = string
  default     = "UserActivities"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{3,200}$", var.table_name))
    error_message = "table_name must be 3-200 characters of letters, digits, '_', '.' or '-' (DynamoDB's table name rules)."
  }
}

variable "tags" {
  description = "Extra tags for every resource (merged over Project, Environment and ManagedBy)."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.tags : length(k) <= 128 && length(v) <= 256 && !startswith(lower(k), "aws:")])
    error_message = "tags: keys at most 128 characters, values at most 256, and no key may start with \"aws:\"."
  }
}

# ---------------------------------------------------------------------------------------------
# DynamoDB (seed: read_capacity, write_capacity, stream_view_type)
# ---------------------------------------------------------------------------------------------

variable "billing_mode" {
  description = "DynamoDB billing mode: PROVISIONED (uses read_capacity / write_capacity) or PAY_PER_REQUEST (on demand)."
  type        = string
  default     = "PROVISIONED"

  validation {
    condition     = contains(["PROVISIONED", "PAY_PER_REQUEST"], var.billing_mode)
    error_message = "billing_mode must be \"PROVISIONED\" or \"PAY_PER_REQUEST\"."
  }
}

variable "read_capacity" {
  description = "DynamoDB read capacity units (PROVISIONED billing only)."
  type        = number
  default     = 5

  validation {
    condition     = var.read_capacity >= 1 && var.read_capacity <= 40000 && floor(var.read_capacity) == var.read_capacity
    error_message = "read_capacity must be a whole number from 1 to 40000."
  }
}

variable "write_capacity" {
  description = "DynamoDB write capacity units (PROVISIONED billing only)."
  type        = number
  default     = 5

  validation {
    condition     = var.write_capacity >= 1 && var.write_capacity <= 40000 && floor(var.write_capacity) == var.write_capacity
    error_message = "write_capacity must be a whole number from 1 to 40000."
  }
}

variable "stream_view_type" {
  description = "What each stream record carries: KEYS_ONLY, NEW_IMAGE, OLD_IMAGE or NEW_AND_OLD_IMAGES. The audit log is complete only with NEW_AND_OLD_IMAGES."
  type        = string
  default     = "NEW_AND_OLD_IMAGES"

  validation {
    condition     = contains(["KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"], var.stream_view_type)
    error_message = "stream_view_type must be one of KEYS_ONLY, NEW_IMAGE, OLD_IMAGE, NEW_AND_OLD_IMAGES."
  }
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

  validation {
    condition     = contains(["python3.12", "python3.13"], var.lambda_runtime)
    error_message = "lambda_runtime must be \"python3.12\" or \"python3.13\"; python3.9 (the seed's default) is retired on Lambda."
  }
}

variable "lambda_architecture" {
  description = "Instruction set of the function: arm64 (Graviton, cheaper per GB-second) or x86_64. The package is pure Python, so both work."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.lambda_architecture)
    error_message = "lambda_architecture must be \"arm64\" or \"x86_64\"."
  }
}

variable "lambda_memory_size" {
  description = "Memory of the function in MB (CPU scales with it)."
  type        = number
  default     = 256

  validation {
    condition     = var.lambda_memory_size >= 128 && var.lambda_memory_size <= 10240 && floor(var.lambda_memory_size) == var.lambda_memory_size
    error_message = "lambda_memory_size must be a whole number of MB from 128 to 10240."
  }
}

variable "lambda_timeout" {
  description = "Function timeout in seconds; the duration alarm fires at alarm_duration_threshold_percent of it."
  type        = number
  default     = 60

  validation {
    condition     = var.lambda_timeout >= 1 && var.lambda_timeout <= 900 && floor(var.lambda_timeout) == var.lambda_timeout
    error_message = "lambda_timeout must be a whole number of seconds from 1 to 900."
  }
}

variable "lambda_package_path" {
  description = "Path of the function's zip, built by `ddbstream package` (make package), e.g. \"../build/ddbstream-lambda.zip\" from terraform/."
  type        = string

  validation {
    condition     = endswith(var.lambda_package_path, ".zip")
    error_message = "lambda_package_path must be the path of the .zip built by `make package` (ddbstream package -o PATH)."
  }
}

variable "lambda_reserved_concurrency" {
  description = "Reserved concurrent executions of the function; -1 leaves it unreserved. Stream concurrency is already bounded by shards x parallelization_factor."
  type        = number
  default     = -1

  validation {
    condition     = var.lambda_reserved_concurrency >= -1 && floor(var.lambda_reserved_concurrency) == var.lambda_reserved_concurrency
    error_message = "lambda_reserved_concurrency must be -1 (unreserved) or a whole number >= 0."
  }
}

variable "log_level" {
  description = "LOG_LEVEL of the function: DEBUG, INFO, WARNING or ERROR."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be one of DEBUG, INFO, WARNING, ERROR."
  }
}

variable "log_retention_days" {
  description = "Retention of the function's CloudWatch log group, in days (one of the values CloudWatch Logs accepts)."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

# ---------------------------------------------------------------------------------------------
# Event source mapping (stream -> function)
# ---------------------------------------------------------------------------------------------

variable "batch_size" {
  description = "Largest number of stream records per invocation (1-10000)."
  type        = number
  default     = 100

  validation {
    condition     = var.batch_size >= 1 && var.batch_size <= 10000 && floor(var.batch_size) == var.batch_size
    error_message = "batch_size must be a whole number from 1 to 10000 (DynamoDB Streams' limit for a Lambda batch)."
  }
}

variable "maximum_batching_window_in_seconds" {
  description = "How long Lambda gathers records before invoking (0-300 s); larger batches mean fewer S3 objects and SNS calls."
  type        = number
  default     = 1

  validation {
    condition     = var.maximum_batching_window_in_seconds >= 0 && var.maximum_batching_window_in_seconds <= 300 && floor(var.maximum_batching_window_in_seconds) == var.maximum_batching_window_in_seconds
    error_message = "maximum_batching_window_in_seconds must be a whole number from 0 to 300."
  }
}

variable "maximum_retry_attempts" {
  description = "Retries of a failing batch before its metadata goes to the DLQ (-1 = until the record expires, max 10000). Bisecting does not use this quota. The default rides through an S3 or SNS outage of several minutes (terraform/README.md: Riding through an outage)."
  type        = number
  default     = 10

  validation {
    condition     = var.maximum_retry_attempts >= -1 && var.maximum_retry_attempts <= 10000 && floor(var.maximum_retry_attempts) == var.maximum_retry_attempts
    error_message = "maximum_retry_attempts must be a whole number from -1 (infinite) to 10000."
  }
}

variable "maximum_record_age_in_seconds" {
  description = "Records older than this are sent to the DLQ instead of being processed (-1 = no limit, else 60-604800)."
  type        = number
  default     = 3600

  validation {
    condition     = var.maximum_record_age_in_seconds == -1 || (var.maximum_record_age_in_seconds >= 60 && var.maximum_record_age_in_seconds <= 604800)
    error_message = "maximum_record_age_in_seconds must be -1 (no limit) or from 60 to 604800."
  }
}

variable "parallelization_factor" {
  description = "Concurrent batches per stream shard (1-10); order is kept per item key."
  type        = number
  default     = 1

  validation {
    condition     = var.parallelization_factor >= 1 && var.parallelization_factor <= 10 && floor(var.parallelization_factor) == var.parallelization_factor
    error_message = "parallelization_factor must be a whole number from 1 to 10."
  }
}

variable "starting_position" {
  description = "Where the mapping starts reading a shard: LATEST (only new changes) or TRIM_HORIZON (the last 24 hours)."
  type        = string
  default     = "LATEST"

  validation {
    condition     = contains(["LATEST", "TRIM_HORIZON"], var.starting_position)
    error_message = "starting_position must be \"LATEST\" or \"TRIM_HORIZON\"."
  }
}

variable "event_filter_patterns" {
  description = "Optional Lambda event filter patterns (JSON strings, at most 5); records matching none are dropped before invocation and never audited. Empty: no filtering."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.event_filter_patterns) <= 5 && alltrue([for p in var.event_filter_patterns : can(jsondecode(p))])
    error_message = "event_filter_patterns must hold at most 5 patterns, each a JSON object string, e.g. \"{\\\"eventName\\\": [\\\"INSERT\\\"]}\"."
  }
}

# ---------------------------------------------------------------------------------------------
# The processor's settings (the function's environment)
# ---------------------------------------------------------------------------------------------

variable "audit_prefix" {
  description = "S3 key prefix of the audit log (AUDIT_PREFIX); the function may write only under it and quarantine_prefix."
  type        = string
  default     = "audit-logs/"

  validation {
    condition     = can(regex("^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*/$", var.audit_prefix))
    error_message = "audit_prefix must be a non-empty S3 key prefix ending in \"/\" with no leading \"/\", e.g. \"audit-logs/\"."
  }
}

variable "quarantine_prefix" {
  description = "S3 key prefix for records the processor cannot decode (QUARANTINE_PREFIX)."
  type        = string
  default     = "quarantine/"

  validation {
    condition     = can(regex("^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*/$", var.quarantine_prefix))
    error_message = "quarantine_prefix must be a non-empty S3 key prefix ending in \"/\" with no leading \"/\", e.g. \"quarantine/\"."
  }
}

variable "notification_rules" {
  description = "NOTIFICATION_RULES: a JSON string of the processor's notification rules. null: the variable is not set and the processor notifies on every change."
  type        = string
  default     = null

  validation {
    condition     = var.notification_rules == null || can(jsondecode(var.notification_rules))
    error_message = "notification_rules must be null or a valid JSON string (use jsonencode([...]) in a .tfvars file)."
  }
}

variable "notification_attributes" {
  description = "NOTIFICATION_ATTRIBUTES: comma-separated item attributes copied into each notification."
  type        = string
  default     = "ActivityType,UserId"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+(,[A-Za-z0-9_.-]+)*$", var.notification_attributes))
    error_message = "notification_attributes must be comma-separated attribute names without spaces, e.g. \"ActivityType,UserId\"."
  }
}

variable "metrics_namespace" {
  description = "METRICS_NAMESPACE: CloudWatch namespace of the processor's embedded metrics (and of the dashboard's processor widgets)."
  type        = string
  default     = "DDBStream"

  validation {
    condition     = can(regex("^[A-Za-z0-9._#:/-]{1,255}$", var.metrics_namespace)) && !startswith(var.metrics_namespace, "AWS/")
    error_message = "metrics_namespace must be 1-255 characters of letters, digits and . _ # : / -, and must not start with \"AWS/\"."
  }
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

  validation {
    condition     = var.email_change_filter_policy == null || can(keys(jsondecode(coalesce(var.email_change_filter_policy, "{}"))))
    error_message = "email_change_filter_policy must be null or a JSON object string, e.g. jsonencode({ eventName = [\"REMOVE\"] })."
  }
}

variable "notification_email" {
  description = "Email address for the SNS subscription; required when enable_email_notifications is true."
  type        = string
  default     = ""

  validation {
    condition     = var.notification_email == "" || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.notification_email))
    error_message = "notification_email must be empty or an email address such as ops@example.com."
  }

  # Cross-variable validation: Terraform 1.9+ lets a validation refer to other variables.
  validation {
    condition     = !var.enable_email_notifications || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.notification_email))
    error_message = "enable_email_notifications is true but notification_email is empty or malformed: set notification_email to an address such as ops@example.com, or set enable_email_notifications = false."
  }
}

# ---------------------------------------------------------------------------------------------
# S3 audit bucket and DLQ
# ---------------------------------------------------------------------------------------------

variable "create_audit_bucket" {
  description = "Create the S3 audit bucket (versioned, encrypted, lifecycle). false: write into an existing bucket named by audit_bucket_name, whose owner manages it (e.g. a second deployment sharing the first one's bucket)."
  type        = bool
  default     = true
}

variable "audit_bucket_name" {
  description = "Name of the S3 audit bucket. null: project_name-environment-audit-ACCOUNT_ID-REGION (globally unique without a random suffix). Required when create_audit_bucket is false."
  type        = string
  default     = null

  validation {
    condition     = var.audit_bucket_name == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.audit_bucket_name))
    error_message = "audit_bucket_name must be null or a valid S3 bucket name: 3-63 characters, lowercase letters, digits, '.' and '-'."
  }

  # S3's naming rules beyond the characters (bucketnamingrules.html); each its own message.
  validation {
    condition     = var.audit_bucket_name == null || !anytrue([for p in ["xn--", "sthree-", "amzn-s3-demo-"] : startswith(coalesce(var.audit_bucket_name, "-"), p)])
    error_message = "audit_bucket_name must not start with xn--, sthree- or amzn-s3-demo-: S3 reserves the prefixes."
  }

  validation {
    condition     = var.audit_bucket_name == null || !strcontains(coalesce(var.audit_bucket_name, "-"), "..")
    error_message = "audit_bucket_name must not contain two adjacent periods."
  }

  validation {
    condition     = var.audit_bucket_name == null || !can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+\\.[0-9]+$", coalesce(var.audit_bucket_name, "-")))
    error_message = "audit_bucket_name must not be formatted as an IP address (e.g. 192.168.5.4)."
  }

  validation {
    condition     = var.audit_bucket_name == null || !anytrue([for x in ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"] : endswith(coalesce(var.audit_bucket_name, "-"), x)])
    error_message = "audit_bucket_name must not end with -s3alias, --ol-s3, .mrap, --x-s3 or --table-s3: S3 reserves each as a reserved suffix (access point, Object Lambda, Multi-Region Access Point, directory and table bucket names)."
  }

  validation {
    condition     = var.create_audit_bucket || var.audit_bucket_name != null
    error_message = "create_audit_bucket is false, so audit_bucket_name must name the existing bucket to write into."
  }
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

  validation {
    condition     = floor(var.s3_transition_ia_days) == var.s3_transition_ia_days && (var.s3_transition_ia_days == 0 || var.s3_transition_ia_days >= 30)
    error_message = "s3_transition_ia_days must be 0 (no Standard-IA transition) or a whole number of days, at least 30 (S3 refuses a Standard-IA transition earlier than 30 days after creation)."
  }
}

variable "s3_transition_glacier_days" {
  description = "Days after which audit objects move to GLACIER (Flexible Retrieval); 0 (default) = never. With a Standard-IA transition, at least s3_transition_ia_days + 30 (S3 keeps objects 30 days in Standard-IA first)."
  type        = number
  default     = 0

  validation {
    condition     = floor(var.s3_transition_glacier_days) == var.s3_transition_glacier_days && var.s3_transition_glacier_days >= 0 && (var.s3_transition_glacier_days == 0 || var.s3_transition_ia_days == 0 || var.s3_transition_glacier_days >= var.s3_transition_ia_days + 30)
    error_message = "s3_transition_glacier_days must be 0 (no Glacier transition) or at least s3_transition_ia_days + 30: S3 rejects a lifecycle rule whose GLACIER transition comes less than 30 days after its STANDARD_IA one."
  }
}

variable "s3_expiration_days" {
  description = "Days after which audit objects expire (later than every transition; 0 = never)."
  type        = number
  default     = 365

  validation {
    condition     = floor(var.s3_expiration_days) == var.s3_expiration_days && (var.s3_expiration_days == 0 || var.s3_expiration_days > max(var.s3_transition_ia_days, var.s3_transition_glacier_days))
    error_message = "s3_expiration_days must be 0 (never expire) or a whole number of days later than s3_transition_ia_days and s3_transition_glacier_days."
  }
}

variable "s3_noncurrent_version_expiration_days" {
  description = "Days after which overwritten (noncurrent) versions of audit objects are deleted."
  type        = number
  default     = 30

  validation {
    condition     = var.s3_noncurrent_version_expiration_days >= 1 && floor(var.s3_noncurrent_version_expiration_days) == var.s3_noncurrent_version_expiration_days
    error_message = "s3_noncurrent_version_expiration_days must be a whole number of days, at least 1."
  }
}

variable "dlq_message_retention_seconds" {
  description = "How long failed-batch records stay in the DLQ (60 s to 14 days). Keep it above a day: the records themselves stay in the stream for 24 hours only."
  type        = number
  default     = 1209600

  validation {
    condition     = var.dlq_message_retention_seconds >= 60 && var.dlq_message_retention_seconds <= 1209600
    error_message = "dlq_message_retention_seconds must be from 60 to 1209600 (14 days)."
  }
}

variable "on_failure_destination" {
  description = "Where the event source mapping sends a batch that exhausted its retries: \"sqs\" (the DLQ, metadata only; recovery reads the stream within its 24 h retention) or \"s3\" (a bucket of its own; the objects hold the records too)."
  type        = string
  default     = "sqs"

  validation {
    condition     = contains(["sqs", "s3"], var.on_failure_destination)
    error_message = "on_failure_destination must be \"sqs\" or \"s3\"."
  }
}

variable "failed_batches_retention_days" {
  description = "Days the S3 on-failure objects are kept (on_failure_destination = \"s3\"), 1-3650."
  type        = number
  default     = 14

  validation {
    condition     = var.failed_batches_retention_days >= 1 && var.failed_batches_retention_days <= 3650
    error_message = "failed_batches_retention_days must be from 1 to 3650."
  }
}

variable "kms_key_deletion_window_days" {
  description = "Waiting period before the stack's KMS key is deleted after terraform destroy (7-30 days)."
  type        = number
  default     = 30

  validation {
    condition     = var.kms_key_deletion_window_days >= 7 && var.kms_key_deletion_window_days <= 30
    error_message = "kms_key_deletion_window_days must be from 7 to 30."
  }
}

variable "kms_key_arn" {
  description = "ARN of an existing KMS key for the stack's data (table, bucket, topic, logs, environment). null: the module creates one. The key's policy must hold the kms_key_policy_json output's statements."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.kms_key_arn))
    error_message = "kms_key_arn must be null or a key ARN such as arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab (not an alias or a bare key id: CloudWatch Logs needs the key ARN)."
  }
}

variable "kms_key_policy_documents" {
  description = "Extra IAM policy documents (JSON) merged into the created key's policy, e.g. another deployment's kms_key_policy_json when it shares this key. Ignored with kms_key_arn."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for d in var.kms_key_policy_documents : can(jsondecode(d).Statement)])
    error_message = "kms_key_policy_documents must hold JSON policy documents, each with a Statement (e.g. another module's kms_key_policy_json output)."
  }
}

# ---------------------------------------------------------------------------------------------
# Alarms
# ---------------------------------------------------------------------------------------------

variable "alarm_period_seconds" {
  description = "Period of every alarm's metric, in seconds: 10, 20, 30 or a multiple of 60 (CloudWatch's valid periods). Under 60 suits only metrics stored at high resolution; the local stack uses 10 for a fast loop."
  type        = number
  default     = 60

  validation {
    condition     = contains([10, 20, 30], var.alarm_period_seconds) || (var.alarm_period_seconds >= 60 && var.alarm_period_seconds % 60 == 0)
    error_message = "alarm_period_seconds must be 10, 20, 30 or a multiple of 60."
  }
}

variable "alarm_evaluation_periods" {
  description = "Consecutive breaching periods before an alarm fires."
  type        = number
  default     = 1

  validation {
    condition     = var.alarm_evaluation_periods >= 1 && floor(var.alarm_evaluation_periods) == var.alarm_evaluation_periods
    error_message = "alarm_evaluation_periods must be a whole number, at least 1."
  }
}

variable "alarm_lambda_errors_threshold" {
  description = "Function errors (failed invocations) per period at or above which the errors alarm fires."
  type        = number
  default     = 1

  validation {
    condition     = var.alarm_lambda_errors_threshold >= 1
    error_message = "alarm_lambda_errors_threshold must be at least 1."
  }
}

variable "alarm_duration_threshold_percent" {
  description = "The duration alarm fires when the longest invocation in a period exceeds this percentage of lambda_timeout."
  type        = number
  default     = 80

  validation {
    condition     = var.alarm_duration_threshold_percent > 0 && var.alarm_duration_threshold_percent <= 100
    error_message = "alarm_duration_threshold_percent must be greater than 0 and at most 100."
  }
}

variable "alarm_iterator_age_threshold_ms" {
  description = "IteratorAge (age of the newest record of the last batch, in ms) above which the processor counts as falling behind."
  type        = number
  default     = 60000

  validation {
    condition     = var.alarm_iterator_age_threshold_ms >= 1000
    error_message = "alarm_iterator_age_threshold_ms must be at least 1000 (one second)."
  }
}

variable "alarm_dlq_messages_threshold" {
  description = "Visible messages in the DLQ at or above which the DLQ alarm fires."
  type        = number
  default     = 1

  validation {
    condition     = var.alarm_dlq_messages_threshold >= 1
    error_message = "alarm_dlq_messages_threshold must be at least 1."
  }
}

variable "alarm_dynamodb_throttle_threshold" {
  description = "Throttled read or write events on the table per period at or above which the throttle alarms fire."
  type        = number
  default     = 1

  validation {
    condition     = var.alarm_dynamodb_throttle_threshold >= 1
    error_message = "alarm_dynamodb_throttle_threshold must be at least 1."
  }
}

variable "alarm_delivery_failures_threshold" {
  description = "Processor DeliveryFailures (records returned in batchItemFailures for retry) per period at or above which the delivery alarm fires."
  type        = number
  default     = 1

  validation {
    condition     = var.alarm_delivery_failures_threshold >= 1
    error_message = "alarm_delivery_failures_threshold must be at least 1."
  }
}

# ---------------------------------------------------------------------------------------------
# Optional: Athena
# ---------------------------------------------------------------------------------------------

variable "enable_athena_table" {
  description = "Create a Glue database and an Athena table (partition projection) over the audit log, an Athena workgroup with encrypted results, and the named query that creates the deduplicating changes view."
  type        = bool
  default     = true
}

variable "athena_additional_source_tables" {
  description = "Names of other DynamoDB tables whose changes are written into the same audit bucket and prefix (deployments sharing it), listed in the Athena table's source_table partition."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for t in var.athena_additional_source_tables : can(regex("^[A-Za-z0-9_.-]{3,255}$", t))])
    error_message = "athena_additional_source_tables must hold DynamoDB table names: 3-255 characters of letters, digits, '_', '.' or '-'."
  }
}

# ---------------------------------------------------------------------------------------------
# Optional: private VPC (network.tf)
# ---------------------------------------------------------------------------------------------

variable "subnet_ids" {
  description = "Subnets (private, in the deployment's VPC) for the function's network interfaces; empty (default): the function runs outside any VPC. Set together with security_group_ids."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.subnet_ids) <= 16 && alltrue([for s in var.subnet_ids : can(regex("^subnet-[0-9a-f]{8,17}$", s))])
    error_message = "subnet_ids must hold at most 16 subnet ids such as subnet-0123456789abcdef0."
  }

  validation {
    condition     = (length(var.subnet_ids) == 0) == (length(var.security_group_ids) == 0)
    error_message = "subnet_ids and security_group_ids go together: set both (the function in a VPC) or neither."
  }
}

variable "security_group_ids" {
  description = "Security groups of the function's network interfaces (at most 5); they must allow outbound HTTPS to S3 and SNS (endpoints or NAT). Set together with subnet_ids."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.security_group_ids) <= 5 && alltrue([for s in var.security_group_ids : can(regex("^sg-[0-9a-f]{8,17}$", s))])
    error_message = "security_group_ids must hold at most 5 security group ids such as sg-0123456789abcdef0."
  }
}

variable "vpc_endpoints" {
  description = "VPC endpoints to create for a function in private subnets without NAT: \"s3\" (gateway, on vpc_route_table_ids) and/or \"sns\" (interface, in subnet_ids), each with a policy admitting only this stack's calls. Empty (default): the VPC provides the route (NAT or its own endpoints)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.vpc_endpoints : contains(["s3", "sns"], e)])
    error_message = "vpc_endpoints may hold \"s3\" and \"sns\" only."
  }

  validation {
    condition     = length(var.vpc_endpoints) == 0 || (length(var.subnet_ids) > 0 && var.vpc_id != null)
    error_message = "vpc_endpoints needs the function in a VPC: set subnet_ids, security_group_ids and vpc_id."
  }

  validation {
    condition     = !contains(var.vpc_endpoints, "s3") || length(var.vpc_route_table_ids) > 0
    error_message = "vpc_endpoints has \"s3\" (a gateway endpoint): set vpc_route_table_ids to the route tables of subnet_ids."
  }
}

variable "vpc_id" {
  description = "The VPC of subnet_ids; needed only for vpc_endpoints."
  type        = string
  default     = null

  validation {
    condition     = var.vpc_id == null || can(regex("^vpc-[0-9a-f]{8,17}$", coalesce(var.vpc_id, "-")))
    error_message = "vpc_id must be null or a VPC id such as vpc-0123456789abcdef0."
  }
}

variable "vpc_route_table_ids" {
  description = "Route tables of subnet_ids, for the S3 gateway endpoint (vpc_endpoints = [\"s3\", ...])."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for r in var.vpc_route_table_ids : can(regex("^rtb-[0-9a-f]{8,17}$", r))])
    error_message = "vpc_route_table_ids must hold route table ids such as rtb-0123456789abcdef0."
  }
}

# ---------------------------------------------------------------------------------------------
# Optional: DynamoDB auto scaling (autoscaling.tf) and global table replicas (dynamodb.tf)
# ---------------------------------------------------------------------------------------------

variable "autoscaling_enabled" {
  description = "Target-tracking auto scaling of the table's read and write capacity (billing_mode = \"PROVISIONED\" only); read_capacity / write_capacity are the starting capacity."
  type        = bool
  default     = false

  validation {
    condition     = !var.autoscaling_enabled || var.billing_mode == "PROVISIONED"
    error_message = "autoscaling_enabled needs billing_mode = \"PROVISIONED\" (on-demand tables scale by themselves)."
  }
}

variable "autoscaling_read_min_capacity" {
  description = "Lowest read capacity auto scaling sets (at most read_capacity)."
  type        = number
  default     = 5

  validation {
    condition     = !var.autoscaling_enabled || var.autoscaling_read_min_capacity >= 1 && floor(var.autoscaling_read_min_capacity) == var.autoscaling_read_min_capacity && var.autoscaling_read_min_capacity <= var.read_capacity
    error_message = "autoscaling_read_min_capacity must be a whole number from 1 to read_capacity."
  }
}

variable "autoscaling_read_max_capacity" {
  description = "Highest read capacity auto scaling sets (at least read_capacity)."
  type        = number
  default     = 100

  validation {
    condition     = !var.autoscaling_enabled || floor(var.autoscaling_read_max_capacity) == var.autoscaling_read_max_capacity && var.autoscaling_read_max_capacity >= var.read_capacity && var.autoscaling_read_max_capacity <= 40000
    error_message = "autoscaling_read_max_capacity must be a whole number from read_capacity to 40000."
  }
}

variable "autoscaling_write_min_capacity" {
  description = "Lowest write capacity auto scaling sets (at most write_capacity)."
  type        = number
  default     = 5

  validation {
    condition     = !var.autoscaling_enabled || var.autoscaling_write_min_capacity >= 1 && floor(var.autoscaling_write_min_capacity) == var.autoscaling_write_min_capacity && var.autoscaling_write_min_capacity <= var.write_capacity
    error_message = "autoscaling_write_min_capacity must be a whole number from 1 to write_capacity."
  }
}

variable "autoscaling_write_max_capacity" {
  description = "Highest write capacity auto scaling sets (at least write_capacity)."
  type        = number
  default     = 100

  validation {
    condition     = !var.autoscaling_enabled || floor(var.autoscaling_write_max_capacity) == var.autoscaling_write_max_capacity && var.autoscaling_write_max_capacity >= var.write_capacity && var.autoscaling_write_max_capacity <= 40000
    error_message = "autoscaling_write_max_capacity must be a whole number from write_capacity to 40000."
  }
}

variable "autoscaling_target_utilization" {
  description = "Consumed/provisioned capacity, in percent, auto scaling keeps the table near (20-90)."
  type        = number
  default     = 70

  validation {
    condition     = var.autoscaling_target_utilization >= 20 && var.autoscaling_target_utilization <= 90
    error_message = "autoscaling_target_utilization must be from 20 to 90 (percent)."
  }
}

variable "replicas" {
  description = "Global table replicas (version 2019.11.21), one per other region: region_name, kms_key_arn (a key in that region; null: DynamoDB's AWS-managed key), point_in_time_recovery. Empty (default): a single-region table. See README, \"Multi-region\"."
  type = list(object({
    region_name            = string
    kms_key_arn            = optional(string)
    point_in_time_recovery = optional(bool, true)
  }))
  default = []

  validation {
    condition     = alltrue([for r in var.replicas : can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", r.region_name))]) && length(distinct([for r in var.replicas : r.region_name])) == length(var.replicas)
    error_message = "replicas must name each region once, as a region code such as \"eu-west-1\"."
  }

  validation {
    condition     = alltrue([for r in var.replicas : r.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:${r.region_name}:[0-9]{12}:key/[A-Za-z0-9-]+$", coalesce(r.kms_key_arn, "-")))])
    error_message = "replicas: kms_key_arn must be null or the ARN of a KMS key in the replica's own region (arn:aws:kms:REGION:ACCOUNT:key/ID)."
  }

  validation {
    condition     = length(var.replicas) == 0 || var.stream_view_type == "NEW_AND_OLD_IMAGES"
    error_message = "replicas need stream_view_type = \"NEW_AND_OLD_IMAGES\" (global tables replicate through the stream)."
  }

  validation {
    condition     = length(var.replicas) == 0 || var.billing_mode == "PAY_PER_REQUEST" || var.autoscaling_enabled
    error_message = "replicas of a PROVISIONED table need autoscaling_enabled = true (write capacity auto scaling is required for a provisioned global table), or billing_mode = \"PAY_PER_REQUEST\"."
  }
}
