output "dynamodb_table_name" {
  description = "Name of the global table (the same in every region)."
  value       = module.ddbstream.dynamodb_table_name
}

output "dynamodb_stream_arn" {
  description = "The home region's stream, the one the processor reads."
  value       = module.ddbstream.dynamodb_stream_arn
}
