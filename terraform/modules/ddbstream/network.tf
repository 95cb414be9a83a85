# Optional: the function in the caller's VPC (subnet_ids + security_group_ids), with the
# execution role's network-interface permissions (iam.tf) and, optionally, the VPC endpoints
# it needs to reach AWS without a NAT gateway.
#
# What the function calls itself: S3 (PutObject of audit and quarantine objects) and SNS
# (PublishBatch). Nothing else: the stream is read by Lambda's event source mapping outside
# the VPC, the on-failure record is sent by Lambda, the logs and EMF metrics are the
# function's stdout, which Lambda delivers to CloudWatch Logs, and S3/SNS call KMS on the
# function's behalf. So in private subnets without a NAT gateway it needs an S3 gateway
# endpoint and an SNS interface endpoint; vpc_endpoints creates them (terraform/README.md,
# "Private VPC").

locals {
  in_vpc              = length(var.subnet_ids) > 0
  create_s3_endpoint  = local.in_vpc && contains(var.vpc_endpoints, "s3")
  create_sns_endpoint = local.in_vpc && contains(var.vpc_endpoints, "sns")
  create_endpoint_sg  = local.create_sns_endpoint
}

# The S3 gateway endpoint: routes S3 traffic of the given route tables through the VPC. Its
# policy admits only what this stack's function does: PutObject under the two prefixes of
# the audit bucket (every other S3 request through these route tables is denied, so do not
# create it on route tables other workloads use; add the statement to their endpoint instead).
data "aws_iam_policy_document" "s3_endpoint" {
  count = local.create_s3_endpoint ? 1 : 0

  statement {
    sid     = "AuditAndQuarantineWritesOnly"
    actions = ["s3:PutObject"]
    resources = [
      "${local.bucket_arn}/${var.audit_prefix}*",
      "${local.bucket_arn}/${var.quarantine_prefix}*",
    ]
    principals {
      type        = "AWS"
      identifiers = [aws_iam_role.processor.arn]
    }
  }
}

resource "aws_vpc_endpoint" "s3" {
  count = local.create_s3_endpoint ? 1 : 0

  vpc_id            = var.vpc_id
  service_name      = "com.amazonaws.${local.region}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = var.vpc_route_table_ids
  policy            = data.aws_iam_policy_document.s3_endpoint[0].json

  tags = merge(local.tags, { Name = "${local.name_prefix}-s3" })
}

# The SNS interface endpoint: private DNS makes sns.<region>.amazonaws.com resolve to it in
# the whole VPC. Its policy admits only publishing to this stack's change topic.
data "aws_iam_policy_document" "sns_endpoint" {
  count = local.create_sns_endpoint ? 1 : 0

  statement {
    sid       = "PublishToThisTopicOnly"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.notifications.arn]
    principals {
      type        = "AWS"
      identifiers = [aws_iam_role.processor.arn]
    }
  }
}

resource "aws_security_group" "endpoints" {
  count = local.create_endpoint_sg ? 1 : 0

  name        = "${local.name_prefix}-vpc-endpoints"
  description = "HTTPS from the ddbstream function to its VPC interface endpoints"
  vpc_id      = var.vpc_id

  # Inline rules: HTTPS from each of the function's security groups, nothing else (no egress:
  # an endpoint answers, it never connects out).
  dynamic "ingress" {
    for_each = var.security_group_ids
    content {
      description     = "HTTPS from the function security group ${ingress.value}"
      protocol        = "tcp"
      from_port       = 443
      to_port         = 443
      security_groups = [ingress.value]
    }
  }

  tags = local.tags
}

resource "aws_vpc_endpoint" "sns" {
  count = local.create_sns_endpoint ? 1 : 0

  vpc_id              = var.vpc_id
  service_name        = "com.amazonaws.${local.region}.sns"
  vpc_endpoint_type   = "Interface"
  subnet_ids          = var.subnet_ids
  security_group_ids  = [aws_security_group.endpoints[0].id]
  private_dns_enabled = true
  policy              = data.aws_iam_policy_document.sns_endpoint[0].json

  tags = merge(local.tags, { Name = "${local.name_prefix}-sns" })
}
