# One private S3 bucket hardened the way every bucket of the stack is: objects encrypted with the
# given KMS key (SSE-KMS with a Bucket Key), versioned, owner-enforced (no ACLs), every public
# access blocked, TLS only (a bucket policy denying aws:SecureTransport = false), and a lifecycle
# with one data rule and an abort of incomplete uploads. What differs between buckets (name, name
# checks, lifecycle figures) is an input; the module ddbstream uses it for the audit log (s3.tf)
# and the S3 on-failure destination (failed_batches.tf). Only the hashicorp/aws provider.

resource "aws_s3_bucket" "this" {
  # checkov:skip=CKV_AWS_18:Server access logging needs a second, log-receiving bucket; each bucket has one writer (the function, or Lambda's event source mapping) and CloudTrail data events cover audits of access.
  # checkov:skip=CKV_AWS_144:Cross-region replication is a disaster-recovery choice outside this stack (it needs a bucket in another region).
  # checkov:skip=CKV2_AWS_62:Nothing consumes object-created events: the audit log is queried directly (Athena / ddbstream audit query); failed-batch arrivals are watched by an alarm on request metrics.
  bucket        = var.bucket
  force_destroy = var.force_destroy

  lifecycle {
    precondition {
      condition     = alltrue([for check in var.name_checks : check.condition])
      error_message = join(" ", [for check in var.name_checks : check.error_message if !check.condition])
    }
  }

  # Destroy order is the reverse of this dependency: the key is scheduled for deletion only
  # after the bucket is gone. With force_destroy = false a destroy stops at a bucket that still
  # holds objects, and the key those objects are encrypted with stays (terraform/README.md,
  # "Destroying the stack"). The bucket itself does not reference the key (its encryption
  # configuration does), so without this the key could go first.
  depends_on = [var.kms_key_arn]

  tags = var.tags
}

resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket                  = aws_s3_bucket.this.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    # One data key per bucket rather than per object: far fewer KMS calls.
    bucket_key_enabled = true
  }
}

data "aws_iam_policy_document" "this" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.this.arn,
      "${aws_s3_bucket.this.arn}/*",
    ]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  bucket = aws_s3_bucket.this.id
  policy = data.aws_iam_policy_document.this.json

  # S3 rejects a policy while the public access block is being written.
  depends_on = [aws_s3_bucket_public_access_block.this]
}

# Note on apply time: the AWS provider waits after writing a lifecycle configuration until it
# has read the same rules back 10 times in a row, 5 s apart, after a 10 s delay (about 55 s),
# on AWS and on an emulator alike. Nothing depends on this resource, so the wait overlaps the
# rest of the apply. See terraform/README.md.
resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    id     = var.lifecycle_rule_id
    status = "Enabled"

    filter {
      prefix = var.lifecycle_prefix
    }

    dynamic "transition" {
      for_each = var.transition_ia_days > 0 ? [var.transition_ia_days] : []
      content {
        days          = transition.value
        storage_class = "STANDARD_IA"
      }
    }

    dynamic "transition" {
      for_each = var.transition_glacier_days > 0 ? [var.transition_glacier_days] : []
      content {
        days          = transition.value
        storage_class = "GLACIER"
      }
    }

    dynamic "expiration" {
      for_each = var.expiration_days > 0 ? [var.expiration_days] : []
      content {
        days = expiration.value
      }
    }

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }
  }

  rule {
    id     = "abort-incomplete-uploads"
    status = "Enabled"

    filter {
      prefix = ""
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_upload_days
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}
