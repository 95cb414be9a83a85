output "kms_key_policy_json" {
  description = "The statements to add to the existing key's policy (CloudWatch alarms, CloudWatch Logs)."
  value       = module.ddbstream.kms_key_policy_json
}

output "dynamodb_table_name" {
  description = "Name of the DynamoDB table whose changes are processed."
  value       = module.ddbstream.dynamodb_table_name
}

output "s3_bucket_name" {
  description = "Name of the S3 audit bucket (encrypted with the existing key)."
  value       = module.ddbstream.s3_bucket_name
}
