#!/bin/bash
# A tflock run by the command of another tflock, naming a lock of its own, uses
# the outer run's store (TFLOCK_HELD_S3_ENDPOINT, _REGION, _PATH_STYLE: the outer
# removes the TFLOCK_* option variables from its command's environment) unless it
# is told otherwise by a flag, a TFLOCK_* variable or its backend. It never falls
# back to AWS_ENDPOINT_URL or AWS's default endpoint behind the user's back. The
# test environment points AWS_ENDPOINT_URL at a closed loopback port: a nested
# run that fell back to it fails to connect.
. "$top_srcdir/tests/integration/lib.sh"
plan_lazy
rgw_require
bucket=$(new_bucket)
tflock_env "$bucket"
export TFLOCK_KEY=outer/terraform.tfstate
export B=$bucket TFLOCK TEST_TMP
ok "AWS_ENDPOINT_URL points at a closed loopback port" \
	test "${AWS_ENDPOINT_URL:-}" = "http://127.0.0.1:9"

# 1. outer → inner (own lock, no endpoint given) → innermost (own lock): all on the gateway
cat >"$TEST_TMP/inner" <<'SH'
#!/bin/bash
# the inner run: names its own lock, says nothing about the store
"$TFLOCK" -v --bucket "$B" --key inner/terraform.tfstate -- "$TEST_TMP/innermost" \
	2>"$TEST_TMP/inner.err"
echo "inner $?" >>"$TEST_TMP/results"
SH
cat >"$TEST_TMP/innermost" <<'SH'
#!/bin/bash
# both locks are held now, as the gateway shows
"$TFLOCK" status --bucket "$B" --key inner/terraform.tfstate >/dev/null 2>&1
echo "inner-held $?" >>"$TEST_TMP/results"
"$TFLOCK" status --bucket "$B" --key outer/terraform.tfstate >/dev/null 2>&1
echo "outer-held $?" >>"$TEST_TMP/results"
# one more level down: the store is passed on again
"$TFLOCK" --bucket "$B" --key third/terraform.tfstate -- true 2>"$TEST_TMP/third.err"
echo "third $?" >>"$TEST_TMP/results"
SH
chmod +x "$TEST_TMP/inner" "$TEST_TMP/innermost"
"$TFLOCK" -- "$TEST_TMP/inner" 2>"$TEST_TMP/outer.err"
is 0 $? "the outer run succeeded"
is "inner-held 75
outer-held 75
third 0
inner 0" "$(cat "$TEST_TMP/results" 2>&1)" \
	"the inner run locked its own key on the outer's store, and so did a third level"
for f in inner.err third.err; do
	grep -q '127\.0\.0\.1:9\b' "$TEST_TMP/$f" && diag "$(cat "$TEST_TMP/$f")"
done
like "$(cat "$TEST_TMP/inner.err")" \
	"setting endpoint = $TFLOCK_TEST_S3_ENDPOINT \\(from the outer tflock, TFLOCK_HELD_\\*\\)" \
	"the inner run says (-v) that the endpoint came from the outer tflock"
for k in outer inner third; do
	is 404 "$(s3_status GET "/$bucket/$k/terraform.tfstate.tflock")" "the $k lock was released"
done

# 2. told otherwise: an explicit endpoint wins over the outer's
stub_http other
nested() { # ENV-ASSIGNMENTS... -- what the outer's command runs
	"$TFLOCK" --key outer/terraform.tfstate -- env "$@"
}
nested "TFLOCK_ENDPOINT=$STUB_URL" "$TFLOCK" status -v --bucket "$B" --key env/terraform.tfstate \
	>/dev/null 2>"$TEST_TMP/env.err"
nested "$TFLOCK" status --endpoint "$STUB_URL" --bucket "$B" --key flag/terraform.tfstate \
	>/dev/null 2>"$TEST_TMP/flag.err"
mkdir -p "$TEST_TMP/tf/.terraform"
cat >"$TEST_TMP/tf/.terraform/terraform.tfstate" <<JSON
{"version": 3, "backend": {"type": "s3", "config": {"bucket": "$bucket",
 "key": "backend/terraform.tfstate", "region": "us-east-1", "use_lockfile": true,
 "endpoints": {"s3": "$STUB_URL"}}}}
JSON
(cd "$TEST_TMP/tf" && nested "$TFLOCK" status >/dev/null 2>"$TEST_TMP/backend.err")
is "GET /$bucket/env/terraform.tfstate.tflock
GET /$bucket/flag/terraform.tfstate.tflock
GET /$bucket/backend/terraform.tfstate.tflock" "$(stub_requests | grep -v '^HEAD')" \
	"a TFLOCK_ENDPOINT, an --endpoint and a backend endpoint each win over the outer's"
ok_not "the one from TFLOCK_ENDPOINT is not taken for the outer's" \
	grep -q 'outer tflock' "$TEST_TMP/env.err"

# 3. region and addressing come with the outer's endpoint, not with another one
"$TFLOCK" --region eu-test-1 --path-style --key outer/terraform.tfstate -- \
	"$TFLOCK" status -v --bucket "$B" --key region/terraform.tfstate >/dev/null 2>"$TEST_TMP/reg.err"
is 0 $? "a nested status with the outer's region and path style reaches the gateway"
like "$(cat "$TEST_TMP/reg.err")" "setting region = eu-test-1 \\(from the outer tflock" \
	"the region came from the outer tflock"
like "$(cat "$TEST_TMP/reg.err")" "setting path-style = 1 \\(from the outer tflock" \
	"and so did path-style addressing"
"$TFLOCK" --region eu-test-1 --path-style --key outer/terraform.tfstate -- \
	"$TFLOCK" status -v --endpoint "$STUB_URL" --bucket "$B" --key r2/terraform.tfstate \
	>/dev/null 2>"$TEST_TMP/reg2.err"
ok_not "a run given its own endpoint does not take the outer's region" \
	grep -q 'eu-test-1' "$TEST_TMP/reg2.err"

# 4. the outer's own endpoint came from AWS_ENDPOINT_URL_S3: passed on all the same
env -u TFLOCK_ENDPOINT AWS_ENDPOINT_URL_S3="$TFLOCK_TEST_S3_ENDPOINT" \
	"$TFLOCK" --key outer/terraform.tfstate -- env -u AWS_ENDPOINT_URL_S3 \
	"$TFLOCK" --bucket "$B" --key aws/terraform.tfstate -- true 2>"$TEST_TMP/aws.err"
is 0 $? "an endpoint the outer took from AWS_ENDPOINT_URL_S3 reaches a nested run that lost it"
is 404 "$(s3_status GET "/$bucket/aws/terraform.tfstate.tflock")" "which released its lock"
done_testing
