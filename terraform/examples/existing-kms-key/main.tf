# The stack with a KMS key that already exists (e.g. one managed by a security team): the
# module creates no key and encrypts the table, bucket, topic, log group and the function's
# environment with kms_key_arn.
#
# The key's policy must let this deployment's services use it: CloudWatch alarms publishing to
# the encrypted topic, and CloudWatch Logs encrypting the function's log group. The
# kms_key_policy_json output holds exactly those statements (they depend on names only, so
# `terraform plan` prints them before anything is created); add them to the key's policy,
# then apply. The function's role gets kms:Decrypt and kms:GenerateDataKey on the key through
# IAM, which works when the key policy delegates to the account (AWS's default key policy).
#
#   terraform init
#   terraform apply -var kms_key_arn=arn:aws:kms:REGION:ACCOUNT:key/ID

provider "aws" {
  region = var.aws_region
}

module "ddbstream" {
  source = "../../modules/ddbstream"

  project_name        = "stream-processing"
  environment         = var.environment
  lambda_package_path = var.lambda_package_path
  kms_key_arn         = var.kms_key_arn
}
