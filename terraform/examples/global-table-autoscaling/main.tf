# A provisioned-capacity table with target-tracking auto scaling of reads and writes, made a
# global table with a replica in a second region; one processor, in the table's home region.
#
# * autoscaling_enabled: Application Auto Scaling keeps consumed/provisioned capacity near
#   autoscaling_target_utilization between the min and max; read_capacity / write_capacity
#   are the starting point. A provisioned global table needs write auto scaling.
# * replicas: each replica region gets the table with its own stream. The replica is
#   encrypted with a key of its own region (kms_key_arn), or DynamoDB's AWS-managed key.
# * This deployment's processor reads the home region's stream, which carries every change
#   (those written in the replica's region included), so the audit log holds each change once.
#   README, "Multi-region", has the rest of the design (a standby processor in the replica
#   region, telling replicated changes apart).
#
#   terraform init && terraform apply   (after `make package` at the repository root)

provider "aws" {
  region = var.aws_region
}

module "ddbstream" {
  source = "../../modules/ddbstream"

  project_name        = "stream-processing"
  environment         = var.environment
  lambda_package_path = var.lambda_package_path

  billing_mode                   = "PROVISIONED"
  read_capacity                  = 5
  write_capacity                 = 5
  autoscaling_enabled            = true
  autoscaling_read_min_capacity  = 5
  autoscaling_read_max_capacity  = 200
  autoscaling_write_min_capacity = 5
  autoscaling_write_max_capacity = 200
  autoscaling_target_utilization = 70

  replicas = [
    { region_name = var.replica_region, kms_key_arn = var.replica_kms_key_arn },
  ]
}
