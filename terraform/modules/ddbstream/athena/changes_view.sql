CREATE OR REPLACE VIEW changes AS
SELECT
  event_id,
  event_name,
  table_name,
  json_parse(keys) AS keys,
  json_parse(new_image) AS new_image,
  json_parse(old_image) AS old_image,
  added_attributes,
  removed_attributes,
  changed_attributes,
  sequence_number,
  CAST(from_iso8601_timestamp(event_time) AS timestamp) AS event_time,
  approximate_creation_time,
  size_bytes,
  stream_view_type,
  ttl_expiry,
  aws_region,
  json_parse(attribute_types) AS attribute_types,
  json_parse(undecodable_attributes) AS undecodable_attributes,
  source_table,
  year,
  month,
  day,
  hour
FROM (
  SELECT
    *,
    row_number() OVER (
      PARTITION BY source_table, year, month, day, hour, event_id
      ORDER BY "$file_modified_time", "$path"
    ) AS copy_rank
  FROM "${database}"."${table}"
)
WHERE copy_rank = 1
