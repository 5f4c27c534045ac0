#!/bin/bash
# `tflock release`, the cleanup step for `if: always()` and `after_script`:
# releases a lock this job left behind only when its holder is provably gone
# (same boot and its pid dead, or the same CI job) — never a live holder's,
# never another job's, never a plain Terraform lock.
. "$top_srcdir/tests/integration/lib.sh"
plan_lazy
rgw_require
bucket=$(new_bucket)
tflock_env "$bucket"
export TFLOCK_KEY=rel/terraform.tfstate
lockst() { s3_status GET "/$bucket/$TFLOCK_KEY.tflock"; }

"$TFLOCK" release 2>"$TEST_TMP/e"
is 0 $? "a free lock: nothing to do, exit 0"
like "$(cat "$TEST_TMP/e")" "free" "and says so"

# a live holder on this machine is never released
"$TFLOCK" -- "$TESTCHILD" --log "$TEST_TMP/h.log" touch="$TEST_TMP/h.run" wait-file="$TEST_TMP/h.go" 2>/dev/null &
h=$!
wait_for "holder" 20 test -e "$TEST_TMP/h.run"
body=$(lock_body "$bucket" "$TFLOCK_KEY")
"$TFLOCK" release 2>"$TEST_TMP/e"
is 75 $? "a live holder on this machine: refused (75)"
is "$(printf '%s' "$body" | cut -c1-46)" "$(lock_body "$bucket" "$TFLOCK_KEY" | cut -c1-46)" "its lock (same ID) is untouched"
# once that holder is SIGKILLed, its lock is provably left behind
kill -KILL "$h"
wait "$h" 2>/dev/null
"$TFLOCK" release 2>"$TEST_TMP/e"
is 0 $? "the holder was killed: release exits 0"
like "$(cat "$TEST_TMP/e")" "released .*process is gone" "saying why it was safe"
is 404 "$(lockst)" "the lock is gone"

# left by the same CI job on another machine: released; another job's: kept
plant() {
	printf '{"ID":"%s","Operation":"OperationTypeApply","Info":"","Who":"ci@runner","Version":"tflock-0","Created":"2026-01-02T03:04:05Z","Path":"%s/%s","Tflock":{"v":1,"lease":120,"seq":3,"pid":12345,"host":"elsewhere","boot":"00000000-0000-0000-0000-000000000000","ci":"https://ci.example/jobs/%s","job":"%s"}}' \
		"$1" "$bucket" "$TFLOCK_KEY" "$2" "$2" >"$TEST_TMP/body"
	S3_BODY_FILE=$TEST_TMP/body s3_status PUT "/$bucket/$TFLOCK_KEY.tflock" >/dev/null
}
plant 11111111-1111-1111-1111-111111111111 77
GITLAB_CI=true CI_JOB_ID=78 "$TFLOCK" release 2>"$TEST_TMP/e"
is 0 $? "another CI job's lock: exit 0, not ours"
is 200 "$(lockst)" "and it is kept"
GITLAB_CI=true CI_JOB_ID=77 "$TFLOCK" release 2>"$TEST_TMP/e"
is 0 $? "this CI job's leftover lock: released"
like "$(cat "$TEST_TMP/e")" "this CI job" "saying why"
is 404 "$(lockst)" "the lock is gone"

# a plain Terraform lock is never released by the cleanup
"$TF_LOCKCLIENT" lock "$bucket" "$TFLOCK_KEY" >/dev/null 2>&1
GITLAB_CI=true CI_JOB_ID=77 "$TFLOCK" release 2>"$TEST_TMP/e"
is 0 $? "a plain Terraform lock: exit 0"
is 200 "$(lockst)" "and it is kept"
done_testing
