# The audit log: gzip NDJSON objects under audit_prefix, undecodable records under
# quarantine_prefix. Versioned, encrypted with the stack's key, private, TLS only.
# With create_audit_bucket = false nothing here is created: the function writes into the
# caller's bucket (audit_bucket_name), whose owner sets encryption, versioning and lifecycle
# (examples/two-tables-one-bucket: a second deployment writing into the first one's bucket).

module "audit_bucket" {
  source = "./modules/secure-bucket"
  count  = var.create_audit_bucket ? 1 : 0

  bucket        = local.created_bucket_name
  force_destroy = var.s3_force_destroy
  kms_key_arn   = local.kms_key_arn
  tags          = local.tags

  name_checks = [
    {
      condition     = length(local.created_bucket_name) <= 63
      error_message = "The audit bucket name ${local.created_bucket_name} is ${length(local.created_bucket_name)} characters, over S3's 63: shorten project_name or environment, or set audit_bucket_name."
    },
    # The derived name starts with project_name (a given audit_bucket_name is validated as a
    # variable). A precondition, not a validation of project_name: a validation referring to
    # audit_bucket_name would tie project_name to another deployment's bucket (a cycle in
    # examples/two-tables-one-bucket).
    {
      condition     = !anytrue([for p in ["xn--", "sthree-", "amzn-s3-demo-"] : startswith(local.created_bucket_name, p)])
      error_message = "project_name must not start with xn--, sthree- or amzn-s3-demo-: the audit bucket ${local.created_bucket_name} is named after it and S3 reserves those prefixes. Choose another project_name or set audit_bucket_name."
    },
  ]

  # Audit objects are small (one per batch: ~0.5 KB for one change, ~8 KB for a batch of
  # 100, ~75 KB for 1,000; `make bench`), below the 128 KB S3 transitions nothing under by
  # default and the minimum billable size of Standard-IA: tiering would cost transition
  # requests and save nothing. So by default they stay in Standard until they expire; the
  # transitions are opt-in for deployments whose objects are larger (terraform/README.md,
  # "Audit log lifecycle").
  lifecycle_rule_id                  = "audit-log-retention"
  lifecycle_prefix                   = var.audit_prefix
  transition_ia_days                 = var.s3_transition_ia_days
  transition_glacier_days            = var.s3_transition_glacier_days
  expiration_days                    = var.s3_expiration_days
  noncurrent_version_expiration_days = var.s3_noncurrent_version_expiration_days
  abort_incomplete_upload_days       = 7
}

# Upgrading a deployment made before the bucket became the secure-bucket module: each resource
# moves into the module instance (a destroy and re-create would lose the audit log). The root's
# terraform/moved.tf moves the seed layout's resources here first; Terraform chains the moves.
moved {
  from = aws_s3_bucket.audit[0]
  to   = module.audit_bucket[0].aws_s3_bucket.this
}

moved {
  from = aws_s3_bucket_ownership_controls.audit[0]
  to   = module.audit_bucket[0].aws_s3_bucket_ownership_controls.this
}

moved {
  from = aws_s3_bucket_public_access_block.audit[0]
  to   = module.audit_bucket[0].aws_s3_bucket_public_access_block.this
}

moved {
  from = aws_s3_bucket_versioning.audit[0]
  to   = module.audit_bucket[0].aws_s3_bucket_versioning.this
}

moved {
  from = aws_s3_bucket_server_side_encryption_configuration.audit[0]
  to   = module.audit_bucket[0].aws_s3_bucket_server_side_encryption_configuration.this
}

moved {
  from = aws_s3_bucket_policy.audit[0]
  to   = module.audit_bucket[0].aws_s3_bucket_policy.this
}

moved {
  from = aws_s3_bucket_lifecycle_configuration.audit[0]
  to   = module.audit_bucket[0].aws_s3_bucket_lifecycle_configuration.this
}
