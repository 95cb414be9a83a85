# Two DynamoDB tables, each with its own processor, feeding ONE audit bucket under ONE KMS key.
#
# "activity" creates the bucket and the key; "orders" writes into that bucket
# (create_audit_bucket = false) with that key (kms_key_arn). The key's policy takes in the
# statements the orders deployment needs (its kms_key_policy_json: its alarms and its log group),
# and the activity deployment's Athena table lists both tables in its source_table partition.
# The audit keys already carry the table (audit-logs/table=T/...), so the two never collide.
#
#   terraform init && terraform apply   (after `make package` at the repository root)

provider "aws" {
  region = var.aws_region
}

module "activity" {
  source = "../../modules/ddbstream"

  project_name        = "activity"
  environment         = var.environment
  table_name          = "UserActivities"
  lambda_package_path = var.lambda_package_path

  kms_key_policy_documents        = [module.orders.kms_key_policy_json]
  athena_additional_source_tables = [module.orders.dynamodb_table_name]
}

module "orders" {
  source = "../../modules/ddbstream"

  project_name        = "orders"
  environment         = var.environment
  table_name          = "Orders"
  billing_mode        = "PAY_PER_REQUEST"
  lambda_package_path = var.lambda_package_path

  create_audit_bucket = false
  audit_bucket_name   = module.activity.s3_bucket_name
  kms_key_arn         = module.activity.kms_key_arn
  enable_athena_table = false # the activity deployment's table covers both
}
