variable "aws_region" {
  description = "AWS region to deploy to. null: taken from the environment."
  type        = string
  default     = null
}

variable "environment" {
  description = "Environment name shared by both deployments."
  type        = string
  default     = "development"
}

variable "lambda_package_path" {
  description = "The processor's zip, built by `make package` at the repository root."
  type        = string
  default     = "../../../build/ddbstream-lambda.zip"
}
