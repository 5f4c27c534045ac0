# Moving from a DynamoDB lock table to the S3 lock file, step 1 of 2: both.
# (Step 0, where you start, is before/backend.tf: the table alone.)
#
# With both settings, terraform >= 1.11 takes the lock file first, then the
# DynamoDB item, and releases both; so does tflock: it holds the file, then the
# item, under one ID, and releases them in reverse (the item, then the file).
# A client still configured with only dynamodb_table (an old branch, an old
# terraform, another pipeline) is excluded by the item, a client already on
# step 2 by the file. Clients can therefore move to this block one by one.
#
#   terraform init -reconfigure      (the backend settings changed, the state did not)
#   tflock doctor                    (use_lockfile: PASS; dynamodb_table: PASS,
#                                     tflock holds the item and the lock file;
#                                     WARN, deprecated by Terraform 1.11)
#
# While clients on the table alone remain, they get the item more easily than
# clients on this block, which must take the file first: keep the migration short.
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
