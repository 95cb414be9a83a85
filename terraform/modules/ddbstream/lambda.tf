resource "aws_cloudwatch_log_group" "processor" {
  # checkov:skip=CKV_AWS_338:Retention is a cost choice (log_retention_days, default 30); the durable audit trail is the S3 audit log, not the function's logs.
  name              = local.log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = local.kms_key_arn

  tags = local.tags
}

resource "aws_lambda_function" "processor" {
  # checkov:skip=CKV_AWS_116:A function-level dead_letter_config applies to asynchronous invocations only; stream batches that fail go to the event source mapping's on-failure destination (the DLQ), configured below.
  # checkov:skip=CKV_AWS_117:A VPC is optional (subnet_ids, security_group_ids: the dynamic vpc_config below); by default the function reaches only AWS APIs (S3, SNS) and a VPC would add NAT or endpoints for no isolation gain.
  # checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile; the package is built reproducibly by `ddbstream package` and pinned by source_code_hash.
  # checkov:skip=CKV_AWS_50:X-Ray tracing needs xray:PutTraceSegments on "*"; the processor reports through logs and embedded metrics instead.
  # checkov:skip=CKV_AWS_115:Concurrency is bounded by the stream (shards x parallelization_factor); lambda_reserved_concurrency sets a reservation when wanted.
  function_name = local.function_name
  description   = "ddbstream: DynamoDB stream -> S3 audit log, SNS notifications"
  role          = aws_iam_role.processor.arn
  handler       = "ddbstream.handler.lambda_handler"
  runtime       = var.lambda_runtime
  architectures = [var.lambda_architecture]
  memory_size   = var.lambda_memory_size
  timeout       = var.lambda_timeout

  filename = var.lambda_package_path
  # fileexists() first, so a missing package fails the precondition below with its fix
  # rather than filebase64sha256's bare "no file exists".
  source_code_hash = fileexists(var.lambda_package_path) ? filebase64sha256(var.lambda_package_path) : null

  reserved_concurrent_executions = var.lambda_reserved_concurrency
  kms_key_arn                    = local.kms_key_arn

  environment {
    variables = local.lambda_environment
  }

  # Optional: the function's network interfaces in the caller's private subnets (network.tf).
  dynamic "vpc_config" {
    for_each = local.in_vpc ? [1] : []
    content {
      subnet_ids         = var.subnet_ids
      security_group_ids = var.security_group_ids
    }
  }

  # JSON, as the processor's own lines already are (Powertools' keys): Lambda's START/END/REPORT
  # lines become JSON too and Lambda reads each line's level and RFC 3339 timestamp. Levels at
  # INFO: the processor filters its own lines by LOG_LEVEL, and its EMF documents carry no level
  # (Lambda counts them INFO), so a stricter application level would drop the metrics.
  logging_config {
    log_format            = "JSON"
    application_log_level = "INFO"
    system_log_level      = "INFO"
  }

  lifecycle {
    precondition {
      condition     = fileexists(var.lambda_package_path)
      error_message = "The Lambda package ${var.lambda_package_path} does not exist: build it with `make package` (or `ddbstream package -o PATH` and set lambda_package_path)."
    }
  }

  # The log group (with its retention) and the role's permissions exist before the first
  # invocation can log or write; in a VPC, the network-interface permissions before Lambda
  # creates the interfaces (and, on destroy, they outlive the function's interfaces).
  depends_on = [
    aws_cloudwatch_log_group.processor,
    aws_iam_role_policy.processor,
    aws_iam_role_policy.processor_vpc,
  ]

  tags = local.tags
}

resource "aws_lambda_event_source_mapping" "stream" {
  event_source_arn  = local.table.stream_arn
  function_name     = aws_lambda_function.processor.arn
  starting_position = var.starting_position

  batch_size                         = var.batch_size
  maximum_batching_window_in_seconds = var.maximum_batching_window_in_seconds
  parallelization_factor             = var.parallelization_factor
  maximum_retry_attempts             = var.maximum_retry_attempts
  maximum_record_age_in_seconds      = var.maximum_record_age_in_seconds

  # The handler returns {"batchItemFailures": [...]}: only the failed record and those after it
  # are retried, and a failing batch is split in two to isolate a bad record.
  function_response_types        = ["ReportBatchItemFailures"]
  bisect_batch_on_function_error = true

  destination_config {
    on_failure {
      destination_arn = local.on_failure_destination_arn
    }
  }

  dynamic "filter_criteria" {
    for_each = length(var.event_filter_patterns) > 0 ? [var.event_filter_patterns] : []
    content {
      dynamic "filter" {
        for_each = filter_criteria.value
        content {
          pattern = filter.value
        }
      }
    }
  }

  # The role must be able to read the stream and write the DLQ before Lambda validates them.
  depends_on = [aws_iam_role_policy.processor]
}
