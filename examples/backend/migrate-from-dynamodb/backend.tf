# Moving from a DynamoDB lock table to the S3 lock file, step 1 of 2: both.
#
# With both settings, terraform >= 1.11 takes the lock file first, then the
# DynamoDB item, and releases both; a client still configured with only
# dynamodb_table (an old branch, an old terraform, another pipeline) is still
# excluded by the DynamoDB item. tflock takes only the lock file (and warns while
# dynamodb_table is set): until every client has use_lockfile = true, a client
# with only the table is not excluded by a tflock run.
#
#   terraform init -reconfigure      (the backend settings changed, the state did not)
#   tflock doctor                    (use_lockfile: PASS; dynamodb_table: WARN)
#
# Then, when every pipeline and person runs this configuration: step 2 in
# after/backend.tf, and delete the table some days later (migrate.sh).
terraform {
  required_version = ">= 1.11"

  backend "s3" {
    bucket         = "example-terraform-state"
    key            = "network/terraform.tfstate"
    region         = "eu-west-1"
    encrypt        = true
    use_lockfile   = true
    dynamodb_table = "terraform-locks"
  }
}
