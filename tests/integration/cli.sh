#!/bin/bash
# The command line's basic contract: --version, --help, usage errors.
. "$top_srcdir/tests/integration/lib.sh"
plan_lazy
stub_requests_has() { stub_requests | grep -qxF "$1"; }

out=$("$TFLOCK" --version)
like "$out" '^tflock [0-9]+\.[0-9]+\.[0-9]+$' "--version prints the version"
out=$("$TFLOCK" --help)
like "$out" '^usage: tflock' "--help prints usage"
like "$out" 'Exit codes' "--help documents the exit codes"
"$TFLOCK" --no-such-option >/dev/null 2>"$TEST_TMP/err"
is 64 $? "an unknown option exits 64"
like "$(cat "$TEST_TMP/err")" "^tflock: " "the error names tflock"

# Values S3 would refuse are usage errors (64, one line naming the value and where
# it came from) before any request, whether they come from a flag, a TFLOCK_*
# variable or the backend `terraform init` set up. A stub stands for the store:
# a request reaching it means the value got through.
stub_http cli
export AWS_ACCESS_KEY_ID=AKIDCLI AWS_SECRET_ACCESS_KEY=cli-secret
refused() { # DESC PATTERN ARGS... — tflock ARGS exits 64 with one line matching PATTERN
	local desc=$1 pat=$2
	shift 2
	"$TFLOCK" "$@" >/dev/null 2>"$TEST_TMP/err"
	is "64 1" "$? $(wc -l <"$TEST_TMP/err")" "$desc: exit 64, one line"
	like "$(cat "$TEST_TMP/err")" "^tflock: $pat" "$desc: the message"
}
ep=(--endpoint "$STUB_URL")
refused "region with spaces" "--region: region 'us east 1' is not a region name" \
	status "${ep[@]}" --bucket b-cli --key k --region 'us east 1'
TFLOCK_REGION=../x refused "region ../x from TFLOCK_REGION" \
	"TFLOCK_REGION: region '\.\./x' is not a region name" status "${ep[@]}" --bucket b-cli --key k
AWS_REGION='eu/west' refused "region from AWS_REGION" "region \(environment \(AWS_\*\)\): region 'eu/west'" \
	status "${ep[@]}" --bucket b-cli --key k
for port in 99999 0 abc '' 65536 -1; do
	refused "endpoint port '$port'" "--endpoint: endpoint 'http://127\.0\.0\.1:$port': port '$port' is not a number in 1\.\.65535" \
		status --endpoint "http://127.0.0.1:$port" --bucket b-cli --key k
done
TFLOCK_ENDPOINT='http://[::1]:x/' refused "IPv6 endpoint port from TFLOCK_ENDPOINT" \
	"TFLOCK_ENDPOINT: endpoint 'http://\[::1\]:x/': port 'x'" --bucket b-cli --key k -- true
long=$(head -c 64 /dev/zero | tr '\0' b)
for b in a/b ABC Bucket ab "$long" -ab ab- a..b 192.168.1.2 b_c 'a b'; do
	refused "bucket '$b'" "--bucket: bucket '$b'" status "${ep[@]}" --bucket "$b" --key k
done
TFLOCK_BUCKET=Upper refused "bucket from TFLOCK_BUCKET" "TFLOCK_BUCKET: bucket 'Upper' has 'U'" \
	unlock --force "${ep[@]}" --key k
mkdir -p "$TEST_TMP/tf/.terraform"
cat >"$TEST_TMP/tf/.terraform/terraform.tfstate" <<JSON
{"version": 3, "backend": {"type": "s3", "config": {"bucket": "acme_state",
 "key": "k", "region": "eu west", "use_lockfile": true, "endpoints": {"s3": "$STUB_URL"}}}}
JSON
cd "$TEST_TMP/tf" || bail "cannot cd to $TEST_TMP/tf"
refused "bucket from the backend" "bucket \(terraform backend\): bucket 'acme_state' has '_'" status
refused "region from the backend" "region \(terraform backend\): region 'eu west'" \
	status --bucket acme-state
cd - >/dev/null || bail "cannot cd back"
is "" "$(stub_requests)" "none of them sent a request"

# names S3-compatible stores really use get through: dots, digits, custom regions
for b in my.bucket.name 123 a-b.c-d tf-state-01; do
	"$TFLOCK" status "${ep[@]}" --bucket "$b" --key k >/dev/null 2>&1
	ok "bucket '$b' is accepted (exit $?)" stub_requests_has "GET /$b/k.tflock"
done
for r in default garage us-east-1 us-gov-west-1 eu-test-1 US-EAST-1; do
	"$TFLOCK" status "${ep[@]}" --bucket b-cli --key "r/$r" --region "$r" >/dev/null 2>&1
	ok "region '$r' is accepted" stub_requests_has "GET /b-cli/r/$r.tflock"
done
"$TFLOCK" status --endpoint "$STUB_URL/" --bucket b-cli --key port >/dev/null 2>&1
ok "an endpoint with a valid port and a trailing / is accepted" stub_requests_has "GET /b-cli/port.tflock"
done_testing
