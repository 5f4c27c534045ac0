# Moving from a DynamoDB lock table to the S3 lock file, step 2 of 2: the lock
# file only. Replace step 1's backend block with this one once every client
# runs step 1, run `terraform init -reconfigure`, and delete the table when no
# configuration names it any more (migrate.sh shows the commands). Terraform and
# tflock then hold the lock file alone; the table is no longer read.
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
