# Cloudflare R2. The endpoint names the account; the region is "auto". R2 API
# tokens give an access key id and a secret (AWS_ACCESS_KEY_ID /
# AWS_SECRET_ACCESS_KEY). Run `tflock doctor` once: it checks that the store
# enforces the conditional writes the lock file depends on.
#
#   terraform init
#   tflock -- terraform apply
terraform {
  required_version = ">= 1.11"

  backend "s3" {
    bucket       = "terraform-state"
    key          = "network/terraform.tfstate"
    region       = "auto"
    use_lockfile = true

    endpoints = {
      s3 = "https://ACCOUNT_ID.r2.cloudflarestorage.com"
    }
    use_path_style = true

    skip_credentials_validation = true
    skip_requesting_account_id  = true
    skip_region_validation      = true
    skip_metadata_api_check     = true
    skip_s3_checksum            = true # send no checksum headers: R2 supports only some algorithms
  }
}
