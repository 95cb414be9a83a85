provider "aws" {
  # null: the region comes from the environment (AWS_REGION / AWS_DEFAULT_REGION / profile).
  region = var.aws_region

  default_tags {
    tags = local.tags
  }
}

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}
