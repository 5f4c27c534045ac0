#!/bin/bash
# `tflock release`, the cleanup step for `if: always()` and `after_script`:
# releases a lock this job left behind only when its holder is provably gone
# (PROTOCOL B8: same boot, same PID namespace and its pid dead (ESRCH), or the
# same CI job) — never a live holder's, never another job's, never a plain
# Terraform lock. A live holder seen from another PID namespace, a live holder
# of another user (EPERM) and another leg of a GitHub matrix are kept.
. "$top_srcdir/tests/integration/lib.sh"
plan_lazy
rgw_require
bucket=$(new_bucket)
tflock_env "$bucket"
export TFLOCK_KEY=rel/terraform.tfstate
# the CI this test may run under must not lend its own identity to tflock
unset GITHUB_ACTIONS GITLAB_CI CI_JOB_ID RUNNER_NAME GITHUB_RUN_ID GITHUB_RUN_ATTEMPT GITHUB_JOB
lockst() { s3_status GET "/$bucket/$TFLOCK_KEY.tflock"; }
lock_id() { lock_body "$bucket" "$TFLOCK_KEY" | sed -n 's/^{"ID":"\([^"]*\)".*/\1/p'; }

# holder NAME [VAR=VALUE...] — a tflock (with those variables) holding the lock
# around a child that waits for $TEST_TMP/NAME.go; its pid in $HOLDER
holder() {
	local name=$1
	shift
	env "$@" "$TFLOCK" -- "$TESTCHILD" --log "$TEST_TMP/$name.log" touch="$TEST_TMP/$name.run" \
		wait-file="$TEST_TMP/$name.go" 2>"$TEST_TMP/$name.err" &
	HOLDER=$!
	wait_for "holder $name" 20 test -e "$TEST_TMP/$name.run" || {
		kill -KILL "$HOLDER"
		bail "holder $name did not take the lock: $(tail -n 1 "$TEST_TMP/$name.err")"
	}
}
holder_gone() { ! kill -0 "$HOLDER" 2>/dev/null || [ "$(ps -o stat= -p "$HOLDER")" = Z ]; }
# finish NAME — let holder NAME's child end; the holder releases and exits
finish() {
	touch "$TEST_TMP/$1.go"
	wait_for "holder $1 to end" 20 holder_gone || kill -KILL "$HOLDER"
	wait "$HOLDER" 2>/dev/null
}

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
if [ -x "$TFCOMPAT" ]; then
	"$TF_LOCKCLIENT" lock "$bucket" "$TFLOCK_KEY" >/dev/null 2>&1
	GITLAB_CI=true CI_JOB_ID=77 "$TFLOCK" release 2>"$TEST_TMP/e"
	is 0 $? "a plain Terraform lock: exit 0"
	is 200 "$(lockst)" "and it is kept"
	s3_status DELETE "/$bucket/$TFLOCK_KEY.tflock" >/dev/null
else
	for _ in 1 2; do skip "no Go toolchain: tfcompat is not built, no plain Terraform lock to plant"; done
fi

# PID namespaces: containers on one host share the boot id, but a pid seen from
# another PID namespace is another process (or none). A cleanup run in a
# container must not take the live holder for dead.
if unshare -p -f --mount-proc true 2>/dev/null; then
	holder ns
	id=$(lock_id)
	[ -n "$id" ] || bail "cannot read the lock ID"
	unshare -p -f --mount-proc "$TFLOCK" release 2>"$TEST_TMP/e"
	is 0 $? "a live holder seen from another PID namespace: exit 0, not ours to judge"
	like "$(cat "$TEST_TMP/e")" "another PID namespace" "saying why"
	is "$id" "$(lock_id)" "its live lock is kept (same ID)"
	finish ns
	is 404 "$(lockst)" "the holder released it itself"
else
	for i in 1 2 3 4; do
		skip "unshare -p -f --mount-proc is not permitted here (needs CAP_SYS_ADMIN)"
	done
fi

