#!/bin/bash
# A bucket in another region than the one tflock signs for: AWS answers 301
# PermanentRedirect with an x-amz-bucket-region header (a HEAD gets the header
# alone), or 400 AuthorizationHeaderMalformed naming the expected region.
# tflock must say which region to pass, in one line, and exit 69 (the store is
# unusable) without following or retrying. The local RADOS Gateway cannot show
# this (it serves every bucket at one endpoint, whatever the region), so a fake
# server with canned answers (tests/helpers/stub-http) stands in for the store.
. "$top_srcdir/tests/integration/lib.sh"
plan_lazy
[ -x "$STUB_HTTP" ] || skip_all "$STUB_HTTP is not built"

unset AWS_REGION AWS_DEFAULT_REGION TFLOCK_REGION NO_PROXY no_proxy
export AWS_ACCESS_KEY_ID=AKIDTFLOCKREGIONTEST AWS_SECRET_ACCESS_KEY=tflock/region/test/secret
export TFLOCK_BUCKET=tfl-bucket TFLOCK_KEY=k/terraform.tfstate
B=tfl-bucket

cat >"$TEST_TMP/redirect.xml" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>PermanentRedirect</Code><Message>The bucket you are attempting to access must be addressed using the specified endpoint. Please send all future requests to this endpoint.</Message><Endpoint>tfl-bucket.s3.eu-west-2.amazonaws.com</Endpoint><Bucket>tfl-bucket</Bucket><RequestId>4R9TVPZQ2S6XKJ1B</RequestId><HostId>aGVsbG8=</HostId></Error>
EOF
cat >"$TEST_TMP/malformed.xml" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>AuthorizationHeaderMalformed</Code><Message>The authorization header is malformed; the region 'us-east-1' is wrong; expecting 'eu-west-2'</Message><Region>eu-west-2</Region><RequestId>7Q1MZD8WJ3K2N5CE</RequestId><HostId>d29ybGQ=</HostId></Error>
EOF
redirect_detail="301 PermanentRedirect: The bucket you are attempting to access must be addressed using the specified endpoint. Please send all future requests to this endpoint., endpoint tfl-bucket.s3.eu-west-2.amazonaws.com, request id 4R9TVPZQ2S6XKJ1B"

# status_err NAME ARGS...: `tflock status` against the stub; stderr in $TEST_TMP/NAME.err
status_run() {
	local name=$1
	shift
	"$TFLOCK" status --endpoint "$STUB_URL" "$@" 2>"$TEST_TMP/$name.err"
}

# --- 301 PermanentRedirect, with the region header and the XML body
stub_http redirect "* / 301 $TEST_TMP/redirect.xml
  x-amz-bucket-region: eu-west-2
  Content-Type: application/xml"
status_run redirect
is 69 $? "301 PermanentRedirect: exit 69 (store unusable)"
is "tflock: bucket '$B' is in region eu-west-2, not us-east-1: pass --region eu-west-2 (the bucket is in another region, eu-west-2 ($redirect_detail))" \
	"$(cat "$TEST_TMP/redirect.err")" "301 PermanentRedirect: one line naming the region to pass"
is "GET /$B/k/terraform.tfstate.tflock" "$(stub_requests)" "301: one request, not followed, not retried"

"$TFLOCK" --endpoint "$STUB_URL" -- "$TESTCHILD" --log "$TEST_TMP/run.log" exit=0 2>"$TEST_TMP/run.err"
is 69 $? "a run against the wrong region: exit 69"
like "$(cat "$TEST_TMP/run.err")" \
	"^tflock: store self-test: creating k/terraform\.tfstate\.[0-9a-f]{8}\.selftest\.tflock failed: bucket '$B' is in region eu-west-2, not us-east-1: pass --region eu-west-2 \(" \
	"a run: the same message, from the first request (the store self-test)"
is 1 "$(wc -l <"$TEST_TMP/run.err")" "a run: one line"
ok_not "a run: the command never ran" test -e "$TEST_TMP/run.log"

# --- the header alone (what a HEAD gets)
stub_http header "* / 301 -
  x-amz-bucket-region: eu-west-2"
status_run header
is 69 $? "301 with only x-amz-bucket-region: exit 69"
is "tflock: bucket '$B' is in region eu-west-2, not us-east-1: pass --region eu-west-2 (HTTP 301 Moved Permanently (region eu-west-2))" \
	"$(cat "$TEST_TMP/header.err")" "301 with only the header: the region comes from the header"

# --- 400 AuthorizationHeaderMalformed naming the expected region
stub_http malformed "* / 400 $TEST_TMP/malformed.xml
  Content-Type: application/xml"
status_run malformed --region us-east-1
is 69 $? "400 AuthorizationHeaderMalformed: exit 69"
is "tflock: bucket '$B' is in region eu-west-2, not us-east-1: pass --region eu-west-2 (the request was signed for the wrong region (400 AuthorizationHeaderMalformed: The authorization header is malformed; the region 'us-east-1' is wrong; expecting 'eu-west-2', region eu-west-2, request id 7Q1MZD8WJ3K2N5CE))" \
	"$(cat "$TEST_TMP/malformed.err")" "400 AuthorizationHeaderMalformed: one line naming the region to pass"
like "$(stub_requests)" "^GET /$B/k/terraform.tfstate.tflock$" "400: one request, not retried"
like "$(grep -i '^authorization:' "$STUB_LOG")" '/us-east-1/s3/aws4_request' "... and it was signed for us-east-1"

# --- the region is right, the endpoint is not: do not tell the user to pass it again
stub_http endpoint "* / 301 -
  x-amz-bucket-region: eu-west-2"
status_run endpoint --region eu-west-2
is 69 $? "301 naming the configured region: exit 69"
is "tflock: bucket '$B' is in region eu-west-2 as configured, but $STUB_URL does not serve that region: check --endpoint (HTTP 301 Moved Permanently (region eu-west-2))" \
	"$(cat "$TEST_TMP/endpoint.err")" "301 naming the configured region: points at the endpoint, not at --region"

# --- a 301 that names no region
stub_http noregion "* / 301 -"
status_run noregion
is 69 $? "301 without any region: exit 69"
is "tflock: bucket '$B' is not in region us-east-1 (HTTP 301 Moved Permanently)" \
	"$(cat "$TEST_TMP/noregion.err")" "301 without any region: says the region is wrong"
done_testing
