variable "aws_region" {
  description = "AWS region of the VPC. null: taken from the environment."
  type        = string
  default     = null
}

variable "environment" {
  description = "Environment name, part of every resource name."
  type        = string
  default     = "development"
}

variable "vpc_id" {
  description = "The existing VPC."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of the VPC for the function (one per Availability Zone: the SNS endpoint takes one subnet per zone)."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups of the function (outbound HTTPS allowed)."
  type        = list(string)
}

variable "route_table_ids" {
  description = "Route tables of subnet_ids, for the S3 gateway endpoint."
  type        = list(string)
}

variable "lambda_package_path" {
  description = "The processor's zip, built by `make package` at the repository root."
  type        = string
  default     = "../../../build/ddbstream-lambda.zip"
}
