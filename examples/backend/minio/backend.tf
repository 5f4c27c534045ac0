# MinIO (or any S3-compatible store that enforces conditional writes: tflock's
# self-test checks, `tflock doctor` says). Credentials as for AWS:
# AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or a profile.
#
#   terraform init
#   tflock -- terraform apply            (tflock reads all of this from .terraform/)
terraform {
  required_version = ">= 1.11"

  backend "s3" {
    bucket       = "terraform-state"
    key          = "network/terraform.tfstate"
    region       = "us-east-1" # any name: MinIO's default region
    use_lockfile = true

    endpoints = {
      s3 = "https://minio.example.internal:9000"
    }
    use_path_style = true # MinIO serves buckets under the path, not as host names

    # not AWS: no STS, IAM, account id, region list or instance metadata
    skip_credentials_validation = true
    skip_requesting_account_id  = true
    skip_region_validation      = true
    skip_metadata_api_check     = true
  }
}
