#!/bin/bash
# The local RADOS Gateway answers signed requests and enforces If-None-Match: *,
# the store behaviour everything else relies on (PROTOCOL.md A4).
. "$top_srcdir/tests/integration/lib.sh"
plan_lazy
rgw_require

bucket=$(new_bucket)
ok "bucket created" test -n "$bucket"
printf '{"ID":"x"}' >"$TEST_TMP/body"
export S3_BODY_FILE=$TEST_TMP/body
is 200 "$(s3_status PUT "/$bucket/state.tflock" -H 'If-None-Match: *')" "first conditional PUT creates the lock"
out=$(s3 PUT "/$bucket/state.tflock" -H 'If-None-Match: *')
is 412 "$(printf '%s' "$out" | tail -n 1)" "second conditional PUT gets 412"
like "$out" '<Code>PreconditionFailed</Code>' "412 carries the PreconditionFailed code"
unset S3_BODY_FILE
is '{"ID":"x"}200' "$(s3 GET "/$bucket/state.tflock" | tr -d '\n')" "the first writer's body is kept"
is 204 "$(s3_status DELETE "/$bucket/state.tflock")" "delete the lock"
is 404 "$(s3_status GET "/$bucket/state.tflock")" "gone after delete"
is 403 "$(TFLOCK_TEST_SECRET_KEY=wrong s3_status GET "/$bucket/state.tflock")" "a wrong secret is refused"
done_testing
