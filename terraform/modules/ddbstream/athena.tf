# Optional (with enable_athena_table): an Athena workgroup whose query results are encrypted
# with the stack's key and kept in the audit bucket under athena-results/, and the statement
# that creates the deduplicating `changes` view over audit_log (glue.tf), as a named query: run
# it once in the workgroup (terraform/README.md shows how). The view keeps the first written
# copy of each event_id (earliest "$file_modified_time", then "$path"); duplicates of a change
# always share its partition, so the window is partitioned by the partition columns too and a
# WHERE on them still prunes.

locals {
  athena_results_prefix = "athena-results/"
}

resource "aws_athena_workgroup" "audit" {
  count = var.enable_athena_table ? 1 : 0

  name        = "${local.name_prefix}-audit"
  description = "Queries over the ddbstream audit log of ${local.table_name} (results encrypted with the stack's key)."
  # Named queries go with the workgroup on destroy.
  force_destroy = true

  configuration {
    enforce_workgroup_configuration    = true
    publish_cloudwatch_metrics_enabled = true

    result_configuration {
      output_location = "s3://${local.bucket_name}/${local.athena_results_prefix}"

      encryption_configuration {
        encryption_option = "SSE_KMS"
        kms_key_arn       = local.kms_key_arn
      }
    }
  }

  tags = local.tags
}

resource "aws_athena_named_query" "changes_view" {
  count = var.enable_athena_table ? 1 : 0

  name        = "${local.name_prefix}-create-changes-view"
  description = "Creates the view changes: each change of audit_log once (deduplicated by event_id, first written kept), event_time a timestamp, keys and images JSON."
  workgroup   = aws_athena_workgroup.audit[0].id
  database    = aws_glue_catalog_database.audit[0].name
  query = templatefile("${path.module}/athena/changes_view.sql", {
    database = aws_glue_catalog_database.audit[0].name
    table    = aws_glue_catalog_table.audit_log[0].name
  })
}