# a live holder of another user: kill(pid, 0) fails with EPERM, which means
# the process exists
if [ "$(id -u)" = 0 ] && setpriv --reuid=nobody --regid=nogroup --clear-groups true 2>/dev/null; then
	holder uid
	id=$(lock_id)
	[ -n "$id" ] || bail "cannot read the lock ID"
	setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME=/nonexistent \
		"$TFLOCK" release 2>"$TEST_TMP/e"
	is 75 $? "a live holder of another user (EPERM): refused (75)"
	like "$(cat "$TEST_TMP/e")" "live tflock on this machine" "saying why"
	is "$id" "$(lock_id)" "its live lock is kept (same ID)"
	finish uid
	is 404 "$(lockst)" "the holder released it itself"
else
	for i in 1 2 3 4; do
		skip "cannot run tflock release as another user here (needs root and setpriv)"
	done
fi

# Two legs of one GitHub matrix job share run id, attempt and job name; only
# the runner tells them apart. Leg A holds the lock on its own runner machine
# (its body, as this tflock writes it, planted with another machine's boot id);
# leg B's cleanup must leave it, leg A's own cleanup releases it.
gh=(GITHUB_ACTIONS=true GITHUB_REPOSITORY=o/r GITHUB_RUN_ID=4711 GITHUB_RUN_ATTEMPT=1
	GITHUB_JOB=plan)
holder leg-a "${gh[@]}" RUNNER_NAME=runner-a
legbody=$(lock_body "$bucket" "$TFLOCK_KEY")
finish leg-a
printf '%s' "$legbody" |
	sed 's/"boot":"[^"]*"/"boot":"00000000-0000-0000-0000-000000000000"/' >"$TEST_TMP/body"
S3_BODY_FILE=$TEST_TMP/body s3_status PUT "/$bucket/$TFLOCK_KEY.tflock" >/dev/null
id=$(lock_id)
ok "leg A's lock planted" test -n "$id"
env "${gh[@]}" RUNNER_NAME=runner-b "$TFLOCK" release 2>"$TEST_TMP/e"
is 0 $? "matrix leg B's cleanup: exit 0"
is "$id" "$(lock_id)" "leg A's lock is kept"
like "$(cat "$TEST_TMP/e")" "not provably gone" "saying why"
env "${gh[@]}" RUNNER_NAME=runner-a "$TFLOCK" release 2>"$TEST_TMP/e"
is 0 $? "matrix leg A's own cleanup: exit 0"
like "$(cat "$TEST_TMP/e")" "released .*this CI job" "released as this job's"
is 404 "$(lockst)" "the lock is gone"

# The same legs as containers on one host: leg A's live holder here, both
# cleanups in other PID namespaces, so only the job identity can decide.
if unshare -p -f --mount-proc true 2>/dev/null; then
	holder leg-a2 "${gh[@]}" RUNNER_NAME=runner-a
	h=$HOLDER
	id=$(lock_id)
	[ -n "$id" ] || bail "cannot read the lock ID"
	env "${gh[@]}" RUNNER_NAME=runner-b unshare -p -f --mount-proc "$TFLOCK" release 2>"$TEST_TMP/e"
	is 0 $? "leg B's cleanup in its container, leg A alive: exit 0"
	is "$id" "$(lock_id)" "leg A's live lock is kept"
	kill -KILL "$h"
	wait "$h" 2>/dev/null
	env "${gh[@]}" RUNNER_NAME=runner-b unshare -p -f --mount-proc "$TFLOCK" release 2>"$TEST_TMP/e"
	is "$id" "$(lock_id)" "leg A's killed holder's lock: still not leg B's to release"
	env "${gh[@]}" RUNNER_NAME=runner-a unshare -p -f --mount-proc "$TFLOCK" release 2>"$TEST_TMP/e"
	is 0 $? "leg A's cleanup in its container: exit 0"
	like "$(cat "$TEST_TMP/e")" "released .*this CI job" "released as this job's"
	is 404 "$(lockst)" "the lock is gone"
else
	for i in 1 2 3 4 5 6; do
		skip "unshare -p -f --mount-proc is not permitted here (needs CAP_SYS_ADMIN)"
	done
fi
done_testing
