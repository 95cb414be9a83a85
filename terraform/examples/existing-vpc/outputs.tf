output "lambda_function_name" {
  description = "Name of the stream processor function (in the VPC)."
  value       = module.ddbstream.lambda_function_name
}

output "dynamodb_table_name" {
  description = "Name of the DynamoDB table whose changes are processed."
  value       = module.ddbstream.dynamodb_table_name
}
