#!/bin/bash
# tflock doctor against the real gateway: a good bucket, a versioned bucket (the
# self-test fails: this store then ignores conditional writes), a missing bucket,
# wrong credentials; the caller identity from a stand-in STS. APIs the gateway does not answer are UNKNOWN, never PASS.
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
# lifecycle: a rule filtered by a lock tag (--lock-tags) that expires noncurrent versions
lc=$(new_bucket lc)
printf '%s' '<LifecycleConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Rule><ID>state</ID><Filter><Prefix>state/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>30</Days></Expiration></Rule><Rule><ID>lock-versions</ID><Filter><Tag><Key>expire</Key><Value>lock</Value></Tag></Filter><Status>Enabled</Status><NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays></NoncurrentVersionExpiration></Rule></LifecycleConfiguration>' >"$TEST_TMP/lc.xml"
is 200 "$(S3_BODY_FILE=$TEST_TMP/lc.xml s3_status PUT "/$lc?lifecycle=")" "a lifecycle configuration is set on a fresh bucket"
TFLOCK_BUCKET=$lc "$TFLOCK" doctor --lock-tags 'team=infra,expire=lock' >"$TEST_TMP/lc1" 2>&1
like "$(cat "$TEST_TMP/lc1")" "PASS +lifecycle: a rule filtered by the lock tag expire=lock expires noncurrent versions" \
	"doctor finds the rule filtered by one of the lock tags"
TFLOCK_BUCKET=$lc "$TFLOCK" doctor --lock-tags 'expire=state' >"$TEST_TMP/lc2" 2>&1
like "$(cat "$TEST_TMP/lc2")" "PASS +lifecycle: expires noncurrent versions" "another tag value: no tagged rule, plain finding"
"$TFLOCK" doctor --lock-tags 'expire' >"$TEST_TMP/lc3" 2>&1
is 64 $? "doctor checks --lock-tags like a run: 64 for a bad list"

# identity: STS GetCallerIdentity. The gateway has no such API, so a loopback
# stand-in STS (tests/helpers/stub-http) answers: first the identity, then a refusal.
cat >"$TEST_TMP/gci.xml" <<'EOF'
<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/ci-runner</Arn><UserId>AIDAEXAMPLEUSERID</UserId><Account>123456789012</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></GetCallerIdentityResponse>
EOF
cat >"$TEST_TMP/invalid.xml" <<'EOF'
<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>InvalidAction</Code><Message>Could not find operation GetCallerIdentity</Message></Error><RequestId>r-3</RequestId></ErrorResponse>
EOF
cat >"$TEST_TMP/denied.xml" <<'EOF'
<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code><Message>The security token included in the request is invalid.</Message></Error><RequestId>r-2</RequestId></ErrorResponse>
EOF
"$top_builddir/tests/helpers/stub-http" --port-file "$TEST_TMP/sts.port" --log "$TEST_TMP/sts.log" --idle 120 \
	"POST / 200 $TEST_TMP/gci.xml" "POST / 403 $TEST_TMP/denied.xml" "POST / 400 $TEST_TMP/invalid.xml" \
	2>"$TEST_TMP/sts.err" &
wait_for "stand-in STS" 20 test -s "$TEST_TMP/sts.port" || bail "stub-http did not start"
sts=http://127.0.0.1:$(cat "$TEST_TMP/sts.port")
AWS_ENDPOINT_URL_STS=$sts "$TFLOCK" doctor >"$TEST_TMP/id" 2>&1
is 0 $? "identity known: exit 0"
like "$(cat "$TEST_TMP/id")" "PASS +identity: arn:aws:iam::123456789012:user/ci-runner \\(account 123456789012\\)" \
	"the identity line names the ARN and the account"
like "$(grep -a -m1 '^=== ' "$TEST_TMP/sts.log")" "^=== 1 POST /" "the STS was asked with a POST"
like "$(cat "$TEST_TMP/sts.log")" "Action=GetCallerIdentity&Version=2011-06-15" "for GetCallerIdentity"
like "$(grep -a -i '^authorization:' "$TEST_TMP/sts.log" | head -n 1)" \
	"Credential=$AWS_ACCESS_KEY_ID/[0-9]{8}/[a-z0-9-]+/sts/aws4_request" \
	"signed for the sts service with the doctor's credentials"
AWS_ENDPOINT_URL_STS=$sts "$TFLOCK" doctor >"$TEST_TMP/id2" 2>&1
is 69 $? "STS refuses the credentials: exit 69"
like "$(cat "$TEST_TMP/id2")" "FAIL +identity: .*InvalidClientTokenId.*STS refuses these credentials" \
	"the identity check fails with STS's code and the fix"
AWS_ENDPOINT_URL_STS=$sts "$TFLOCK" doctor >"$TEST_TMP/id4" 2>&1
is 0 $? "an STS without GetCallerIdentity (400 InvalidAction): not a failure"
like "$(cat "$TEST_TMP/id4")" "UNKNOWN identity: .*InvalidAction" "the identity is UNKNOWN, naming STS's answer"
env -u AWS_ENDPOINT_URL_STS -u AWS_ENDPOINT_URL "$TFLOCK" doctor >"$TEST_TMP/id3" 2>&1
like "$(cat "$TEST_TMP/id3")" "UNKNOWN identity: not on AWS and no STS endpoint" "no STS to ask: UNKNOWN, not PASS"
like "$(cat "$TEST_TMP/good")" "UNKNOWN identity: .*cannot connect" "an STS that does not answer: UNKNOWN"

env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY "$TFLOCK" doctor >"$TEST_TMP/none" 2>&1
is 69 $? "no credentials at all: exit 69"
like "$(cat "$TEST_TMP/none")" "FAIL +credentials:" "the credentials check fails, naming the sources tried"
done_testing
