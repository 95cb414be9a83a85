variable "aws_region" {
  description = "AWS region to deploy to (the key's region). null: taken from the environment."
  type        = string
  default     = null
}

variable "environment" {
  description = "Environment name, part of every resource name."
  type        = string
  default     = "development"
}

variable "kms_key_arn" {
  description = "ARN of the existing KMS key (arn:aws:kms:REGION:ACCOUNT:key/ID), in the deployment's region."
  type        = string
}

variable "lambda_package_path" {
  description = "The processor's zip, built by `make package` at the repository root."
  type        = string
  default     = "../../../build/ddbstream-lambda.zip"
}
