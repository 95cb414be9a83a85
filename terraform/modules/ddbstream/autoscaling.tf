# Optional (billing_mode = "PROVISIONED"): target-tracking auto scaling of the table's read and
# write capacity, so the throttle alarms are the last resort rather than the scaling policy.
# Application Auto Scaling keeps the table's consumed/provisioned ratio near the target by
# changing its capacity between min and max; the table is then the activities_autoscaled
# resource, which ignores the capacity it finds (dynamodb.tf).

locals {
  autoscaling = var.billing_mode == "PROVISIONED" && var.autoscaling_enabled
  scaled_dimensions = local.autoscaling ? {
    read = {
      dimension = "dynamodb:table:ReadCapacityUnits"
      metric    = "DynamoDBReadCapacityUtilization"
      min       = var.autoscaling_read_min_capacity
      max       = var.autoscaling_read_max_capacity
    }
    write = {
      dimension = "dynamodb:table:WriteCapacityUnits"
      metric    = "DynamoDBWriteCapacityUtilization"
      min       = var.autoscaling_write_min_capacity
      max       = var.autoscaling_write_max_capacity
    }
  } : {}
}

resource "aws_appautoscaling_target" "table" {
  for_each = local.scaled_dimensions

  service_namespace  = "dynamodb"
  resource_id        = "table/${local.table.name}"
  scalable_dimension = each.value.dimension
  min_capacity       = each.value.min
  max_capacity       = each.value.max

  tags = local.tags
}

resource "aws_appautoscaling_policy" "table" {
  for_each = local.scaled_dimensions

  name               = "${local.name_prefix}-${each.key}-capacity"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.table[each.key].service_namespace
  resource_id        = aws_appautoscaling_target.table[each.key].resource_id
  scalable_dimension = aws_appautoscaling_target.table[each.key].scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value = var.autoscaling_target_utilization
    predefined_metric_specification {
      predefined_metric_type = each.value.metric
    }
  }
}
