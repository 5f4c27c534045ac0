#!/bin/bash
# A store that does not enforce conditional writes gives no mutual exclusion:
# a versioned bucket on Ceph RGW 16 accepts every If-None-Match: * PUT
# (PROTOCOL A4). The store self-test must refuse it with exit 69 and say why.
. "$top_srcdir/tests/integration/lib.sh"
plan_lazy
rgw_require
bucket=$(new_bucket versioned)
printf '<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></VersioningConfiguration>' >"$TEST_TMP/v.xml"
is 200 "$(S3_BODY_FILE=$TEST_TMP/v.xml s3_status PUT "/$bucket?versioning=")" "versioning enabled on the bucket"
printf x >"$TEST_TMP/x"
S3_BODY_FILE=$TEST_TMP/x s3_status PUT "/$bucket/probe" -H 'If-None-Match: *' >/dev/null
is 200 "$(S3_BODY_FILE=$TEST_TMP/x s3_status PUT "/$bucket/probe" -H 'If-None-Match: *')" \
	"this store really accepts a second If-None-Match: * create (the fact the test rests on)"
tflock_env "$bucket"
export TFLOCK_KEY=app/terraform.tfstate
"$TFLOCK" -- touch "$TEST_TMP/ran" 2>"$TEST_TMP/err"
is 69 $? "tflock refuses the store with exit 69"
like "$(cat "$TEST_TMP/err")" "does not enforce If-None-Match" "naming the cause"
ok "the command did not run" test ! -e "$TEST_TMP/ran"
is 404 "$(s3_status GET "/$bucket/$TFLOCK_KEY.tflock")" "no lock object was written"

# wrong credentials and a missing bucket are store errors too (69), no retry
good=$(new_bucket good)
tflock_env "$good"
AWS_SECRET_ACCESS_KEY=wrong "$TFLOCK" -- true 2>"$TEST_TMP/err"
is 69 $? "a wrong secret key exits 69"
like "$(cat "$TEST_TMP/err")" "SignatureDoesNotMatch" "reported as SignatureDoesNotMatch"
AWS_ACCESS_KEY_ID=NOSUCHKEY0000000000 "$TFLOCK" -- true 2>"$TEST_TMP/err"
is 69 $? "an unknown access key exits 69"
TFLOCK_BUCKET=no-such-bucket-$$ "$TFLOCK" -- true 2>"$TEST_TMP/err"
is 69 $? "a missing bucket exits 69"
like "$(cat "$TEST_TMP/err")" "does not exist" "saying the bucket does not exist"
TFLOCK_ENDPOINT=http://127.0.0.1:9 "$TFLOCK" -- true 2>"$TEST_TMP/err"
is 69 $? "an unreachable endpoint exits 69"
like "$(cat "$TEST_TMP/err")" "cannot connect" "saying it cannot connect"
done_testing
