#!/bin/bash
# aws-cli.sh — create the state bucket with the AWS CLI, set up as main.tf does
# (read its comment for the why): versioning, default encryption, TLS only,
# public access blocked, ACLs disabled, and a lifecycle rule for noncurrent
# versions (every tflock heartbeat writes one version of <key>.tflock).
#
#   aws-cli.sh BUCKET [REGION]
#
# Environment: KMS_KEY_ARN (SSE-KMS with that key instead of SSE-S3),
# NONCURRENT_DAYS (default 30), NEWER_NONCURRENT_VERSIONS (default 20), and the
# AWS CLI's own (AWS_PROFILE, credentials). The region defaults to AWS_REGION,
# else eu-west-1. Each step is idempotent: run it again to repair a bucket.
set -euo pipefail

usage() {
	echo "usage: aws-cli.sh BUCKET [REGION]" >&2
	exit 64
}
[ $# -ge 1 ] && [ $# -le 2 ] || usage
bucket=$1
region=${2:-${AWS_REGION:-eu-west-1}}
days=${NONCURRENT_DAYS:-30}
keep=${NEWER_NONCURRENT_VERSIONS:-20}
[[ $bucket =~ ^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$ ]] || { echo "aws-cli.sh: '$bucket' is not a valid bucket name" >&2; exit 64; }
[[ $days =~ ^[1-9][0-9]*$ && $keep =~ ^[1-9][0-9]*$ ]] ||
	{ echo "aws-cli.sh: NONCURRENT_DAYS and NEWER_NONCURRENT_VERSIONS must be positive integers" >&2; exit 64; }
export AWS_PAGER=""
s3api() { aws s3api "$@" --region "$region"; }
step() { printf 'aws-cli.sh: %s\n' "$*" >&2; }

step "creating s3://$bucket in $region"
if [ "$region" = us-east-1 ]; then
	s3api create-bucket --bucket "$bucket" ||
		s3api head-bucket --bucket "$bucket" # already ours: go on
else
	s3api create-bucket --bucket "$bucket" --create-bucket-configuration "LocationConstraint=$region" ||
		s3api head-bucket --bucket "$bucket"
fi

step "blocking public access and disabling ACLs"
s3api put-public-access-block --bucket "$bucket" --public-access-block-configuration \
	BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true
s3api put-bucket-ownership-controls --bucket "$bucket" \
	--ownership-controls 'Rules=[{ObjectOwnership=BucketOwnerEnforced}]'

step "turning versioning on"
s3api put-bucket-versioning --bucket "$bucket" --versioning-configuration Status=Enabled

if [ -n "${KMS_KEY_ARN:-}" ]; then
	step "default encryption: SSE-KMS with $KMS_KEY_ARN"
	sse='{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"aws:kms","KMSMasterKeyID":"'"$KMS_KEY_ARN"'"},"BucketKeyEnabled":true}]}'
else
	step "default encryption: SSE-S3"
	sse='{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"}}]}'
fi
s3api put-bucket-encryption --bucket "$bucket" --server-side-encryption-configuration "$sse"

# Lifecycle filters match a prefix, tags or a size, never a suffix: the rule
# covers every object, removing a noncurrent version only when it is older than
# $days days and $keep newer noncurrent versions exist (see main.tf).
step "lifecycle: noncurrent versions after $days days, keeping the newest $keep"
s3api put-bucket-lifecycle-configuration --bucket "$bucket" --lifecycle-configuration \
	'{"Rules":[{"ID":"noncurrent-versions","Status":"Enabled","Filter":{},"NoncurrentVersionExpiration":{"NoncurrentDays":'"$days"',"NewerNoncurrentVersions":'"$keep"'},"Expiration":{"ExpiredObjectDeleteMarker":true},"AbortIncompleteMultipartUpload":{"DaysAfterInitiation":7}}]}'

step "bucket policy: TLS only"
s3api put-bucket-policy --bucket "$bucket" --policy \
	'{"Version":"2012-10-17","Statement":[{"Sid":"DenyInsecureTransport","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::'"$bucket"'","arn:aws:s3:::'"$bucket"'/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}'

step "done: use it with a backend block like ../backend/new/backend.tf, then run 'tflock doctor'"
