# The stack with its function in an existing VPC's private subnets, reaching S3 and SNS
# through VPC endpoints this deployment creates (no NAT gateway needed):
# * subnet_ids / security_group_ids: the function's network interfaces; the execution role
#   gets the EC2 network-interface permissions, scoped to these subnets and groups.
# * vpc_endpoints = ["s3", "sns"]: an S3 gateway endpoint on the subnets' route tables and an
#   SNS interface endpoint (private DNS) with its own security group admitting HTTPS from the
#   function's groups; each endpoint's policy admits only this stack's calls.
# The function's security groups must allow outbound HTTPS (443) to the VPC (the SNS
# endpoint) and to S3's prefix list (the gateway endpoint). If the VPC already has S3/SNS
# endpoints, or a NAT gateway, set vpc_endpoints = [] (README, "Private VPC").
#
#   terraform init
#   terraform apply -var vpc_id=vpc-... -var 'subnet_ids=["subnet-...","subnet-..."]' \
#     -var 'security_group_ids=["sg-..."]' -var 'route_table_ids=["rtb-..."]'

provider "aws" {
  region = var.aws_region
}

module "ddbstream" {
  source = "../../modules/ddbstream"

  project_name        = "stream-processing"
  environment         = var.environment
  lambda_package_path = var.lambda_package_path

  subnet_ids          = var.subnet_ids
  security_group_ids  = var.security_group_ids
  vpc_id              = var.vpc_id
  vpc_endpoints       = ["s3", "sns"]
  vpc_route_table_ids = var.route_table_ids
}
