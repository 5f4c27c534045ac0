#!/bin/bash
# tflock doctor against the real gateway: a good bucket, a versioned bucket (the
# self-test fails: this store then ignores conditional writes), a missing bucket,
# wrong credentials. APIs the gateway does not answer are UNKNOWN, never PASS.
. "$top_srcdir/tests/integration/lib.sh"
plan_lazy
rgw_require
good=$(new_bucket good)
tflock_env "$good"
export TFLOCK_KEY=doc/terraform.tfstate

"$TFLOCK" doctor >"$TEST_TMP/good" 2>&1
is 0 $? "a good bucket: exit 0"
like "$(cat "$TEST_TMP/good")" "PASS +credentials: from environment" "credentials pass, naming the source"
like "$(cat "$TEST_TMP/good")" "PASS +store self-test: .*unquoted ETag.*conditional DELETE ignored" "the self-test says what it learned"
like "$(cat "$TEST_TMP/good")" "UNKNOWN default encryption: the store does not answer" "an API the store lacks is UNKNOWN, not PASS"
like "$(cat "$TEST_TMP/good")" "PASS +clock:" "clock skew checked against the store's Date"
ok "no FAIL lines" bash -c "! grep -q '^FAIL' '$TEST_TMP/good'"
is 404 "$(s3_status GET "/$good/$TFLOCK_KEY.tflock")" "doctor left no lock behind"

v=$(new_bucket versioned)
printf '<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></VersioningConfiguration>' >"$TEST_TMP/v.xml"
S3_BODY_FILE=$TEST_TMP/v.xml s3_status PUT "/$v?versioning=" >/dev/null
TFLOCK_BUCKET=$v "$TFLOCK" doctor >"$TEST_TMP/ver" 2>&1
is 69 $? "a versioned bucket on this store: exit 69"
like "$(cat "$TEST_TMP/ver")" "FAIL +store self-test: store does not enforce If-None-Match" "the self-test fails, naming why"
like "$(cat "$TEST_TMP/ver")" "FAIL +versioning: enabled, and this store then ignores conditional writes" "versioning is named as the cause"

TFLOCK_BUCKET=no-such-bucket-$$ "$TFLOCK" doctor >"$TEST_TMP/miss" 2>&1
is 69 $? "a missing bucket: exit 69"
like "$(cat "$TEST_TMP/miss")" "FAIL +bucket: .*404" "the bucket check fails"

AWS_SECRET_ACCESS_KEY=wrong "$TFLOCK" doctor >"$TEST_TMP/cred" 2>&1
is 69 $? "wrong credentials: exit 69"
like "$(cat "$TEST_TMP/cred")" "FAIL +bucket: .*SignatureDoesNotMatch" "reported as a signature mismatch"
env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY "$TFLOCK" doctor >"$TEST_TMP/none" 2>&1
is 69 $? "no credentials at all: exit 69"
like "$(cat "$TEST_TMP/none")" "FAIL +credentials:" "the credentials check fails, naming the sources tried"
done_testing
