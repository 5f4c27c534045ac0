# The DynamoDB lock table, for configurations whose S3 backend sets
# dynamodb_table: every Terraform before 1.10 (and OpenTofu before 1.10) locks
# its state with an item in such a table. A new configuration needs no table:
# use the lock file (../main.tf for the bucket, ../../backend/new/backend.tf).
#
# What Terraform and tflock need of the table (tflock doctor checks it):
#   - exactly one key, the partition key LockID of type String (S), no sort
#     key: the lock item's key is BUCKET/KEY, so one table serves every state
#     in any number of buckets;
#   - on-demand billing (PAY_PER_REQUEST): a waiting tflock reads the item at
#     most once a second with strongly consistent reads (one read capacity
#     unit each); a provisioned table with 1-5 RCU throttles as soon as a few
#     runs wait, and every client of the table slows down;
#   - one region: a global table (replicas) gives no exclusion between runs
#     writing in different regions (tflock doctor warns).
#
#   terraform init
#   terraform apply -var table=terraform-locks -var region=eu-west-1
#
# The same with the AWS CLI:
#   aws dynamodb create-table --table-name terraform-locks --region eu-west-1 \
#     --attribute-definitions AttributeName=LockID,AttributeType=S \
#     --key-schema AttributeName=LockID,KeyType=HASH --billing-mode PAY_PER_REQUEST
#
# The permissions a role needs on the table: ../../iam/tflock-dynamodb-policy.json.
# Moving off the table to the lock file: ../../backend/migrate-from-dynamodb/.
terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
  }
}

variable "table" {
  description = "Name of the lock table (the backend's dynamodb_table)"
  type        = string
  default     = "terraform-locks"
}

variable "region" {
  description = "Region of the table: the backend's region, where the state bucket is"
  type        = string
  default     = "eu-west-1"
}

provider "aws" {
  region = var.region
}

resource "aws_dynamodb_table" "locks" {
  name         = var.table
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "LockID"

  attribute {
    name = "LockID"
    type = "S"
  }
}

output "table" {
  value = aws_dynamodb_table.locks.name
}

output "backend_setting" {
  description = "The line to put in the s3 backend block"
  value       = "dynamodb_table = \"${aws_dynamodb_table.locks.name}\""
}
