# A new configuration: the state in S3, locked by the lock file next to it
# (network/terraform.tfstate.tflock), which terraform, OpenTofu and tflock all
# use. No DynamoDB table. Create the bucket first: ../../bootstrap/.
#
#   terraform init
#   tflock -- terraform apply
terraform {
  required_version = ">= 1.11"

  backend "s3" {
    bucket       = "example-terraform-state"
    key          = "network/terraform.tfstate"
    region       = "eu-west-1"
    encrypt      = true
    use_lockfile = true
  }
}
