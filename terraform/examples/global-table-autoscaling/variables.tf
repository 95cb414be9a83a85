variable "aws_region" {
  description = "The table's home region (where the processor runs). null: taken from the environment."
  type        = string
  default     = "us-east-1"
}

variable "replica_region" {
  description = "The region of the table's replica."
  type        = string
  default     = "us-west-2"
}

variable "replica_kms_key_arn" {
  description = "A KMS key in replica_region for the replica; null: DynamoDB's AWS-managed key."
  type        = string
  default     = null
}

variable "environment" {
  description = "Environment name, part of every resource name."
  type        = string
  default     = "development"
}

variable "lambda_package_path" {
  description = "The processor's zip, built by `make package` at the repository root."
  type        = string
  default     = "../../../build/ddbstream-lambda.zip"
}
