# The event source mapping's on-failure destination (unless on_failure_destination = "s3", see
# failed_batches.tf). It receives the metadata of a batch that exhausted its retries or aged out
# (shard id, sequence-number range, stream ARN), never the records themselves: `ddbstream dlq
# replay` reads them back from the stream by shard and sequence range (24 h retention), runs
# them through the function's pipeline and deletes each message once its records landed.
#
# Encrypted with SQS-managed keys (SSE-SQS): operators who read and replay the queue need no
# KMS permissions, and the queue does not wait on the stack's KMS key at apply time.
resource "aws_sqs_queue" "dlq" {
  name                      = local.dlq_name
  message_retention_seconds = var.dlq_message_retention_seconds
  sqs_managed_sse_enabled   = true

  tags = local.tags
}
