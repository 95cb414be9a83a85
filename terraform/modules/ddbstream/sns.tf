resource "aws_sns_topic" "notifications" {
  name              = local.topic_name
  kms_master_key_id = local.kms_key_arn

  tags = local.tags
}

resource "aws_sns_topic_subscription" "email" {
  count = var.enable_email_notifications ? 1 : 0

  topic_arn = aws_sns_topic.notifications.arn
  protocol  = "email"
  endpoint  = var.notification_email
}
