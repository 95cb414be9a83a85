# The root configuration owns the provider; the module (modules/ddbstream) has none and tags
# its resources itself (var.tags over Project, Environment, ManagedBy, Application).
provider "aws" {
  # null: the region comes from the environment (AWS_REGION / AWS_DEFAULT_REGION / profile).
  region = var.aws_region
}
