# The bucket for Terraform state and its lock files, on AWS, set up the way
# tflock and terraform want it:
#   - versioning on: a bad state write can be undone (the lock file itself does
#     not need versioning);
#   - default encryption (SSE-S3, or SSE-KMS with kms_key_arn) and TLS only;
#   - all four public access block settings on, ACLs disabled;
#   - a lifecycle rule for noncurrent versions: every tflock heartbeat writes a
#     new version of <key>.tflock (and every release leaves a delete marker),
#     so without it a versioned bucket keeps every heartbeat forever.
#
# About that rule: S3 lifecycle filters match a key prefix, object tags or the
# object's size, never a suffix, so no rule can select "*.tflock" by name. The
# rule below therefore covers every object, and is shaped so that it is safe
# for state files too: a noncurrent version is removed only when it is older
# than noncurrent_days AND at least newer_noncurrent_versions newer noncurrent
# versions of the same object exist. Lock files lose their heartbeat versions
# after noncurrent_days; each state keeps its last newer_noncurrent_versions
# versions for good, and every version for noncurrent_days.
#
# This configuration creates the bucket its own state could live in: apply it
# with local state, then (optionally) move its state into the bucket with a
# backend block like ../backend/new/backend.tf and `terraform init -migrate-state`.
#
#   terraform init
#   terraform apply -var bucket=example-terraform-state -var region=eu-west-1
#
# The same with the AWS CLI: aws-cli.sh. `tflock doctor` checks a bucket
# against this list.
terraform {
  required_version = ">= 1.11"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
  }
}

variable "bucket" {
  description = "Name of the state bucket (globally unique)"
  type        = string
}

variable "region" {
  description = "Region of the bucket"
  type        = string
  default     = "eu-west-1"
}

variable "kms_key_arn" {
  description = "KMS key for SSE-KMS; null for SSE-S3 (AES256). With a key, every role using the state also needs kms:Decrypt, kms:Encrypt and kms:GenerateDataKey on it"
  type        = string
  default     = null
}

variable "noncurrent_days" {
  description = "Keep every noncurrent version at least this many days"
  type        = number
  default     = 30
}

variable "newer_noncurrent_versions" {
  description = "Always keep this many noncurrent versions of each object (the state history)"
  type        = number
  default     = 20
}

provider "aws" {
  region = var.region
}

resource "aws_s3_bucket" "state" {
  bucket = var.bucket

  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_s3_bucket_ownership_controls" "state" {
  bucket = aws_s3_bucket.state.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "state" {
  bucket = aws_s3_bucket.state.id

  block_public_acls       = true
  ignore_public_acls      = true
  block_public_policy     = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "state" {
  bucket = aws_s3_bucket.state.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "state" {
  bucket = aws_s3_bucket.state.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.kms_key_arn == null ? "AES256" : "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = var.kms_key_arn != null
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "state" {
  bucket = aws_s3_bucket.state.id

  # a lifecycle rule on noncurrent versions needs versioning first
  depends_on = [aws_s3_bucket_versioning.state]

  rule {
    id     = "noncurrent-versions"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days           = var.noncurrent_days
      newer_noncurrent_versions = var.newer_noncurrent_versions
    }

    # a released lock leaves only a delete marker once its versions expired
    expiration {
      expired_object_delete_marker = true
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

data "aws_iam_policy_document" "tls_only" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.state.arn,
      "${aws_s3_bucket.state.arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "state" {
  bucket = aws_s3_bucket.state.id
  policy = data.aws_iam_policy_document.tls_only.json

  # one bucket setting at a time: S3 may refuse simultaneous changes
  depends_on = [aws_s3_bucket_public_access_block.state]
}

output "bucket" {
  value = aws_s3_bucket.state.id
}

output "backend_block" {
  description = "A backend block for a configuration storing its state here"
  value       = <<-EOT
    backend "s3" {
      bucket       = "${aws_s3_bucket.state.id}"
      key          = "CHANGE-ME/terraform.tfstate"
      region       = "${var.region}"
      encrypt      = true
      use_lockfile = true
    }
  EOT
}
