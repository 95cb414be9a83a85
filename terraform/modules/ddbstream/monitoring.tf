# Alarms that fire on the metrics AWS really publishes (the seed watched
# ApproximateNumberOfVisibleMessages and UserErrors, which never fire), all acting on the alarm
# topic (sns.tf), not on the change-notification topic.

locals {
  alarm_actions = [aws_sns_topic.alarms.arn]

  # The processor's embedded metrics (EMF): namespace var.metrics_namespace, dimension FunctionName.
  processor_metrics = ["Changes", "AuditObjectsWritten", "NotificationsSent", "RecordsQuarantined", "DeliveryFailures"]
}

# What pages the operator: one entry per alarm (the key is the alarm's name in the alarm_names
# output; name is its CloudWatch name after the "<project>-<environment>-" prefix). Every alarm
# is evaluated over alarm_period_seconds, treats missing data as not breaching (no data: nothing
# happened) and notifies the alarm topic when it fires and when it clears. The S3 on-failure
# destination's alarm is in failed_batches.tf (it exists only with that destination).
locals {
  alarms = {
    lambda_errors = {
      name                = "lambda-errors"
      description         = "The stream processor failed whole invocations (crash, timeout, unhandled error): batches are being retried and may reach the DLQ."
      namespace           = "AWS/Lambda"
      metric_name         = "Errors"
      dimensions          = { FunctionName = aws_lambda_function.processor.function_name }
      statistic           = "Sum"
      evaluation_periods  = var.alarm_evaluation_periods
      threshold           = var.alarm_lambda_errors_threshold
      comparison_operator = "GreaterThanOrEqualToThreshold"
    }

    lambda_duration = {
      name                = "lambda-duration-near-timeout"
      description         = "An invocation ran longer than ${var.alarm_duration_threshold_percent}% of the ${var.lambda_timeout} s timeout: batches are close to timing out."
      namespace           = "AWS/Lambda"
      metric_name         = "Duration"
      dimensions          = { FunctionName = aws_lambda_function.processor.function_name }
      statistic           = "Maximum"
      evaluation_periods  = var.alarm_evaluation_periods
      threshold           = var.lambda_timeout * 1000 * var.alarm_duration_threshold_percent / 100
      comparison_operator = "GreaterThanThreshold"
    }

    iterator_age = {
      name                = "iterator-age"
      description         = "The stream processor is falling behind: the newest record of the last batch was older than ${var.alarm_iterator_age_threshold_ms} ms when processed (records expire from the stream after 24 h)."
      namespace           = "AWS/Lambda"
      metric_name         = "IteratorAge"
      dimensions          = { FunctionName = aws_lambda_function.processor.function_name }
      statistic           = "Maximum"
      evaluation_periods  = var.alarm_evaluation_periods
      threshold           = var.alarm_iterator_age_threshold_ms
      comparison_operator = "GreaterThanThreshold"
    }

    dlq_messages = {
      name                = "dlq-messages"
      description         = "Failed batches reached the DLQ: `ddbstream dlq list` shows them, `ddbstream dlq replay` replays them (on AWS add `--terraform-dir DIR`) within the stream's 24 h retention."
      namespace           = "AWS/SQS"
      metric_name         = "ApproximateNumberOfMessagesVisible"
      dimensions          = { QueueName = aws_sqs_queue.dlq.name }
      statistic           = "Maximum"
      evaluation_periods  = 1
      threshold           = var.alarm_dlq_messages_threshold
      comparison_operator = "GreaterThanOrEqualToThreshold"
    }

    dynamodb_read_throttles = {
      name                = "dynamodb-read-throttles"
      description         = "Reads of ${local.table_name} were throttled: raise read_capacity or use PAY_PER_REQUEST."
      namespace           = "AWS/DynamoDB"
      metric_name         = "ReadThrottleEvents"
      dimensions          = { TableName = local.table.name }
      statistic           = "Sum"
      evaluation_periods  = var.alarm_evaluation_periods
      threshold           = var.alarm_dynamodb_throttle_threshold
      comparison_operator = "GreaterThanOrEqualToThreshold"
    }

    dynamodb_write_throttles = {
      name                = "dynamodb-write-throttles"
      description         = "Writes to ${local.table_name} were throttled: raise write_capacity or use PAY_PER_REQUEST."
      namespace           = "AWS/DynamoDB"
      metric_name         = "WriteThrottleEvents"
      dimensions          = { TableName = local.table.name }
      statistic           = "Sum"
      evaluation_periods  = var.alarm_evaluation_periods
      threshold           = var.alarm_dynamodb_throttle_threshold
      comparison_operator = "GreaterThanOrEqualToThreshold"
    }

    delivery_failures = {
      name                = "delivery-failures"
      description         = "The processor returned records as batch item failures (an audit write, a notification or a quarantine write failed, or time ran out); they are retried and may reach the DLQ."
      namespace           = var.metrics_namespace
      metric_name         = "DeliveryFailures"
      dimensions          = { FunctionName = aws_lambda_function.processor.function_name }
      statistic           = "Sum"
      evaluation_periods  = var.alarm_evaluation_periods
      threshold           = var.alarm_delivery_failures_threshold
      comparison_operator = "GreaterThanOrEqualToThreshold"
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = local.alarms

  alarm_name          = "${local.alarm_name_prefix}${each.value.name}"
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric_name
  dimensions          = each.value.dimensions
  statistic           = each.value.statistic
  period              = var.alarm_period_seconds
  evaluation_periods  = each.value.evaluation_periods
  threshold           = each.value.threshold
  comparison_operator = each.value.comparison_operator
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  tags = local.tags
}

# Upgrading a deployment made when each alarm was its own resource: each moves to its key (a
# destroy and re-create would lose the alarm's state and history). The root's moved.tf moves
# the seed layout's alarms here first; Terraform chains the moves.
moved {
  from = aws_cloudwatch_metric_alarm.lambda_errors
  to   = aws_cloudwatch_metric_alarm.this["lambda_errors"]
}

moved {
  from = aws_cloudwatch_metric_alarm.lambda_duration
  to   = aws_cloudwatch_metric_alarm.this["lambda_duration"]
}

moved {
  from = aws_cloudwatch_metric_alarm.iterator_age
  to   = aws_cloudwatch_metric_alarm.this["iterator_age"]
}

moved {
  from = aws_cloudwatch_metric_alarm.dlq_messages
  to   = aws_cloudwatch_metric_alarm.this["dlq_messages"]
}

moved {
  from = aws_cloudwatch_metric_alarm.dynamodb_read_throttles
  to   = aws_cloudwatch_metric_alarm.this["dynamodb_read_throttles"]
}

moved {
  from = aws_cloudwatch_metric_alarm.dynamodb_write_throttles
  to   = aws_cloudwatch_metric_alarm.this["dynamodb_write_throttles"]
}

moved {
  from = aws_cloudwatch_metric_alarm.delivery_failures
  to   = aws_cloudwatch_metric_alarm.this["delivery_failures"]
}

resource "aws_cloudwatch_dashboard" "main" {
  dashboard_name = "${local.name_prefix}-ddbstream"
  dashboard_body = jsonencode({
    widgets = [
      {
        type = "metric", x = 0, y = 0, width = 12, height = 6
        properties = {
          title  = "Processor: changes and deliveries"
          region = local.region
          stat   = "Sum"
          period = 60
          view   = "timeSeries"
          metrics = [
            for m in local.processor_metrics :
            [var.metrics_namespace, m, "FunctionName", local.function_name]
          ]
        }
      },
      {
        type = "metric", x = 12, y = 0, width = 12, height = 6
        properties = {
          title  = "Stream lag: IteratorAge (ms)"
          region = local.region
          stat   = "Maximum"
          period = 60
          view   = "timeSeries"
          metrics = [
            ["AWS/Lambda", "IteratorAge", "FunctionName", local.function_name],
          ]
          annotations = {
            horizontal = [{ label = "alarm", value = var.alarm_iterator_age_threshold_ms }]
          }
        }
      },
      {
        type = "metric", x = 0, y = 6, width = 12, height = 6
        properties = {
          title  = "Lambda: invocations, errors, throttles"
          region = local.region
          stat   = "Sum"
          period = 60
          view   = "timeSeries"
          metrics = [
            ["AWS/Lambda", "Invocations", "FunctionName", local.function_name],
            ["AWS/Lambda", "Errors", "FunctionName", local.function_name],
            ["AWS/Lambda", "Throttles", "FunctionName", local.function_name],
          ]
        }
      },
      {
        type = "metric", x = 12, y = 6, width = 12, height = 6
        properties = {
          title  = "Lambda: duration (ms)"
          region = local.region
          period = 60
          view   = "timeSeries"
          metrics = [
            ["AWS/Lambda", "Duration", "FunctionName", local.function_name, { stat = "Average" }],
            ["AWS/Lambda", "Duration", "FunctionName", local.function_name, { stat = "Maximum" }],
          ]
          annotations = {
            horizontal = [{ label = "timeout", value = var.lambda_timeout * 1000 }]
          }
        }
      },
      {
        type = "metric", x = 0, y = 12, width = 12, height = 6
        properties = {
          title  = "DynamoDB: throttled events"
          region = local.region
          stat   = "Sum"
          period = 60
          view   = "timeSeries"
          metrics = [
            ["AWS/DynamoDB", "ReadThrottleEvents", "TableName", local.table_name],
            ["AWS/DynamoDB", "WriteThrottleEvents", "TableName", local.table_name],
          ]
        }
      },
      {
        type = "metric", x = 12, y = 12, width = 12, height = 6
        properties = {
          title  = "DLQ: failed batches waiting"
          region = local.region
          stat   = "Maximum"
          period = 60
          view   = "timeSeries"
          metrics = [
            ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", local.dlq_name],
          ]
        }
      },
      {
        type = "alarm", x = 0, y = 18, width = 24, height = 4
        properties = {
          title = "Alarms"
          alarms = [
            aws_cloudwatch_metric_alarm.this["lambda_errors"].arn,
            aws_cloudwatch_metric_alarm.this["lambda_duration"].arn,
            aws_cloudwatch_metric_alarm.this["iterator_age"].arn,
            aws_cloudwatch_metric_alarm.this["dlq_messages"].arn,
            aws_cloudwatch_metric_alarm.this["dynamodb_read_throttles"].arn,
            aws_cloudwatch_metric_alarm.this["dynamodb_write_throttles"].arn,
            aws_cloudwatch_metric_alarm.this["delivery_failures"].arn,
          ]
        }
      },
    ]
  })
}
