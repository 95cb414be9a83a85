output "audit_bucket" {
  description = "The one audit bucket both tables' changes go to."
  value       = module.activity.s3_bucket_name
}

output "tables" {
  description = "Table name -> processor function name."
  value = {
    (module.activity.dynamodb_table_name) = module.activity.lambda_function_name
    (module.orders.dynamodb_table_name)   = module.orders.lambda_function_name
  }
}

output "athena_table" {
  description = "The Athena table over both tables' audit log (partition source_table)."
  value       = module.activity.athena_table
}
