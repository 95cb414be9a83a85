# One customer-managed key for the stack's data at rest: table, audit bucket, topic, log group
# and the function's environment (the DLQ uses SQS-managed encryption, see sqs.tf). A
# customer-managed key, not the AWS-managed alias/aws/sns, is what lets CloudWatch alarms
# publish to the encrypted topic at all: the AWS-managed key's policy cannot grant
# cloudwatch.amazonaws.com its use.
#
# kms_key_arn set: no key is created here and the caller's key is used; its policy must hold
# the statements of the kms_key_policy_json output (data.aws_iam_policy_document.kms_services,
# which depends on names only, never on the key, so a caller can build a key policy from it).

data "aws_iam_policy_document" "kms" {
  count = local.create_kms_key ? 1 : 0

  # checkov:skip=CKV_AWS_109:In a key policy, Resource "*" means this key only; the root statement is AWS's default key policy (IAM policies decide who uses the key).
  # checkov:skip=CKV_AWS_111:In a key policy, Resource "*" means this key only; write access is limited to the account (root) and scoped service principals.
  # checkov:skip=CKV_AWS_356:In a key policy, Resource "*" means this key only; there is no narrower form.
  statement {
    sid       = "AccountAdministersKeyThroughIAM"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  source_policy_documents = concat([data.aws_iam_policy_document.kms_services.json], var.kms_key_policy_documents)
}

# What the services of this deployment need from the key (CloudWatch alarms -> encrypted topic,
# CloudWatch Logs -> encrypted log group): part of the created key's policy, and the
# kms_key_policy_json output for a caller's key.
data "aws_iam_policy_document" "kms_services" {
  # checkov:skip=CKV_AWS_111:In a key policy, Resource "*" means this key only; each service principal is scoped by source account/ARN or encryption context.
  # checkov:skip=CKV_AWS_356:In a key policy, Resource "*" means this key only; there is no narrower form.
  # Statement ids carry the deployment's name: several deployments' statements can then share
  # one key policy (examples/two-tables-one-bucket) without clashing ids.
  statement {
    sid       = "CloudWatchAlarmsPublishToEncryptedTopic${local.sid_suffix}"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm:${local.alarm_name_prefix}*"]
    }
  }

  statement {
    sid = "CloudWatchLogsEncryptsTheLogGroup${local.sid_suffix}"
    actions = [
      "kms:Encrypt*",
      "kms:Decrypt*",
      "kms:ReEncrypt*",
      "kms:GenerateDataKey*",
      "kms:Describe*",
    ]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${local.log_group_name}"]
    }
  }
}

locals {
  # "stream-processing-development" -> "StreamProcessingDevelopment" (a Sid is alphanumeric).
  sid_suffix = replace(title(replace(local.name_prefix, "-", " ")), " ", "")
}

resource "aws_kms_key" "main" {
  count = local.create_kms_key ? 1 : 0

  description             = "${local.name_prefix}: ddbstream data at rest (table, audit log, topic, logs, environment)"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_key_deletion_window_days
  policy                  = data.aws_iam_policy_document.kms[0].json

  tags = local.tags
}

resource "aws_kms_alias" "main" {
  count = local.create_kms_key ? 1 : 0

  name          = "alias/${local.name_prefix}-ddbstream"
  target_key_id = aws_kms_key.main[0].key_id
}
