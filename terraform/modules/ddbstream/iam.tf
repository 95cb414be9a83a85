# The function's execution role: least privilege, every statement on this stack's resources.
# The only "*" is dynamodb:ListStreams, which has no resource-level form (see below).

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "processor" {
  name               = local.role_name
  description        = "ddbstream stream processor (${local.function_name})"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json

  # IAM role names are at most 64 characters (CreateRole: RoleName length 1-64). The name
  # carries the region (roles are global, one per region), so a long project_name and
  # environment that are each valid can still overflow in a long-named region.
  lifecycle {
    precondition {
      condition     = length(local.role_name) <= 64
      error_message = "The IAM role name ${local.role_name} is ${length(local.role_name)} characters, over IAM's 64: shorten project_name or environment (together at most ${64 - length("--processor-${local.region}")} characters in ${local.region})."
    }
  }

  tags = local.tags
}

data "aws_iam_policy_document" "processor" {
  # The event source mapping reads this table's stream, and only it, with the role's rights.
  statement {
    sid = "ReadThisTablesStream"
    actions = [
      "dynamodb:DescribeStream",
      "dynamodb:GetRecords",
      "dynamodb:GetShardIterator",
    ]
    resources = [local.table.stream_arn]
  }

  # dynamodb:ListStreams has no resource type in the Service Authorization Reference
  # ("Actions defined by Amazon DynamoDB": no value in the Resource types column), so IAM
  # accepts it only with Resource "*". It returns stream ARNs, no data. Lambda's documentation
  # lists it among the execution role's permissions for a DynamoDB event source.
  statement {
    sid       = "ListStreamsHasNoResourceLevelForm"
    actions   = ["dynamodb:ListStreams"]
    resources = ["*"]
  }

  statement {
    sid     = "WriteAuditAndQuarantineObjectsOnly"
    actions = ["s3:PutObject"]
    resources = [
      "${local.bucket_arn}/${var.audit_prefix}*",
      "${local.bucket_arn}/${var.quarantine_prefix}*",
    ]
  }

  statement {
    sid       = "PublishToThisTopic"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.notifications.arn]
  }

  # The on-failure destination is written with the function's role: the DLQ, or (with
  # on_failure_destination = "s3") the failed-batches bucket, which takes s3:PutObject under
  # aws/lambda/ and s3:ListBucket (Lambda's documented permissions for an S3 destination).
  dynamic "statement" {
    for_each = local.failed_batches_to_s3 ? [] : [aws_sqs_queue.dlq.arn]
    content {
      sid       = "SendFailedBatchMetadataToThisDLQ"
      actions   = ["sqs:SendMessage"]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    for_each = local.failed_batches_to_s3 ? [module.failed_batches_bucket[0].arn] : []
    content {
      sid       = "WriteFailedBatchesToThisBucket"
      actions   = ["s3:PutObject"]
      resources = ["${statement.value}/${local.failed_batches_prefix}*"]
    }
  }

  dynamic "statement" {
    for_each = local.failed_batches_to_s3 ? [module.failed_batches_bucket[0].arn] : []
    content {
      sid       = "ListTheFailedBatchesBucket"
      actions   = ["s3:ListBucket"]
      resources = [statement.value]
    }
  }

  # The log group is created by Terraform (with its retention), so no logs:CreateLogGroup.
  statement {
    sid       = "WriteThisFunctionsLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.processor.arn}:*"]
  }

  # Data keys for the encrypted bucket and topic, and decryption of the environment.
  statement {
    sid       = "UseTheStackKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [local.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "processor" {
  name   = "${local.name_prefix}-processor"
  role   = aws_iam_role.processor.id
  policy = data.aws_iam_policy_document.processor.json
}

# With subnet_ids: the network interfaces Lambda creates for the function with this role
# (Lambda's "execution role and VPC" permissions, AWSLambdaVPCAccessExecutionRole's EC2
# actions), each scoped as far as EC2 allows: creation only in the given subnets with the
# given security groups, deletion and IP assignment on network interfaces of this account and
# region; the two Describe actions have no resource-level form, so "*".
data "aws_iam_policy_document" "processor_vpc" {
  count = local.in_vpc ? 1 : 0

  statement {
    sid     = "CreateInterfacesInTheseSubnetsOnly"
    actions = ["ec2:CreateNetworkInterface"]
    resources = concat(
      ["arn:${local.partition}:ec2:${local.region}:${local.account_id}:network-interface/*"],
      [for s in var.subnet_ids : "arn:${local.partition}:ec2:${local.region}:${local.account_id}:subnet/${s}"],
      [for g in var.security_group_ids : "arn:${local.partition}:ec2:${local.region}:${local.account_id}:security-group/${g}"],
    )
  }

  statement {
    sid       = "ManageThisAccountsInterfaces"
    actions   = ["ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"]
    resources = ["arn:${local.partition}:ec2:${local.region}:${local.account_id}:network-interface/*"]
  }

  statement {
    sid       = "DescribeHasNoResourceLevelForm"
    actions   = ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "processor_vpc" {
  count = local.in_vpc ? 1 : 0

  name   = "${local.name_prefix}-processor-vpc"
  role   = aws_iam_role.processor.id
  policy = data.aws_iam_policy_document.processor_vpc[0].json
}
