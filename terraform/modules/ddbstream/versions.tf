terraform {
  # 1.9+: validations that refer to other variables (email enabled => email set, lifecycle order).
  required_version = ">= 1.9.0"

  required_providers {
    # The only provider: no random (names come from prefixes, account and region) and no
    # archive (the Lambda zip is built reproducibly by `ddbstream package`). No provider block
    # here: the caller configures the provider (region, credentials, default_tags).
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.60, < 6.0"
    }
  }
}
