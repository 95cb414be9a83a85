# Optional: the audit log as an Athena table (Glue Data Catalog), with partition projection, so
# no crawler and no MSCK REPAIR are ever needed: audit_log is every line of every object
# (retries included), one column per field of the audit line (core/audit.py), in its order.
# The deduplicated, typed view `changes` is created by the named query in athena.tf; it has the
# columns of `ddbstream audit query`'s changes view, so the same SQL runs on both.
# Nested values (keys, images, attribute_types) are JSON text here: OpenX JSON SerDe returns an
# object in a string column as its JSON text. tests/local/test_audit_e2e.py checks every field
# of a real line against these column types.

locals {
  glue_database_name = "${replace(local.name_prefix, "-", "_")}_audit"
  audit_location     = "s3://${local.bucket_name}/${var.audit_prefix}"
}

resource "aws_glue_catalog_database" "audit" {
  count = var.enable_athena_table ? 1 : 0

  name        = local.glue_database_name
  description = "ddbstream audit log of ${local.table_name}"

  tags = local.tags
}

resource "aws_glue_catalog_table" "audit_log" {
  count = var.enable_athena_table ? 1 : 0

  name          = "audit_log"
  database_name = aws_glue_catalog_database.audit[0].name
  description   = "One row per change (gzip NDJSON written by the ddbstream processor)."
  table_type    = "EXTERNAL_TABLE"

  parameters = {
    EXTERNAL                         = "TRUE"
    classification                   = "json"
    compressionType                  = "gzip"
    "projection.enabled"             = "true"
    "projection.source_table.type"   = "enum"
    "projection.source_table.values" = join(",", concat([local.table_name], var.athena_additional_source_tables))
    "projection.year.type"           = "integer"
    "projection.year.range"          = "2024,2099"
    "projection.month.type"          = "integer"
    "projection.month.range"         = "1,12"
    "projection.month.digits"        = "2"
    "projection.day.type"            = "integer"
    "projection.day.range"           = "1,31"
    "projection.day.digits"          = "2"
    "projection.hour.type"           = "integer"
    "projection.hour.range"          = "0,23"
    "projection.hour.digits"         = "2"
    # The processor's key layout: table=T/year=YYYY/month=MM/day=DD/hour=HH/<hash>.ndjson.gz
    "storage.location.template" = "${local.audit_location}table=$${source_table}/year=$${year}/month=$${month}/day=$${day}/hour=$${hour}/"
  }

  partition_keys {
    name = "source_table"
    type = "string"
  }
  partition_keys {
    name = "year"
    type = "int"
  }
  partition_keys {
    name = "month"
    type = "int"
  }
  partition_keys {
    name = "day"
    type = "int"
  }
  partition_keys {
    name = "hour"
    type = "int"
  }

  storage_descriptor {
    location      = local.audit_location
    input_format  = "org.apache.hadoop.mapred.TextInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"

    ser_de_info {
      name                  = "openx-json"
      serialization_library = "org.openx.data.jsonserde.JsonSerDe"
      parameters = {
        "ignore.malformed.json" = "FALSE"
        # Column names match the line's fields exactly (all lower case); left TRUE, the SerDe
        # lower-cases key names, which item attribute names inside the images are not.
        "case.insensitive" = "FALSE"
      }
    }

    dynamic "columns" {
      for_each = [
        ["event_id", "string"],
        ["event_name", "string"],
        ["table_name", "string"],
        ["keys", "string"],
        ["new_image", "string"],
        ["old_image", "string"],
        ["added_attributes", "array<string>"],
        ["removed_attributes", "array<string>"],
        ["changed_attributes", "array<string>"],
        ["sequence_number", "string"],
        ["event_time", "string"],
        ["approximate_creation_time", "double"],
        ["size_bytes", "bigint"],
        ["stream_view_type", "string"],
        ["ttl_expiry", "boolean"],
        ["aws_region", "string"],
        ["attribute_types", "string"],
        # only in the line of a partially decodable change: attribute -> why (JSON text)
        ["undecodable_attributes", "string"],
      ]
      content {
        name = columns.value[0]
        type = columns.value[1]
      }
    }
  }
}
