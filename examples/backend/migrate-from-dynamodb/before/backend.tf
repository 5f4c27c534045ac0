# Where a configuration on DynamoDB locking starts (step 0 of the migration):
# the table alone, as every Terraform before 1.10 (and OpenTofu before 1.10)
# configures it. tflock reads dynamodb_table from .terraform/ like the rest of
# the backend and holds Terraform's lock item around the command: LockID =
# "example-terraform-state/network/terraform.tfstate" in the table
# terraform-locks. Plain terraform and tflock exclude each other through that
# item; no lock file is involved.
#
# The table: ../../../bootstrap/dynamodb-table/. The role's permissions on it:
# ../../../iam/tflock-dynamodb-policy.json.
#
# Next, with terraform >= 1.11: step 1 in ../backend.tf (both settings), then
# step 2 in ../after/backend.tf (the lock file only). Never go from this block
# straight to step 2 while any client still uses it: a table-only run and a
# file-only run share no lock, and nothing would exclude them.
terraform {
  required_version = ">= 1.5"

  backend "s3" {
    bucket         = "example-terraform-state"
    key            = "network/terraform.tfstate"
    region         = "eu-west-1"
    encrypt        = true
    dynamodb_table = "terraform-locks"
  }
}
