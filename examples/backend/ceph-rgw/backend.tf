# Ceph RADOS Gateway. Keep versioning OFF on this bucket: Ceph RGW 16 accepts
# every conditional write in a versioned bucket (If-None-Match: * always
# succeeds), which gives no mutual exclusion at all; tflock's self-test refuses
# such a bucket (exit 69) and `tflock doctor` explains. tflock's test suite runs
# against this very setup, on 127.0.0.1.
#
#   terraform init
#   tflock -- terraform apply
terraform {
  required_version = ">= 1.11"

  backend "s3" {
    bucket       = "terraform-state"
    key          = "network/terraform.tfstate"
    region       = "us-east-1" # RGW's default zonegroup answers to this
    use_lockfile = true

    endpoints = {
      s3 = "https://rgw.example.internal"
    }
    use_path_style = true

    skip_credentials_validation = true
    skip_requesting_account_id  = true
    skip_region_validation      = true
    skip_metadata_api_check     = true
  }
}
