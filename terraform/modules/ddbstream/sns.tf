# Two topics, both encrypted with the stack's key (whose policy lets CloudWatch alarms use it):
# * notifications: one message per matching change (the processor publishes; with the default
#   rules, one per DynamoDB write). Its ARN is the seed's sns_topic_arn output.
# * alarms: the CloudWatch alarms' ALARM and OK transitions only, so a person subscribed to
#   alarms is not drowned in change notifications.
# notification_email subscribes to the alarms; to the changes only with
# email_change_notifications (optionally narrowed by email_change_filter_policy).

resource "aws_sns_topic" "notifications" {
  name              = local.topic_name
  kms_master_key_id = local.kms_key_arn

  tags = local.tags
}

resource "aws_sns_topic" "alarms" {
  name              = local.alarm_topic_name
  kms_master_key_id = local.kms_key_arn

  tags = local.tags
}

resource "aws_sns_topic_subscription" "email" {
  count = var.enable_email_notifications ? 1 : 0

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.notification_email
}

resource "aws_sns_topic_subscription" "email_changes" {
  count = var.enable_email_notifications && var.email_change_notifications ? 1 : 0

  topic_arn = aws_sns_topic.notifications.arn
  protocol  = "email"
  endpoint  = var.notification_email
  # On the message attributes the processor sets (eventName, tableName, ttlExpiry, rules and
  # NOTIFICATION_ATTRIBUTES); null: every change notification.
  filter_policy       = var.email_change_filter_policy
  filter_policy_scope = var.email_change_filter_policy == null ? null : "MessageAttributes"
}
