# The audit log: gzip NDJSON objects under audit_prefix, undecodable records under
# quarantine_prefix. Versioned, encrypted with the stack's key, private, TLS only.
# With create_audit_bucket = false nothing here is created: the function writes into the
# caller's bucket (audit_bucket_name), whose owner sets encryption, versioning and lifecycle
# (examples/two-tables-one-bucket: a second deployment writing into the first one's bucket).

resource "aws_s3_bucket" "audit" {
  count = var.create_audit_bucket ? 1 : 0

  # checkov:skip=CKV_AWS_18:Server access logging needs a second, log-receiving bucket; the function is the only writer and CloudTrail data events cover audits of access.
  # checkov:skip=CKV_AWS_144:Cross-region replication is a disaster-recovery choice outside this stack (it needs a bucket in another region).
  # checkov:skip=CKV2_AWS_62:Nothing consumes object-created events of the audit log; queries read it directly (Athena / ddbstream audit query).
  bucket        = local.created_bucket_name
  force_destroy = var.s3_force_destroy

  lifecycle {
    precondition {
      condition     = length(local.created_bucket_name) <= 63
      error_message = "The audit bucket name ${local.created_bucket_name} is ${length(local.created_bucket_name)} characters, over S3's 63: shorten project_name or environment, or set audit_bucket_name."
    }

    # The derived name starts with project_name (a given audit_bucket_name is validated as a
    # variable). A precondition, not a validation of project_name: a validation referring to
    # audit_bucket_name would tie project_name to another deployment's bucket (a cycle in
    # examples/two-tables-one-bucket).
    precondition {
      condition     = !anytrue([for p in ["xn--", "sthree-", "amzn-s3-demo-"] : startswith(local.created_bucket_name, p)])
      error_message = "project_name must not start with xn--, sthree- or amzn-s3-demo-: the audit bucket ${local.created_bucket_name} is named after it and S3 reserves those prefixes. Choose another project_name or set audit_bucket_name."
    }
  }

  # Destroy order is the reverse of this dependency: the key is scheduled for deletion only
  # after the bucket is gone. With s3_force_destroy = false a destroy stops at a bucket that
  # still holds objects, and the key those objects are encrypted with stays (terraform/README.md,
  # "Destroying the stack"). The bucket itself does not reference the key (its encryption
  # configuration does), so without this the key could go first.
  depends_on = [aws_kms_key.main]

  tags = local.tags
}

resource "aws_s3_bucket_ownership_controls" "audit" {
  count = var.create_audit_bucket ? 1 : 0

  bucket = aws_s3_bucket.audit[0].id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "audit" {
  count = var.create_audit_bucket ? 1 : 0

  bucket                  = aws_s3_bucket.audit[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "audit" {
  count = var.create_audit_bucket ? 1 : 0

  bucket = aws_s3_bucket.audit[0].id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "audit" {
  count = var.create_audit_bucket ? 1 : 0

  bucket = aws_s3_bucket.audit[0].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = local.kms_key_arn
    }
    # One data key per bucket rather than per object: far fewer KMS calls.
    bucket_key_enabled = true
  }
}

data "aws_iam_policy_document" "audit_bucket" {
  count = var.create_audit_bucket ? 1 : 0

  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.audit[0].arn,
      "${aws_s3_bucket.audit[0].arn}/*",
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

resource "aws_s3_bucket_policy" "audit" {
  count = var.create_audit_bucket ? 1 : 0

  bucket = aws_s3_bucket.audit[0].id
  policy = data.aws_iam_policy_document.audit_bucket[0].json

  # S3 rejects a policy while the public access block is being written.
  depends_on = [aws_s3_bucket_public_access_block.audit]
}

# Note on apply time: the AWS provider waits after writing a lifecycle configuration until it
# has read the same rules back 10 times in a row, 5 s apart, after a 10 s delay (about 55 s),
# on AWS and on an emulator alike. Nothing depends on this resource, so the wait overlaps the
# rest of the apply. See terraform/README.md.
resource "aws_s3_bucket_lifecycle_configuration" "audit" {
  count = var.create_audit_bucket ? 1 : 0

  bucket = aws_s3_bucket.audit[0].id

  # Audit objects are small (one per batch: ~0.5 KB for one change, ~8 KB for a batch of
  # 100, ~75 KB for 1,000; `make bench`), below the 128 KB S3 transitions nothing under by
  # default and the minimum billable size of Standard-IA: tiering would cost transition
  # requests and save nothing. So by default they stay in Standard until they expire; the
  # transitions are opt-in for deployments whose objects are larger (terraform/README.md,
  # "Audit log lifecycle").
  rule {
    id     = "audit-log-retention"
    status = "Enabled"

    filter {
      prefix = var.audit_prefix
    }

    dynamic "transition" {
      for_each = var.s3_transition_ia_days > 0 ? [var.s3_transition_ia_days] : []
      content {
        days          = transition.value
        storage_class = "STANDARD_IA"
      }
    }

    dynamic "transition" {
      for_each = var.s3_transition_glacier_days > 0 ? [var.s3_transition_glacier_days] : []
      content {
        days          = transition.value
        storage_class = "GLACIER"
      }
    }

    dynamic "expiration" {
      for_each = var.s3_expiration_days > 0 ? [var.s3_expiration_days] : []
      content {
        days = expiration.value
      }
    }

    noncurrent_version_expiration {
      noncurrent_days = var.s3_noncurrent_version_expiration_days
    }
  }

  rule {
    id     = "abort-incomplete-uploads"
    status = "Enabled"

    filter {
      prefix = ""
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.audit]
}
